from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from agencies.models import Agency
from clients.models import Client
from clients.months import format_month, iso_month
from fakturoid import timeouts


def invoice_custom_id(*, agency: Agency, client_id: int, period) -> str:  # noqa: ANN001
    """Our key for the client's invoice of a month, also sent to Fakturoid as `custom_id`."""
    return f"{agency.key}-c{client_id}-{iso_month(period)}"


class InvoiceQuerySet(models.QuerySet):
    def for_agency(self, agency: Agency) -> "InvoiceQuerySet":
        return self.filter(agency=agency)

    def live(self) -> "InvoiceQuerySet":
        """The invoices that count for their client and month: not replaced by a re-issue."""
        return self.filter(replaced=False)

    def with_duplicates(self) -> "InvoiceQuerySet":
        """Invoices Fakturoid holds more than once under their custom_id."""
        return self.exclude(duplicates=[])

    def retryable(self) -> "InvoiceQuerySet":
        """Invoices another attempt may take over right now: failed ones, and uncertain ones
        whose settle time has passed (see `Invoice.settles_at`). Claimed by compare-and-set."""
        now = timezone.now()
        settle = timeouts.settle_time()
        pending_settle = settle + timeouts.stale_claim()
        return self.filter(
            models.Q(state=Invoice.State.FAILED)
            | models.Q(state=Invoice.State.UNKNOWN, uncertain_since__isnull=True)
            | models.Q(state=Invoice.State.UNKNOWN, uncertain_since__lte=now - settle)
            | models.Q(state=Invoice.State.PENDING, uncertain_since__lte=now - pending_settle)
        )


class Invoice(models.Model):
    """Our record of a client's invoice for one month in Fakturoid (Fakturoid's own invoice is
    `fakturoid.documents.InvoiceDocument`; what we would send, `services.invoicing.InvoiceDraft`).

    The row is claimed (state pending) before the invoice is POSTed. Its unique custom_id, and
    the rule "one live invoice per client and month", make a second invoice for the same client
    and month impossible; only an invoice deleted or cancelled in Fakturoid may be replaced by a
    re-issue (`reissue_custom_id`), which keeps the old row as history (`replaced`).
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
        DELETED = "deleted", _("deleted in Fakturoid")

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
    # Since when the outcome is uncertain: the claim of a pending attempt, or the moment an
    # attempt gave up (unknown). Empty once the outcome is known.
    uncertain_since = models.DateTimeField(_("uncertain since"), null=True, blank=True)
    # Other invoices Fakturoid holds with our custom_id: [{"id", "number", "html_url"}].
    duplicates = models.JSONField(_("duplicates in Fakturoid"), default=list, blank=True)
    replaced = models.BooleanField(_("replaced by a re-issued invoice"), default=False)

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
        constraints = [
            models.UniqueConstraint(
                fields=["client", "period"],
                condition=models.Q(replaced=False),
                name="one_live_invoice_per_client_and_month",
            )
        ]
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")

    def __str__(self) -> str:
        return f"{self.number or self.custom_id} ({format_month(self.period)})"

    @property
    def period_label(self) -> str:
        return format_month(self.period)

    @property
    def can_retry(self) -> bool:
        """Whether the invoice icon offers another attempt: it failed, its outcome is unknown,
        or its claim is stale (the request that made it died). The attempt itself waits for
        `settles_at` (see `InvoiceQuerySet.retryable()`, which claims it)."""
        return self.state in (self.State.FAILED, self.State.UNKNOWN) or self.is_stale

    @property
    def is_stale(self) -> bool:
        """A pending claim whose request is surely dead ("Check and finish" may take it over)."""
        if self.state != self.State.PENDING:
            return False
        since = self.uncertain_since or self.updated_at
        return since < timezone.now() - timeouts.stale_claim()

    @property
    def settles_at(self) -> datetime | None:
        """When a POST of this invoice that may still be under way has surely been carried out
        or dropped by Fakturoid, so a look-up that finds nothing means "not created".

        Unknown: the settle time after the attempt gave up. Pending: the request may have
        POSTed until its worker was killed (the stale-claim time), then the settle time.
        None when the outcome is known.
        """
        if self.state == self.State.UNKNOWN:
            if self.uncertain_since is None:
                return None
            return self.uncertain_since + timeouts.settle_time()
        if self.state == self.State.PENDING:
            since = self.uncertain_since or self.updated_at
            return since + timeouts.stale_claim() + timeouts.settle_time()
        return None

    @property
    def check_again_at(self) -> str:
        """HH:MM from which an uncertain invoice may be checked and finished ("" when now)."""
        until = self.settles_at
        if until is None or until <= timezone.now():
            return ""
        from fakturoid.errors import clock_time  # errors names this model for its messages

        return clock_time(until)

    # --- Deleted or cancelled in Fakturoid, and issuing the month again -----------------------

    def mark_deleted_in_fakturoid(self) -> None:
        """Fakturoid answered 404 for this invoice: it was deleted there (kept here as history)."""
        self.status = self.Status.DELETED
        self.save(update_fields=["status", "updated_at"])

    @property
    def can_reissue(self) -> bool:
        """Whether the month may be invoiced again: this live invoice was deleted or cancelled
        in Fakturoid. The re-issue gets a new custom_id (`reissue_custom_id`)."""
        return (
            not self.replaced
            and self.state == self.State.CREATED
            and self.status in (self.Status.DELETED, self.Status.CANCELLED)
        )

    def reissue_custom_id(self) -> str:
        """The custom_id of the next invoice for this client and month: ours with `-2`, `-3`, …"""
        base = invoice_custom_id(agency=self.agency, client_id=self.client_id, period=self.period)
        count = Invoice.objects.filter(client_id=self.client_id, period=self.period).count()
        return f"{base}-{count + 1}"


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
