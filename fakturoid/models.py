from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from agencies.models import Agency
from clients.models import Client
from clients.months import format_month, iso_month


def invoice_custom_id(*, agency: Agency, client_id: int, period) -> str:  # noqa: ANN001
    """Our key for the client's invoice of a month, also sent to Fakturoid as `custom_id`."""
    return f"{agency.key}-c{client_id}-{iso_month(period)}"


# A pending claim older than this belongs to a request that died mid-way: it may be taken over
# (after looking the invoice up in Fakturoid). Longer than any request may take.
STALE_CLAIM = timedelta(minutes=2)


class InvoiceQuerySet(models.QuerySet):
    def for_agency(self, agency: Agency) -> "InvoiceQuerySet":
        return self.filter(agency=agency)

    def retryable(self) -> "InvoiceQuerySet":
        """Invoices another attempt may take over: see `Invoice.can_retry`."""
        stale = timezone.now() - STALE_CLAIM
        return self.filter(
            models.Q(state__in=Invoice.RETRYABLE_STATES)
            | models.Q(state=Invoice.State.PENDING, updated_at__lt=stale)
        )


class Invoice(models.Model):
    """Our record of a client's invoice for one month in Fakturoid (Fakturoid's own invoice is
    `fakturoid.documents.InvoiceDocument`; what we would send, `services.invoicing.InvoiceDraft`).

    The row is claimed (state pending) before the invoice is POSTed, and its unique custom_id
    makes a second invoice for the same client and month impossible.
    """

    class State(models.TextChoices):
        PENDING = "pending", _("in progress")
        CREATED = "created", _("created")
        FAILED = "failed", _("failed")
        UNKNOWN = "unknown", _("unknown (Fakturoid did not answer)")

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        SENT = "sent", _("sent")
        OVERDUE = "overdue", _("overdue")
        PAID = "paid", _("paid")
        CANCELLED = "cancelled", _("cancelled")
        UNCOLLECTIBLE = "uncollectible", _("uncollectible")

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="invoices")
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="invoices")
    period = models.DateField(_("period"))
    custom_id = models.CharField(_("custom ID"), max_length=64, unique=True)
    state = models.CharField(_("state"), max_length=10, choices=State, default=State.PENDING)
    error = models.TextField(_("error"), blank=True)

    fakturoid_id = models.PositiveBigIntegerField(_("Fakturoid ID"), null=True, blank=True)
    number = models.CharField(_("number"), max_length=50, blank=True)
    status = models.CharField(_("status"), max_length=20, choices=Status, blank=True)
    html_url = models.URLField(_("invoice link"), max_length=500, blank=True)
    public_html_url = models.URLField(_("public link"), max_length=500, blank=True)
    pdf_url = models.URLField(_("PDF link"), max_length=500, blank=True)
    subtotal = models.DecimalField(
        _("subtotal"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    total = models.DecimalField(_("total"), max_digits=14, decimal_places=2, null=True, blank=True)
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    lines = models.JSONField(_("lines sent"), default=list, blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = InvoiceQuerySet.as_manager()

    class Meta:
        ordering = ["-period", "-created_at"]
        indexes = [models.Index(fields=["agency", "period"])]
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")

    def __str__(self) -> str:
        return f"{self.number or self.custom_id} ({format_month(self.period)})"

    @property
    def period_label(self) -> str:
        return format_month(self.period)

    # An attempt that failed, or whose outcome Fakturoid never told us, may be tried again.
    RETRYABLE_STATES = (State.FAILED, State.UNKNOWN)

    @property
    def can_retry(self) -> bool:
        """Whether the invoice icon may try this invoice again: it failed, its outcome is
        unknown, or its claim is stale (the request that made it died). The same rule as
        `InvoiceQuerySet.retryable()`, which claims it."""
        if self.state in self.RETRYABLE_STATES:
            return True
        stale = timezone.now() - STALE_CLAIM
        return self.state == self.State.PENDING and self.updated_at < stale


class ApiCall(models.Model):
    """One HTTP attempt to Fakturoid, written by `fakturoid.client`: the integration log.

    Holds no secrets: the path keeps only the query we built (ids, search terms), never the
    token, and `error` holds the error class and Fakturoid's message, never a body.
    """

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="api_calls")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    method = models.CharField(_("method"), max_length=10)
    path = models.CharField(_("path"), max_length=500)
    status = models.PositiveSmallIntegerField(_("status"), null=True, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"))
    rate_limit_remaining = models.IntegerField(_("rate limit remaining"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("Fakturoid API call")
        verbose_name_plural = _("Fakturoid API calls")

    def __str__(self) -> str:
        return f"{self.method} {self.path} → {self.status or '-'}"


class RequestBudget(models.Model):
    """How many requests a Fakturoid account has left in its rate-limit window, as every
    process of ours counts them (see `fakturoid.budget`). One row per account."""

    account = models.CharField(_("account"), max_length=300, unique=True)
    quota = models.PositiveIntegerField(_("requests per window"))
    window = models.PositiveIntegerField(_("window (s)"))
    remaining = models.IntegerField(_("requests left"))
    resets_at = models.DateTimeField(_("window resets at"))

    class Meta:
        verbose_name = _("Fakturoid request budget")
        verbose_name_plural = _("Fakturoid request budgets")

    def __str__(self) -> str:
        return f"{self.account}: {self.remaining}/{self.quota}"
