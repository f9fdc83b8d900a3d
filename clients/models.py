from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q, Value
from django.utils.translation import gettext_lazy as _

from agencies.models import Agency
from clients.months import first_day, format_month
from clients.validators import validate_dic, validate_ico

MAX_AMOUNT = Decimal("9999999999.99")


class Label(models.Model):
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="labels")
    name = models.CharField(_("name"), max_length=50)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["agency", "name"], name="unique_label_per_agency"),
        ]
        verbose_name = _("label")
        verbose_name_plural = _("labels")

    def __str__(self) -> str:
        return self.name


class ClientQuerySet(models.QuerySet):
    def for_agency(self, agency: Agency) -> "ClientQuerySet":
        return self.filter(agency=agency)

    def for_user(self, user) -> "ClientQuerySet":  # noqa: ANN001
        return self.filter(agency__in=Agency.objects.for_user(user))

    def matching(self, *, q: str = "", label: "Label | None" = None) -> "ClientQuerySet":
        """The clients the list's search (name, IČO or billing e-mail) and label keep."""
        clients = self
        if q:
            clients = clients.filter(
                Q(name__icontains=q) | Q(registration_no__icontains=q) | Q(email__icontains=q)
            )
        if label is not None:
            clients = clients.filter(labels=label)
        return clients

    def label_names(self) -> dict[int, list[str]]:
        """{client id: its label names} of these clients, in one query."""
        names: dict[int, list[str]] = {}
        rows = Client.labels.through.objects.filter(client__in=self).order_by("label__name")
        for client_id, name in rows.values_list("client_id", "label__name"):
            names.setdefault(client_id, []).append(name)
        return names

    def with_month_invoices(self, *, month: date) -> "ClientQuerySet":
        """Prefetch each client's invoices of `month` into `month_invoices` (a list).

        Invoices are fakturoid's model, and fakturoid builds on clients, not the other way
        round: the model is reached through its `invoices` relation, not imported.
        """
        invoice_model = self.model._meta.get_field("invoices").related_model
        return self.prefetch_related(
            models.Prefetch(
                "invoices",
                queryset=invoice_model.objects.filter(period=month),
                to_attr="month_invoices",
            )
        )

    def with_billable_items(self, *, month: date) -> "ClientQuerySet":
        """Prefetch what `Client.billable_items(month)` needs: the active projects with their
        items billable in `month`, two queries for any number of clients.

        Meant for a page of clients: nothing is grouped or summed over the whole table.
        """
        month = first_day(month)
        items = BillingItem.objects.for_month(month).order_by(*BillingItem.INVOICE_ORDER)
        projects = Project.objects.filter(active=True).order_by("name", "pk")
        return self.annotate(
            billing_month=Value(month, output_field=models.DateField())
        ).prefetch_related(
            models.Prefetch(
                "projects",
                queryset=projects.prefetch_related(
                    models.Prefetch("billing_items", queryset=items, to_attr="month_items")
                ),
                to_attr="active_projects",
            )
        )


class Client(models.Model):
    class ViesStatus(models.TextChoices):
        VALID = "valid", _("valid")
        INVALID = "invalid", _("invalid")
        UNAVAILABLE = "unavailable", _("could not be checked")

    class LinkSource(models.TextChoices):
        MANUAL = "manual", _("entered by hand")
        REGISTRATION_NO = "registration_no", _("matched on IČO")
        VAT_NO = "vat_no", _("matched on DIČ")
        EMAIL = "email", _("matched on e-mail")
        NAME = "name", _("matched on name")
        CREATED = "created", _("created by us")

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="clients")
    name = models.CharField(_("name"), max_length=255)
    registration_no = models.CharField(
        _("IČO"), max_length=8, blank=True, validators=[validate_ico]
    )
    vat_no = models.CharField(_("DIČ"), max_length=16, blank=True, validators=[validate_dic])
    street = models.CharField(_("street"), max_length=255, blank=True)
    city = models.CharField(_("city"), max_length=255, blank=True)
    zip = models.CharField(_("ZIP"), max_length=20, blank=True)
    country = models.CharField(
        _("country"),
        max_length=2,
        default="CZ",
        validators=[RegexValidator(r"^[A-Z]{2}$", _("Use a two-letter ISO code, e.g. CZ."))],
    )
    email = models.EmailField(_("billing e-mail"), blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    currency = models.CharField(
        _("currency"),
        max_length=3,
        default="CZK",
        validators=[RegexValidator(r"^[A-Z]{3}$", _("Use a three-letter ISO code, e.g. CZK."))],
    )
    labels = models.ManyToManyField(Label, blank=True, related_name="clients")
    fakturoid_subject_id = models.PositiveBigIntegerField(
        _("Fakturoid Client ID"), null=True, blank=True
    )
    fakturoid_link_source = models.CharField(
        _("linked by"), max_length=20, choices=LinkSource, blank=True
    )
    # The last VIES check of a VAT number: its result, when, and which number it was (a DIČ
    # changed since is unchecked).
    vies_status = models.CharField(_("VIES check"), max_length=12, choices=ViesStatus, blank=True)
    vies_checked_at = models.DateTimeField(_("VIES checked at"), null=True, blank=True)
    vies_vat_no = models.CharField(_("VAT number checked in VIES"), max_length=16, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = ClientQuerySet.as_manager()

    class Meta:
        ordering = ["name", "pk"]
        indexes = [models.Index(fields=["agency", "name"])]
        verbose_name = _("client")
        verbose_name_plural = _("clients")

    def __str__(self) -> str:
        return self.name

    def link_to_contact(self, subject_id: int | None, *, source: str) -> None:
        """Link the client to Fakturoid contact `subject_id` (None: unlink) and save that."""
        self.fakturoid_subject_id = subject_id
        self.fakturoid_link_source = source if subject_id else ""
        self.save(update_fields=["fakturoid_subject_id", "fakturoid_link_source", "updated_at"])

    @property
    def vies_current(self) -> bool:
        """The last VIES check was of the DIČ the client has now."""
        return bool(self.vies_status) and self.vies_vat_no == self.vat_no

    @property
    def vies_valid(self) -> bool:
        """VIES confirmed the client's current DIČ (the condition for reverse charge)."""
        return self.vies_current and self.vies_status == self.ViesStatus.VALID

    def billable_items(self, month: date) -> list["BillingItem"]:
        """The items the client's invoice for `month` bills, in the invoice's line order: the
        items billable in the month (`BillingItemQuerySet.for_month`) of active projects.

        Uses what `ClientQuerySet.with_billable_items(month=month)` prefetched, else queries.
        """
        month = first_day(month)
        if getattr(self, "billing_month", None) == month and hasattr(self, "active_projects"):
            return [item for project in self.active_projects for item in project.month_items]
        return list(
            BillingItem.objects.for_month(month)
            .filter(project__client=self, project__active=True)
            .select_related("project")
            .order_by("project__name", "project_id", *BillingItem.INVOICE_ORDER)
        )

    def amount_to_bill(self, month: date) -> Decimal:
        """What the client's invoice for `month` bills before VAT (0: nothing to bill)."""
        return sum((item.amount for item in self.billable_items(month)), Decimal("0.00"))

    @property
    def month_total(self) -> Decimal:
        """`amount_to_bill` of the month `ClientQuerySet.with_billable_items` prefetched."""
        return self.amount_to_bill(self.billing_month)


class ContactPerson(models.Model):
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(_("name"), max_length=255)
    role = models.CharField(_("role"), max_length=100, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)

    class Meta:
        ordering = ["name", "pk"]
        verbose_name = _("contact person")
        verbose_name_plural = _("contact persons")

    def __str__(self) -> str:
        return self.name


class Project(models.Model):
    class Kind(models.TextChoices):
        ESHOP = "eshop", _("E-shop")
        SERVICE = "service", _("Service")
        OTHER = "other", _("Other")

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="projects")
    name = models.CharField(_("name"), max_length=255)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind, default=Kind.ESHOP)
    url = models.URLField(_("URL"), blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name", "pk"]
        verbose_name = _("project")
        verbose_name_plural = _("projects")

    def __str__(self) -> str:
        return self.name


class BillingItemQuerySet(models.QuerySet):
    def for_month(self, month: date) -> "BillingItemQuerySet":
        """Items billable in `month`: monthly ones whose range covers it, one-offs of it."""
        monthly = (
            Q(kind=BillingItem.Kind.MONTHLY)
            & (Q(first_month__isnull=True) | Q(first_month__lte=month))
            & (Q(last_month__isnull=True) | Q(last_month__gte=month))
        )
        one_off = Q(kind=BillingItem.Kind.ONE_OFF, month=month)
        return self.filter(monthly | one_off)

    def to_bill_per_client(self, *, agency: Agency, month: date) -> list[dict]:
        """[{client_id, name, currency, kind, amount}]: what each client's invoice for `month`
        bills (the rule of `Client.billable_items`), per kind of item, in one grouped query."""
        return list(
            self.for_month(first_day(month))
            .filter(project__active=True, project__client__agency=agency)
            .values(
                "kind",
                client_id=models.F("project__client_id"),
                name=models.F("project__client__name"),
                currency=models.F("project__client__currency"),
            )
            .annotate(amount=models.Sum("amount"))
            .order_by("client_id", "kind")
        )


class BillingItem(models.Model):
    """One line of a project's finances: a monthly fee or one-off work."""

    class Kind(models.TextChoices):
        MONTHLY = "monthly", _("Monthly")
        ONE_OFF = "one_off", _("One-off")

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="billing_items")
    description = models.CharField(_("description"), max_length=255)
    amount = models.DecimalField(
        _("amount"),
        max_digits=12,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(MAX_AMOUNT)],
    )
    vat_rate = models.PositiveSmallIntegerField(
        _("VAT rate (%)"), default=21, validators=[MaxValueValidator(100)]
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind, default=Kind.MONTHLY)
    first_month = models.DateField(_("first month"), null=True, blank=True)
    last_month = models.DateField(_("last month"), null=True, blank=True)
    month = models.DateField(_("month"), null=True, blank=True)

    objects = BillingItemQuerySet.as_manager()

    # The order of an invoice's lines within one project.
    INVOICE_ORDER = ("kind", "description", "pk")

    class Meta:
        ordering = ["kind", "description", "pk"]
        verbose_name = _("billing item")
        verbose_name_plural = _("billing items")

    def __str__(self) -> str:
        return f"{self.description} ({self.amount})"

    def save(self, *args, **kwargs) -> None:
        # Months are stored as their first day; a one-off has no range, a monthly item no month.
        for field in ("first_month", "last_month", "month"):
            value = getattr(self, field)
            if value is not None:
                setattr(self, field, value.replace(day=1))
        if self.kind == self.Kind.ONE_OFF:
            self.first_month = self.last_month = None
        else:
            self.month = None
        super().save(*args, **kwargs)

    def clean(self) -> None:
        errors = {}
        if self.kind == self.Kind.ONE_OFF:
            if self.month is None:
                errors["month"] = _("A one-off item needs the month it is billed in.")
        elif self.first_month and self.last_month and self.first_month > self.last_month:
            errors["last_month"] = _("The last month cannot be before the first month.")
        if errors:
            raise ValidationError(errors)

    @property
    def period_label(self) -> str:
        if self.kind == self.Kind.ONE_OFF:
            return format_month(self.month) if self.month else ""
        start = format_month(self.first_month) if self.first_month else ""
        end = format_month(self.last_month) if self.last_month else ""
        return f"{start} – {end}" if (start or end) else ""
