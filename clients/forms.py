import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal

from django import forms
from django.db import transaction
from django.db.models import prefetch_related_objects
from django.forms import BaseInlineFormSet, inlineformset_factory
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from agencies.models import Agency
from clients.limits import MAX_CONTACTS, MAX_ITEMS_PER_PROJECT, MAX_PROJECTS
from clients.models import BillingItem, Client, ContactPerson, Label, Project
from clients.months import iso_month, parse_month
from clients.rendering import ROW_RENDERER
from clients.text import visible_text
from clients.validators import normalize_dic, normalize_ico

LABEL_MAX_LENGTH = Label._meta.get_field("name").max_length
SUBJECT_ID_RE = re.compile(r"^(?:\d+|\S*/subjects/(\d+)(?:[/?#]\S*)?)$")

# How a newly typed Fakturoid Client ID is checked: called as check(agency=, subject_id=), it
# returns the contact or raises ValidationError. fakturoid builds on clients, so clients never
# imports it: `FakturoidConfig.ready()` installs `fakturoid.forms.validate_subject_id` here.
SubjectIdCheck = Callable[..., object]
_subject_id_check: SubjectIdCheck | None = None


def set_subject_id_check(check: SubjectIdCheck | None) -> None:
    global _subject_id_check  # noqa: PLW0603 (one plug-in point, set once at start-up)
    _subject_id_check = check


class FakturoidSubjectIdField(forms.CharField):
    """The id of a Fakturoid contact; a pasted contact address (…/subjects/123) is accepted."""

    default_error_messages = {
        "invalid": _(
            "Enter the number from the contact's address in Fakturoid, e.g. 123 from "
            "…/subjects/123."
        ),
    }

    def to_python(self, value: object) -> int | None:
        value = super().to_python(value).strip()
        if not value:
            return None
        match = SUBJECT_ID_RE.match(value)
        if not match:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        number = int(match[1] or value)
        if number <= 0:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return number


class VisibleTextMixin:
    """Every text the form saves loses invisible characters (see `clients.text`): they would
    reach the invoices. A required field left with nothing visible asks for a value."""

    def clean(self) -> dict:
        data = super().clean()
        for name, value in list(data.items()):
            if not isinstance(value, str):
                continue
            data[name] = visible_text(value)
            if value and not data[name] and self.fields[name].required:
                self.add_error(name, self.fields[name].error_messages["required"])
        return data


class ClientForm(VisibleTextMixin, forms.ModelForm):
    """The client's billing details, its labels and its link to a Fakturoid contact."""

    # Declared rather than generated: people type "123 45 678" or "cz 12345678", and the
    # model's max_length must only apply after normalisation.
    registration_no = forms.CharField(label=_("IČO"), max_length=20, required=False)
    vat_no = forms.CharField(label=_("DIČ"), max_length=20, required=False)
    labels_text = forms.CharField(
        label=_("Labels"),
        max_length=500,
        required=False,
        help_text=_("Separated by commas, e.g. PPC, SEO. New labels are created."),
    )
    fakturoid_subject_id = FakturoidSubjectIdField(
        label=_("Fakturoid Client ID"),
        required=False,
        help_text=_(
            "The number in the contact's address in Fakturoid: …/subjects/<id>. "
            "You can paste the whole address."
        ),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )

    class Meta:
        model = Client
        fields = [
            "name",
            "registration_no",
            "vat_no",
            "street",
            "city",
            "zip",
            "country",
            "email",
            "phone",
            "currency",
            "fakturoid_subject_id",
        ]
        help_texts = {
            "country": _("Two-letter code, e.g. CZ or SK."),
            "currency": _("Three-letter code, e.g. CZK or EUR."),
        }

    def __init__(self, *args, agency: Agency, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.agency = agency
        # The Fakturoid contact a newly typed Client ID was checked against (None: not checked).
        self.subject = None
        if self.instance.pk is None:
            self.instance.agency = agency
        else:
            self.fields["labels_text"].initial = ", ".join(
                label.name for label in self.instance.labels.all()
            )

    def clean_registration_no(self) -> str:
        return normalize_ico(self.cleaned_data["registration_no"])

    def clean_vat_no(self) -> str:
        return normalize_dic(self.cleaned_data["vat_no"])

    def clean_country(self) -> str:
        return self.cleaned_data["country"].strip().upper()

    def clean_fakturoid_subject_id(self) -> int | None:
        """A newly typed Client ID must be a contact in the agency's Fakturoid account.

        Checked with one request, and only when the ID changed and Fakturoid is set up;
        without Fakturoid the ID is taken as typed.
        """
        subject_id = self.cleaned_data["fakturoid_subject_id"]
        if (
            subject_id is None
            or subject_id == self.instance.fakturoid_subject_id
            or not self.agency.fakturoid_ready
        ):
            return subject_id
        if _subject_id_check is not None:
            self.subject = _subject_id_check(agency=self.agency, subject_id=subject_id)
        return subject_id

    def clean_currency(self) -> str:
        return self.cleaned_data["currency"].strip().upper()

    def clean_labels_text(self) -> list[str]:
        names: dict[str, str] = {}
        for part in self.cleaned_data["labels_text"].split(","):
            name = " ".join(visible_text(part).split())
            if not name:
                continue
            if len(name) > LABEL_MAX_LENGTH:
                raise forms.ValidationError(
                    _("The label “%(name)s” is too long (at most %(max)d characters)."),
                    params={"name": name, "max": LABEL_MAX_LENGTH},
                )
            names.setdefault(name.casefold(), name)
        return list(names.values())

    def save(self, commit: bool = True) -> Client:
        client = super().save(commit=False)
        if "fakturoid_subject_id" in self.changed_data:
            client.fakturoid_link_source = (
                Client.LinkSource.MANUAL if client.fakturoid_subject_id else ""
            )
        if commit:
            client.save()
            client.labels.set(self._labels())
        return client

    def _labels(self) -> list[Label]:
        """The agency's labels named in the form, creating the missing ones."""
        existing = {label.name.casefold(): label for label in self.agency.labels.all()}
        labels = []
        for name in self.cleaned_data["labels_text"]:
            label = existing.get(name.casefold())
            if label is None:
                label, _created = Label.objects.get_or_create(agency=self.agency, name=name)
            labels.append(label)
        return labels


class ContactPersonForm(VisibleTextMixin, forms.ModelForm):
    class Meta:
        model = ContactPerson
        fields = ["name", "role", "email", "phone"]
        # A person's name, not a company's (Czech tells them apart: Jméno, Název).
        labels = {"name": pgettext_lazy("person", "Name")}


class KnownRowField(forms.ModelChoiceField):
    """The hidden id of a formset row, resolved among the rows the formset already loaded
    instead of with one query per row (Django's default)."""

    def __init__(self, rows: Callable[[], dict], **kwargs) -> None:
        super().__init__(**kwargs)
        self.rows = rows

    def to_python(self, value: object) -> object:
        if value in self.empty_values:
            return None
        try:
            return self.rows()[int(str(value))]
        except (KeyError, ValueError):
            raise forms.ValidationError(
                self.error_messages["invalid_choice"], code="invalid_choice"
            ) from None


class RowsFormSet(BaseInlineFormSet):
    """An inline formset that takes its rows from the parent's prefetched relation when there
    is one, and checks submitted row ids against those rows: a bounded number of queries
    whatever the number of rows."""

    def get_queryset(self) -> list:
        if not hasattr(self, "_rows"):
            relation = self.fk.remote_field.get_accessor_name()
            cache = getattr(self.instance, "_prefetched_objects_cache", {})
            if self.instance.pk is not None and relation in cache:
                self._rows = list(cache[relation])
            else:
                self._rows = list(super().get_queryset())
        return self._rows

    def _existing_object(self, pk: object) -> object:
        return self._rows_by_pk().get(int(str(pk))) if str(pk).isdigit() else None

    def _rows_by_pk(self) -> dict:
        return {row.pk: row for row in self.get_queryset()}

    def add_fields(self, form: forms.ModelForm, index: int | None) -> None:
        super().add_fields(form, index)
        pk_field = form.fields[self._pk_field.name]
        form.fields[self._pk_field.name] = KnownRowField(
            self._rows_by_pk,
            queryset=pk_field.queryset,
            initial=pk_field.initial,
            required=False,
            widget=pk_field.widget,
        )


# No empty rows by default: the page adds them on demand (a new client gets one of each).
ContactFormSet = inlineformset_factory(
    Client,
    ContactPerson,
    form=ContactPersonForm,
    formset=RowsFormSet,
    extra=0,
    can_delete=True,
    max_num=MAX_CONTACTS,
    absolute_max=MAX_CONTACTS,
    validate_max=True,
    renderer=ROW_RENDERER,
)


class MonthInput(forms.DateInput):
    input_type = "month"

    def __init__(self, attrs: dict | None = None) -> None:
        super().__init__(attrs={"placeholder": _("YYYY-MM"), **(attrs or {})}, format="%Y-%m")


class MonthField(forms.Field):
    """A calendar month typed as YYYY-MM (what <input type="month"> sends), as its first day."""

    widget = MonthInput
    default_error_messages = {"invalid": _("Enter a month as YYYY-MM, e.g. 2026-01.")}

    def to_python(self, value: object) -> date | None:
        if isinstance(value, date):
            return value.replace(day=1)
        if value in self.empty_values:
            return None
        month = parse_month(str(value))
        if month is None:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return month

    def prepare_value(self, value: object) -> object:
        return iso_month(value) if isinstance(value, date) else value


class BillingItemForm(VisibleTextMixin, forms.ModelForm):
    first_month = MonthField(label=_("First month"), required=False)
    last_month = MonthField(label=_("Last month"), required=False)
    month = MonthField(label=_("Month"), required=False)

    class Meta:
        model = BillingItem
        fields = ["description", "amount", "vat_rate", "kind", "first_month", "last_month", "month"]
        widgets = {
            "amount": forms.NumberInput(attrs={"step": "0.01", "min": "0.01"}),
            "vat_rate": forms.NumberInput(attrs={"min": "0", "max": "100"}),
        }

    def clean_amount(self) -> Decimal | None:
        amount = self.cleaned_data["amount"]
        if amount is not None and amount <= 0:
            raise forms.ValidationError(_("The amount must be greater than zero."))
        return amount


BillingItemFormSet = inlineformset_factory(
    Project,
    BillingItem,
    form=BillingItemForm,
    formset=RowsFormSet,
    extra=0,
    can_delete=True,
    max_num=MAX_ITEMS_PER_PROJECT,
    absolute_max=MAX_ITEMS_PER_PROJECT,
    validate_max=True,
    renderer=ROW_RENDERER,
)


class ProjectForm(VisibleTextMixin, forms.ModelForm):
    url = forms.URLField(label=_("URL"), max_length=200, required=False, assume_scheme="https")

    class Meta:
        model = Project
        fields = ["name", "kind", "url", "active"]

    items: BillingItemFormSet

    def has_changed(self) -> bool:
        # An empty extra project with billing items typed in must be validated (and then ask
        # for its name) instead of being skipped together with the items.
        return super().has_changed() or self.items.has_changed()


class BaseProjectFormSet(RowsFormSet):
    """Projects, each form carrying its own formset of billing items in `form.items`."""

    def add_fields(self, form: ProjectForm, index: int | None) -> None:
        super().add_fields(form, index)
        form.items = BillingItemFormSet(
            data=form.data if form.is_bound else None,
            instance=form.instance,
            prefix=f"{form.prefix}-items",
        )
        if form.instance.pk is None:
            form.items.extra = 1  # a new project starts with one item row

    def is_valid(self) -> bool:
        valid = super().is_valid()
        for form in self.forms:
            if not self._should_delete_form(form):
                valid = form.items.is_valid() and valid
        return valid

    def save(self, commit: bool = True) -> list[Project]:
        projects = super().save(commit=commit)
        for form in self.forms:
            if form.instance.pk is not None and not self._should_delete_form(form):
                form.items.save(commit=commit)
        return projects


ProjectFormSet = inlineformset_factory(
    Client,
    Project,
    form=ProjectForm,
    formset=BaseProjectFormSet,
    extra=0,
    can_delete=True,
    max_num=MAX_PROJECTS,
    absolute_max=MAX_PROJECTS,
    validate_max=True,
    renderer=ROW_RENDERER,
)


class ClientEditor:
    """The whole client page: billing details, contact persons, projects with billing items.

    Everything is validated before anything is saved, and saved in one transaction.
    """

    def __init__(
        self, data: QueryDict | None = None, *, agency: Agency, client: Client | None = None
    ) -> None:
        if client is not None:
            # Everything the page shows in four queries, however many rows it has.
            prefetch_related_objects([client], "labels", "contacts", "projects__billing_items")
        self.form = ClientForm(data, instance=client, agency=agency)
        self.contacts = ContactFormSet(data, instance=self.form.instance, prefix="contacts")
        self.projects = ProjectFormSet(data, instance=self.form.instance, prefix="projects")
        if client is None:
            self.contacts.extra = self.projects.extra = 1

    def is_valid(self) -> bool:
        # Evaluate every part so that all errors are shown at once.
        results = [self.form.is_valid(), self.contacts.is_valid(), self.projects.is_valid()]
        return all(results)

    def save(self) -> Client:
        with transaction.atomic():
            client = self.form.save()
            self.contacts.save()
            self.projects.save()
        return client
