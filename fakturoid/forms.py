"""Settings → Fakturoid, and the check of a Fakturoid Client ID typed into the client form."""

import re
from datetime import date
from decimal import Decimal

from django import forms
from django.core.validators import MaxValueValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from agencies.models import Agency, FakturoidSettings
from clients.models import Client, Label
from clients.months import parse_month
from fakturoid.documents import Subject
from fakturoid.errors import FakturoidError, NotFound, explain
from fakturoid.models import Invoice
from fakturoid.services.matching import check_subject

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}\Z")
SLUG_IN_URL = re.compile(r"^(?:https?://)?[^/]*fakturoid\.cz/(?:api/v\d/accounts/)?([^/?#]+)")


def parse_account_slug(value: str) -> str:
    """'mojefirma' or a pasted 'https://app.fakturoid.cz/mojefirma/invoices' → 'mojefirma'."""
    value = value.strip()
    match = SLUG_IN_URL.match(value)
    if match:
        value = match[1]
    return value.strip("/").lower()


def validate_header_safe(value: str) -> None:
    """Fakturoid credentials and the contact e-mail travel in HTTP headers: plain ASCII only.

    Anything else is a bad paste, and could not be sent at all (HTTP headers are Latin-1).
    """
    if not (value.isascii() and value.isprintable()):
        raise forms.ValidationError(
            _(
                "Use only letters, digits and punctuation without diacritics: Fakturoid "
                "receives this value in a request header."
            ),
            code="not_ascii",
        )


class FakturoidSettingsForm(forms.ModelForm):
    """Settings → Fakturoid. The Secret ID is write-only: left blank it keeps the stored one."""

    class Meta:
        model = FakturoidSettings
        fields = [
            "account_slug",
            "due_days",
            "api_client_id",
            "api_client_secret",
            "contact_email",
            "default_period",
        ]
        labels = {
            "account_slug": _("Organisation name"),
            "due_days": _("Payment due date (days)"),
            "api_client_id": _("Client ID"),
            "api_client_secret": _("Secret ID"),
            "contact_email": _("Contact e-mail"),
            "default_period": _("Invoice icon bills"),
        }
        help_texts = {
            "account_slug": _(
                "The name in your Fakturoid address, e.g. mojefirma in "
                "https://app.fakturoid.cz/mojefirma/invoices. You can paste the whole address."
            ),
            "due_days": _("Days from issue to due date on the invoices we create (0–365)."),
            "api_client_id": _("Fakturoid → Settings → User account → API v3 credentials."),
            "contact_email": _(
                "Sent to Fakturoid with every request (they require a contact). "
                "Usually your administrator's e-mail."
            ),
        }
        widgets = {
            "api_client_secret": forms.PasswordInput(render_value=False),
            "account_slug": forms.TextInput(attrs={"autocomplete": "off"}),
            "api_client_id": forms.TextInput(attrs={"autocomplete": "off"}),
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.stored_secret = self.instance.api_client_secret
        self.stored_credentials = self._credentials(vars(self.instance))
        self.fields["account_slug"].required = True
        self.fields["api_client_id"].required = True
        self.fields["due_days"].min_value = 0
        self.fields["due_days"].max_value = 365
        self.fields["due_days"].widget.attrs.update({"min": 0, "max": 365})
        self.fields["due_days"].validators.append(MaxValueValidator(365))
        secret = self.fields["api_client_secret"]
        secret.required = not self.stored_secret
        if self.stored_secret:
            secret.help_text = _("A Secret ID is stored. Leave blank to keep it.")
        else:
            secret.help_text = _("Shown once in Fakturoid next to the Client ID.")

    def clean_account_slug(self) -> str:
        slug = parse_account_slug(self.cleaned_data["account_slug"])
        if not SLUG_RE.match(slug):
            raise forms.ValidationError(
                _(
                    "Use the organisation name from your Fakturoid address (letters, digits, "
                    "dashes), e.g. mojefirma."
                )
            )
        return slug

    def clean_api_client_id(self) -> str:
        client_id = self.cleaned_data["api_client_id"].strip()
        validate_header_safe(client_id)
        return client_id

    def clean_api_client_secret(self) -> str:
        secret = self.cleaned_data["api_client_secret"].strip()
        validate_header_safe(secret)
        return secret or self.stored_secret

    def clean_contact_email(self) -> str:
        email = self.cleaned_data["contact_email"]
        validate_header_safe(email)
        return email

    @property
    def credentials_changed(self) -> bool:
        return self._credentials(self.cleaned_data) != self.stored_credentials

    @staticmethod
    def _credentials(values: dict) -> tuple:
        return tuple(
            values.get(name) for name in ("account_slug", "api_client_id", "api_client_secret")
        )


def validate_subject_id(*, agency: Agency, subject_id: int) -> Subject:
    """The client form's check of a newly typed Fakturoid Client ID: the contact, or a
    ValidationError saying why it cannot be used. Plugged into `clients.forms` by
    `FakturoidConfig.ready()`, since clients does not import fakturoid."""
    try:
        return check_subject(agency=agency, subject_id=subject_id)
    except NotFound as error:
        raise forms.ValidationError(
            _("Fakturoid has no contact with ID %(id)s."),
            code="unknown_subject",
            params={"id": subject_id},
        ) from error
    except FakturoidError as error:
        raise forms.ValidationError(
            _("The Fakturoid Client ID could not be checked: %(error)s"),
            code="unchecked_subject",
            params={"error": explain(error)},
        ) from error


class PaymentForm(forms.Form):
    """A payment of a created invoice: when, how much (blank: the rest), and a thank-you."""

    paid_on = forms.DateField(label=_("Paid on"), widget=forms.DateInput(attrs={"type": "date"}))
    amount = forms.DecimalField(
        label=_("Amount"),
        required=False,
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0.01"),
        help_text=_("Leave empty for the whole remaining amount."),
    )
    thank_you = forms.BooleanField(label=_("E-mail the client a thank-you"), required=False)

    def __init__(self, *args, invoice: Invoice, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.invoice = invoice

    def clean_paid_on(self) -> date:
        paid_on = self.cleaned_data["paid_on"]
        if paid_on > timezone.localdate():
            raise forms.ValidationError(_("The payment date cannot be in the future."))
        return paid_on

    def clean_amount(self) -> Decimal | None:
        amount = self.cleaned_data["amount"]
        remaining = self.invoice.remaining_amount
        if remaining is None:
            remaining = self.invoice.total
        if amount is not None and remaining is not None and amount > remaining:
            raise forms.ValidationError(
                _("The amount is more than the %(remaining)s %(currency)s still to be paid.")
                % {"remaining": remaining, "currency": self.invoice.currency}
            )
        return amount


class InvoiceFilterForm(forms.Form):
    """The filters of the invoices page; every field may be left empty."""

    month = forms.CharField(label=_("Month"), required=False)
    status = forms.ChoiceField(label=_("Status"), required=False)
    client = forms.ModelChoiceField(label=_("Client"), required=False, queryset=None)
    label = forms.ModelChoiceField(label=_("Label"), required=False, queryset=None)

    def __init__(self, *args, agency: Agency, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [("", _("All statuses")), *Invoice.Status.choices]
        self.fields["client"].queryset = Client.objects.for_agency(agency).order_by("name")
        self.fields["client"].empty_label = _("All clients")
        self.fields["label"].queryset = Label.objects.filter(agency=agency).order_by("name")
        self.fields["label"].empty_label = _("All labels")
        self.fields["month"].widget.input_type = "month"

    def clean_month(self) -> date | None:
        value = self.cleaned_data["month"]
        if not value:
            return None
        month = parse_month(value)
        if month is None:
            raise forms.ValidationError(_("Pick a month as YYYY-MM."))
        return month
