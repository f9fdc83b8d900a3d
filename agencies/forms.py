import re

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.validators import MaxValueValidator
from django.utils.translation import gettext_lazy as _

from agencies.models import Agency, FakturoidSettings, Membership
from fakturoid.services import parse_account_slug

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}\Z")

User = get_user_model()


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


class AddMemberForm(forms.Form):
    """Adds an existing user (by user name or e-mail) or creates a new one with a password."""

    username = forms.CharField(label=_("User name or e-mail"), max_length=150)
    role = forms.ChoiceField(label=_("Role"), choices=Membership.Role.choices)
    password = forms.CharField(
        label=_("Password for a new user"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("Only needed when the user does not exist yet."),
    )

    def __init__(self, *args, agency: Agency, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.agency = agency
        self.user = None

    def clean(self) -> dict:
        data = super().clean()
        name = data.get("username", "").strip()
        if not name:
            return data
        self.user = (
            User.objects.filter(username__iexact=name).first()
            or User.objects.filter(email__iexact=name).order_by("pk").first()
        )
        if self.user is None:
            password = data.get("password")
            if not password:
                self.add_error(
                    "password",
                    _("No user %(name)s exists yet: give them a password.") % {"name": name},
                )
            else:
                candidate = User(username=name, email=name if "@" in name else "")
                try:
                    validate_password(password, candidate)
                except forms.ValidationError as error:
                    self.add_error("password", error)
        elif Membership.objects.filter(user=self.user, agency=self.agency).exists():
            self.add_error("username", _("%(name)s is already a member.") % {"name": name})
        return data

    def save(self) -> Membership:
        if self.user is None:
            name = self.cleaned_data["username"].strip()
            self.user = User.objects.create_user(
                username=name,
                email=name if "@" in name else "",
                password=self.cleaned_data["password"],
            )
        return Membership.objects.create(
            user=self.user, agency=self.agency, role=self.cleaned_data["role"]
        )


class MembershipRoleForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ["role"]


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
