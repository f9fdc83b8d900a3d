import secrets
from datetime import date, datetime, timedelta
from urllib.parse import unquote_plus

from django.conf import settings
from django.db import models
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from agencies.fields import EncryptedTextField
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

    def with_shown_status(self, *, today: date) -> "InvoiceQuerySet":
        """Annotate `shown_status`: Fakturoid's status, except that an open or sent invoice
        past its due date is overdue already (Fakturoid's own daily job may not have run)."""
        return self.annotate(
            shown_status=models.Case(
                models.When(
                    status__in=Invoice.AWAITING_PAYMENT,
                    due_on__lt=today,
                    then=models.Value(Invoice.Status.OVERDUE),
                ),
                default=models.F("status"),
                output_field=models.CharField(),
            )
        )

    def totals_by_status(self) -> list[dict]:
        """Count and total per shown status and currency (needs `with_shown_status`)."""
        return list(
            self.order_by()
            .values("shown_status", "currency")
            .annotate(count=models.Count("pk"), amount=models.Sum("total"))
            .order_by("shown_status", "currency")
        )

    def aging(self, *, today: date) -> list[dict]:
        """Unpaid money per currency by days past due: not due, 1–30, 31–60, 61–90, 90+.

        Counts what remains to be paid (the total when Fakturoid has not said). One query.
        """
        owed = Coalesce("remaining_amount", "total")
        buckets = {
            "not_due": models.Q(due_on__gte=today) | models.Q(due_on=None),
            "days_1_30": models.Q(due_on__lt=today, due_on__gte=today - timedelta(days=30)),
            "days_31_60": models.Q(
                due_on__lt=today - timedelta(days=30), due_on__gte=today - timedelta(days=60)
            ),
            "days_61_90": models.Q(
                due_on__lt=today - timedelta(days=60), due_on__gte=today - timedelta(days=90)
            ),
            "days_over_90": models.Q(due_on__lt=today - timedelta(days=90)),
        }
        sums = {
            name: models.Sum(owed, filter=condition, default=0)
            for name, condition in buckets.items()
        }
        return list(
            self.filter(state=Invoice.State.CREATED, status__in=Invoice.AWAITING_PAYMENT)
            .order_by()
            .values("currency")
            .annotate(**sums)
            .order_by("currency")
        )

    def billed(self) -> "InvoiceQuerySet":
        """Invoices created in Fakturoid, not cancelled or deleted there, not replaced."""
        return (
            self.live()
            .filter(state=Invoice.State.CREATED)
            .exclude(
                status__in=[
                    Invoice.Status.CANCELLED,
                    Invoice.Status.UNCOLLECTIBLE,
                    Invoice.Status.DELETED,
                ]
            )
        )

    def billed_per_client_and_month(self, *, since: date) -> list[dict]:
        """[{period, client_id, currency, amount}] of invoices billed for `since` or later:
        one grouped query, the amounts before VAT."""
        return list(
            self.billed()
            .filter(period__gte=since, subtotal__isnull=False)
            .values("period", "client_id", "currency")
            .annotate(amount=models.Sum("subtotal"))
            .order_by("period")
        )

    def without_status(self) -> "InvoiceQuerySet":
        """Billed invoices no status sync has reached yet."""
        return self.billed().filter(status="")

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
        # Moved to Fakturoid's trash (invoice_removed): the row keeps its history.
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

    # What Fakturoid last told us about the invoice after its creation (webhook or sync).
    due_on = models.DateField(_("due on"), null=True, blank=True)
    paid_on = models.DateField(_("paid on"), null=True, blank=True)
    remaining_amount = models.DecimalField(
        _("remaining amount"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    payments = models.JSONField(_("payments"), default=list, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    # Fakturoid's own updated_at of the state we hold: an older delivery never overwrites it.
    fakturoid_updated_at = models.DateTimeField(null=True, blank=True, editable=False)

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
    def current_status(self) -> str:
        """Fakturoid's status, except that an open or sent invoice past its due date is
        overdue already (the same rule as `InvoiceQuerySet.with_shown_status`)."""
        overdue = self.due_on is not None and self.due_on < timezone.localdate()
        if self.status in (self.Status.OPEN, self.Status.SENT) and overdue:
            return self.Status.OVERDUE
        return self.status

    @property
    def current_status_label(self) -> str:
        return self.Status(self.current_status).label if self.current_status else ""

    @property
    def is_awaiting_payment(self) -> bool:
        return self.state == self.State.CREATED and self.status in self.AWAITING_PAYMENT

    # Statuses of an invoice still waiting for its money.
    AWAITING_PAYMENT = (Status.OPEN, Status.SENT, Status.OVERDUE)

    # An attempt that failed, or whose outcome Fakturoid never told us, may be tried again.
    RETRYABLE_STATES = (State.FAILED, State.UNKNOWN)

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
    # When the attempt was made (the client writes a worker's calls in batches, later).
    created_at = models.DateTimeField(
        _("created at"), default=timezone.now, editable=False, db_index=True
    )
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

    @property
    def readable_path(self) -> str:
        """The path as a person reads it: query values decoded (search terms, custom_ids)."""
        return unquote_plus(self.path)


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


def new_receiver_id() -> str:
    return secrets.token_urlsafe(24)


def new_webhook_secret() -> str:
    return secrets.token_urlsafe(32)


class WebhookRegistration(models.Model):
    """The webhook we registered in the agency's Fakturoid account ("Receive updates").

    `receiver_id` makes the receiver's URL unguessable, but what authenticates a delivery is
    `secret`: Fakturoid sends it back as the `Authorization` header (its `auth_header`).
    """

    class State(models.TextChoices):
        ACTIVE = "active", _("receiving updates")
        REFUSED = "refused", _("refused by Fakturoid")

    agency = models.OneToOneField(Agency, on_delete=models.CASCADE, related_name="webhook")
    receiver_id = models.CharField(max_length=64, unique=True, default=new_receiver_id)
    secret = EncryptedTextField(default=new_webhook_secret, editable=False)
    fakturoid_id = models.PositiveBigIntegerField(null=True, blank=True)
    state = models.CharField(_("state"), max_length=10, choices=State, default=State.ACTIVE)
    error = models.TextField(_("error"), blank=True)
    events = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("Fakturoid webhook")
        verbose_name_plural = _("Fakturoid webhooks")

    def __str__(self) -> str:
        return f"Webhook {self.fakturoid_id or '-'} ({self.agency})"


class ReceivedWebhook(models.Model):
    """One delivery the receiver accepted; its Idempotency-Key makes a repeat a no-op."""

    class Outcome(models.TextChoices):
        PENDING = "pending", _("waiting")
        APPLIED = "applied", _("applied")
        IGNORED = "ignored", _("ignored")

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    # NULL, not "": deliveries without a key must not collide in the unique constraint.
    idempotency_key = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001
    event_name = models.CharField(max_length=100)
    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)
    outcome = models.CharField(max_length=10, choices=Outcome, default=Outcome.PENDING)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "idempotency_key"], name="unique_webhook_delivery"
            )
        ]
        indexes = [models.Index(fields=["agency", "-received_at"])]

    def __str__(self) -> str:
        return f"{self.event_name} ({self.outcome})"


class StatusSync(models.Model):
    """Where the agency's status sync stands: the next one asks only for invoices changed
    since `cursor` (a little before the previous sync started, for clocks that disagree)."""

    agency = models.OneToOneField(Agency, on_delete=models.CASCADE, related_name="status_sync")
    cursor = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    requests = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"Status sync of {self.agency}: {self.cursor}"


class Dispatch(models.Model):
    """A batch of e-mails sent through Fakturoid (invoices or reminders): one task per item,
    progress counted from the items."""

    class Kind(models.TextChoices):
        INVOICE = "invoice", _("invoice by e-mail")
        REMINDER = "reminder", _("payment reminder")

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind)
    language = models.CharField(max_length=10, default="en")  # of the reminder's wording
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.created_at:%Y-%m-%d %H:%M})"


class DispatchItem(models.Model):
    class State(models.TextChoices):
        WAITING = "waiting", _("waiting")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")

    dispatch = models.ForeignKey(Dispatch, on_delete=models.CASCADE, related_name="items")
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="+")
    state = models.CharField(_("state"), max_length=10, choices=State, default=State.WAITING)
    error = models.TextField(_("error"), blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.invoice} ({self.state})"


class InvoiceRunQuerySet(models.QuerySet):
    def for_agency(self, agency: Agency) -> "InvoiceRunQuerySet":
        return self.filter(agency=agency)

    def active(self) -> "InvoiceRunQuerySet":
        return self.filter(state__in=InvoiceRun.ACTIVE_STATES)


class InvoiceRun(models.Model):
    """A month-end run: every chosen client of an agency invoiced for one month by background
    workers, one `InvoiceRunItem` per client. Progress is counted from the items.

    At most one run of an agency and month is active (running or paused) at a time, so a run
    started twice is the same run; the invoices themselves are unique by custom_id anyway.
    """

    class State(models.TextChoices):
        RUNNING = "running", _("running")
        PAUSED = "paused", _("paused")
        CANCELLED = "cancelled", _("cancelled")
        FINISHED = "finished", _("finished")

    ACTIVE_STATES = (State.RUNNING, State.PAUSED)

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="invoice_runs")
    period = models.DateField(_("period"))
    state = models.CharField(_("state"), max_length=10, choices=State, default=State.RUNNING)
    pause_reason = models.TextField(_("why it is paused"), blank=True)
    send_email = models.BooleanField(_("send each invoice by e-mail"), default=False)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("started by"),
    )
    started_at = models.DateTimeField(_("started at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    objects = InvoiceRunQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "period"],
                condition=models.Q(state__in=["running", "paused"]),
                name="one_active_run_per_agency_month",
            )
        ]
        verbose_name = _("month-end run")
        verbose_name_plural = _("month-end runs")

    def __str__(self) -> str:
        return f"{self.agency} {format_month(self.period)} ({self.state})"

    @property
    def period_label(self) -> str:
        return format_month(self.period)

    @property
    def is_active(self) -> bool:
        return self.state in self.ACTIVE_STATES


class InvoiceRunItemQuerySet(models.QuerySet):
    def stalled(self) -> "InvoiceRunItemQuerySet":
        """Items a worker took and never finished (it was killed): another may take them."""
        return self.filter(
            state=InvoiceRunItem.State.WORKING,
            updated_at__lt=timezone.now() - timeouts.stale_claim(),
        )


class InvoiceRunItem(models.Model):
    """One client of a run: waiting → working → created, failed or skipped (or cancelled)."""

    class State(models.TextChoices):
        WAITING = "waiting", _("waiting")
        WORKING = "working", _("working")
        CREATED = "created", _("created")
        FAILED = "failed", _("failed")
        SKIPPED = "skipped", _("skipped")
        CANCELLED = "cancelled", _("cancelled")

    OPEN_STATES = (State.WAITING, State.WORKING)

    run = models.ForeignKey(InvoiceRun, on_delete=models.CASCADE, related_name="items")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+")
    state = models.CharField(_("state"), max_length=10, choices=State, default=State.WAITING)
    invoice = models.ForeignKey(
        Invoice, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    error = models.TextField(_("error"), blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    emailed_at = models.DateTimeField(_("sent by e-mail at"), null=True, blank=True)
    email_error = models.TextField(_("e-mail error"), blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = InvoiceRunItemQuerySet.as_manager()

    class Meta:
        ordering = ["client__name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["run", "client"], name="one_item_per_run_client")
        ]
        indexes = [models.Index(fields=["run", "state"])]
        verbose_name = _("month-end run item")
        verbose_name_plural = _("month-end run items")

    def __str__(self) -> str:
        return f"{self.client} ({self.state})"
