"""The sandbox's own data: Fakturoid accounts, API credentials and tokens, subjects, invoices.

Independent of the rest of the project on purpose: it stands for a remote service, so nothing
here imports from the other apps and nothing there should import from here except through the
HTTP API (or `fakturoid_sandbox.control` for tests and demo seeding).
"""

import math
import re
import secrets
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

TOKEN_LIFETIME = timedelta(seconds=7200)
PAGE_SIZE = 40
CENT = Decimal("0.01")
NUMBER_FORMAT = re.compile(r"^(?P<year>\d{4})-(?P<seq>\d{4,})$")


def round_money(amount: Decimal) -> Decimal:
    """Half-up to two decimal places (what an invoice shows)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def new_client_id() -> str:
    return secrets.token_hex(20)


def new_client_secret() -> str:
    return secrets.token_hex(20)


def new_access_token() -> str:
    return secrets.token_hex(40)


def new_invoice_token() -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(10))


class VatMode(models.TextChoices):
    VAT_PAYER = "vat_payer", _("VAT payer")
    NON_VAT_PAYER = "non_vat_payer", _("not a VAT payer")
    IDENTIFIED_PERSON = "identified_person", _("identified person")


@dataclass(frozen=True)
class Admission:
    """What the sandbox decided about one API request of an account (see Account.admit)."""

    quota: int
    window: int
    remaining: int
    reset_in: int
    limited: bool
    blocked: bool
    fail_status: int | None
    fail_after_processing: bool
    delay_ms: int
    delay_after_ms: int

    @property
    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Policy": f"default;q={self.quota};w={self.window}",
            "X-RateLimit": f"default;r={self.remaining};t={self.reset_in}",
        }


class Account(models.Model):
    """A Fakturoid account (the `{slug}` of the API paths) with the sandbox's switches."""

    slug = models.SlugField(_("slug"), max_length=60, unique=True)
    name = models.CharField(_("name"), max_length=200)
    vat_mode = models.CharField(
        _("VAT mode"), max_length=20, choices=VatMode, default=VatMode.VAT_PAYER
    )
    currency = models.CharField(_("currency"), max_length=3, default="CZK")
    has_bank_account = models.BooleanField(_("has a bank account"), default=True)
    bank_account = models.CharField(_("bank account"), max_length=50, default="2400123456/2010")
    iban = models.CharField(_("IBAN"), max_length=50, blank=True)
    due = models.PositiveIntegerField(_("due days"), default=14)
    registration_no = models.CharField(_("registration number"), max_length=30, blank=True)
    vat_no = models.CharField(_("VAT number"), max_length=30, blank=True)
    street = models.CharField(_("street"), max_length=200, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    zip = models.CharField(_("ZIP"), max_length=20, blank=True)
    country = models.CharField(_("country"), max_length=2, default="CZ")
    invoice_email = models.EmailField(_("invoice e-mail"), blank=True)
    invoice_note = models.TextField(
        _("invoice note"), blank=True, default="Fakturujeme Vám následující položky"
    )
    blocked = models.BooleanField(_("blocked"), default=False)

    # Switches for tests (see fakturoid_sandbox.control).
    rate_limit_quota = models.PositiveIntegerField(_("rate limit quota"), default=400)
    rate_limit_window = models.PositiveIntegerField(_("rate limit window (s)"), default=60)
    rate_window_started_at = models.DateTimeField(null=True, blank=True)
    rate_window_count = models.PositiveIntegerField(default=0)
    fail_next_status = models.PositiveSmallIntegerField(null=True, blank=True)
    fail_next_after_processing = models.BooleanField(default=False)
    fail_next_count = models.PositiveIntegerField(default=0)
    delay_ms = models.PositiveIntegerField(default=0)
    delay_after_ms = models.PositiveIntegerField(default=0)
    token_invalidates_previous = models.BooleanField(default=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug

    @property
    def charges_vat(self) -> bool:
        return self.vat_mode == VatMode.VAT_PAYER

    def rate_limit_state(self, now: datetime) -> tuple[int, int, bool]:
        """(remaining, seconds to reset, window expired) of the fixed window as stored."""
        started = self.rate_window_started_at
        if started is None or now >= started + timedelta(seconds=self.rate_limit_window):
            return self.rate_limit_quota, self.rate_limit_window, True
        left = (started + timedelta(seconds=self.rate_limit_window) - now).total_seconds()
        remaining = max(self.rate_limit_quota - self.rate_window_count, 0)
        return remaining, max(math.ceil(left), 0), False

    @classmethod
    def admit(cls, pk: int) -> Admission:
        """Count one API request against the account and take one pending forced failure.

        Runs under a row lock, so concurrent requests (threads, processes) count exactly. A
        request over the quota is counted but takes no forced failure (it is not processed).
        """
        with transaction.atomic():
            account = cls.objects.select_for_update().get(pk=pk)
            now = timezone.now()
            _remaining, _reset, expired = account.rate_limit_state(now)
            if expired:
                account.rate_window_started_at = now
                account.rate_window_count = 0
            account.rate_window_count += 1
            limited = account.rate_window_count > account.rate_limit_quota
            fail_status = None
            if not limited and account.fail_next_count > 0 and account.fail_next_status:
                fail_status = account.fail_next_status
                account.fail_next_count -= 1
            account.save(
                update_fields=["rate_window_started_at", "rate_window_count", "fail_next_count"]
            )
            remaining, reset_in, _expired = account.rate_limit_state(now)
            return Admission(
                quota=account.rate_limit_quota,
                window=account.rate_limit_window,
                remaining=remaining,
                reset_in=reset_in,
                limited=limited,
                blocked=account.blocked,
                fail_status=fail_status,
                fail_after_processing=account.fail_next_after_processing,
                delay_ms=account.delay_ms,
                delay_after_ms=account.delay_after_ms,
            )

    def next_invoice_number(self, year: int) -> str:
        """The next free number `YYYY-NNNN` of the year; call with the account row locked."""
        last = 0
        for number in self.invoices.filter(number__startswith=f"{year}-").values_list(
            "number", flat=True
        ):
            match = NUMBER_FORMAT.match(number)
            if match and int(match["year"]) == year:
                last = max(last, int(match["seq"]))
        return f"{year}-{last + 1:04d}"


class Credential(models.Model):
    """An API v3 client-credentials pair of a user of the account."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="credentials")
    client_id = models.CharField(max_length=64, unique=True, default=new_client_id)
    client_secret = models.CharField(max_length=64, default=new_client_secret)
    user_full_name = models.CharField(max_length=200)
    user_email = models.EmailField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.account.slug}: {self.client_id}"

    def issue_token(self) -> "Token":
        """A new 2-hour access token; revokes the older ones when the account says so."""
        with transaction.atomic():
            if Account.objects.filter(pk=self.account_id, token_invalidates_previous=True).exists():
                self.tokens.filter(revoked=False).update(revoked=True)
            return self.tokens.create(expires_at=timezone.now() + TOKEN_LIFETIME)


class Token(models.Model):
    credential = models.ForeignKey(Credential, on_delete=models.CASCADE, related_name="tokens")
    token = models.CharField(max_length=80, unique=True, default=new_access_token)
    expires_at = models.DateTimeField()
    revoked = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.token[:8]}…"


class SubjectQuerySet(models.QuerySet):
    SEARCH_FIELDS = (
        "name",
        "full_name",
        "email",
        "email_copy",
        "registration_no",
        "vat_no",
        "private_note",
    )

    def search(self, query: str) -> list["Subject"]:
        """Case-insensitive substring search over the fields Fakturoid documents.

        Done in Python with Unicode case folding: SQLite's LIKE folds ASCII letters only, and
        "NOVÁK" must find "Novák" on every database.
        """
        needle = query.casefold()
        return [
            subject
            for subject in self
            if any(needle in getattr(subject, field).casefold() for field in self.SEARCH_FIELDS)
        ]


class Subject(models.Model):
    """A contact (customer or supplier) of an account."""

    class Type(models.TextChoices):
        CUSTOMER = "customer", _("customer")
        SUPPLIER = "supplier", _("supplier")
        BOTH = "both", _("both")

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="subjects")
    custom_id = models.CharField(max_length=255, blank=True)
    type = models.CharField(max_length=10, choices=Type, default=Type.CUSTOMER)
    name = models.CharField(max_length=255)
    full_name = models.CharField(max_length=255, blank=True)
    email = models.CharField(max_length=255, blank=True)
    email_copy = models.CharField(max_length=255, blank=True)
    phone = models.CharField(max_length=255, blank=True)
    web = models.CharField(max_length=255, blank=True)
    street = models.CharField(max_length=255, blank=True)
    city = models.CharField(max_length=255, blank=True)
    zip = models.CharField(max_length=255, blank=True)
    country = models.CharField(max_length=255, blank=True)
    registration_no = models.CharField(max_length=255, blank=True)
    vat_no = models.CharField(max_length=255, blank=True)
    local_vat_no = models.CharField(max_length=255, blank=True)
    bank_account = models.CharField(max_length=255, blank=True)
    iban = models.CharField(max_length=255, blank=True)
    variable_symbol = models.CharField(max_length=255, blank=True)
    currency = models.CharField(max_length=255, blank=True)
    language = models.CharField(max_length=255, blank=True)
    due = models.PositiveIntegerField(null=True, blank=True)
    private_note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = SubjectQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "custom_id"],
                condition=~Q(custom_id=""),
                name="sandbox_subject_unique_custom_id",
            )
        ]

    def __str__(self) -> str:
        return self.name


class InvoiceStatus(models.TextChoices):
    OPEN = "open", _("open")
    SENT = "sent", _("sent")
    OVERDUE = "overdue", _("overdue")
    PAID = "paid", _("paid")
    CANCELLED = "cancelled", _("cancelled")
    UNCOLLECTIBLE = "uncollectible", _("uncollectible")


class InvoiceQuerySet(models.QuerySet):
    def matching(self, params: "Mapping[str, str]", *, today: date) -> "InvoiceQuerySet":
        """Apply the index filters of the API: custom_id, number, subject_id, status and
        document_type (the sandbox issues regular invoices only)."""
        queryset = self
        for name in ("custom_id", "number"):
            if name in params:
                queryset = queryset.filter(**{name: params[name]})
        if "subject_id" in params:
            subject_id = params["subject_id"]
            valid = subject_id.isdigit()
            queryset = queryset.filter(subject_id=subject_id) if valid else queryset.none()
        if "status" in params:
            queryset = queryset.with_status(params["status"], today=today)
        if params.get("document_type") not in (None, "", "regular", "invoice"):
            queryset = queryset.none()
        return queryset

    def with_status(self, status: str, *, today: date) -> "InvoiceQuerySet":
        """Filter by the status the API reports (overdue is open/sent past its due date)."""
        unpaid = [InvoiceStatus.OPEN, InvoiceStatus.SENT]
        if status == InvoiceStatus.OVERDUE:
            return self.filter(status__in=unpaid, due_on__lt=today)
        if status in unpaid:
            return self.filter(status=status, due_on__gte=today)
        return self.filter(status=status)


class Invoice(models.Model):
    """An issued invoice: final and numbered from the start (the API has no drafts)."""

    EVENTS = (
        "mark_as_sent",
        "cancel",
        "undo_cancel",
        "lock",
        "unlock",
        "mark_as_uncollectible",
        "undo_uncollectible",
    )

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="invoices")
    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="invoices")
    custom_id = models.CharField(max_length=255, blank=True)
    number = models.CharField(max_length=50)
    variable_symbol = models.CharField(max_length=50)
    token = models.CharField(max_length=10, default=new_invoice_token)
    status = models.CharField(
        max_length=20,
        choices=[c for c in InvoiceStatus.choices if c[0] != InvoiceStatus.OVERDUE],
        default=InvoiceStatus.OPEN,
    )
    order_number = models.CharField(max_length=255, blank=True)
    issued_on = models.DateField()
    taxable_fulfillment_due = models.DateField(null=True, blank=True)
    due = models.PositiveIntegerField()
    due_on = models.DateField()
    sent_at = models.DateTimeField(null=True, blank=True)
    paid_on = models.DateField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    uncollectible_at = models.DateTimeField(null=True, blank=True)
    locked_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)
    footer_note = models.TextField(blank=True)
    private_note = models.TextField(blank=True)
    bank_account = models.CharField(max_length=50, blank=True)
    iban = models.CharField(max_length=50, blank=True)
    currency = models.CharField(max_length=3)
    subtotal = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0"))
    total = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0"))
    client_name = models.CharField(max_length=255)
    client_street = models.CharField(max_length=255, blank=True)
    client_city = models.CharField(max_length=255, blank=True)
    client_zip = models.CharField(max_length=255, blank=True)
    client_country = models.CharField(max_length=255, blank=True)
    client_registration_no = models.CharField(max_length=255, blank=True)
    client_vat_no = models.CharField(max_length=255, blank=True)
    client_local_vat_no = models.CharField(max_length=255, blank=True)
    pdf_requested = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = InvoiceQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "number"], name="sandbox_invoice_number")
        ]

    def __str__(self) -> str:
        return self.number

    def copy_client(self, subject: Subject) -> None:
        """Copy the subject's billing details onto the invoice, as Fakturoid does on issue."""
        self.client_name = subject.name
        self.client_street = subject.street
        self.client_city = subject.city
        self.client_zip = subject.zip
        self.client_country = subject.country
        self.client_registration_no = subject.registration_no
        self.client_vat_no = subject.vat_no
        self.client_local_vat_no = subject.local_vat_no

    def reported_status(self, today: date | None = None) -> str:
        """The status the API shows: an unpaid open/sent invoice past its due date is overdue."""
        today = today or timezone.localdate()
        if self.status in (InvoiceStatus.OPEN, InvoiceStatus.SENT) and self.due_on < today:
            return InvoiceStatus.OVERDUE
        return self.status

    def reported_status_label(self) -> str:
        return InvoiceStatus(self.reported_status()).label

    def vat_rates_summary(self, lines: "Iterable[InvoiceLine] | None" = None) -> list[dict]:
        """Base and VAT per rate; the VAT of a rate is rounded from the rate's base."""
        bases: dict[Decimal, Decimal] = {}
        for line in self.lines.all() if lines is None else lines:
            bases[line.vat_rate] = bases.get(line.vat_rate, Decimal("0")) + line.total_price
        return [
            {"vat_rate": rate, "base": base, "vat": round_money(base * rate / 100)}
            for rate, base in sorted(bases.items(), reverse=True)
        ]

    def recompute_totals(self) -> None:
        """Subtotal from the lines, total = subtotal + VAT of each rate (both Decimal)."""
        # Straight from the database: a prefetched `lines` cache may predate the change.
        summary = self.vat_rates_summary(InvoiceLine.objects.filter(invoice=self))
        self.subtotal = sum((row["base"] for row in summary), Decimal("0"))
        self.total = self.subtotal + sum((row["vat"] for row in summary), Decimal("0"))

    @property
    def paid_amount(self) -> Decimal:
        return sum((payment.amount for payment in self.payments.all()), Decimal("0"))

    @property
    def remaining_amount(self) -> Decimal:
        if self.status == InvoiceStatus.PAID:
            return Decimal("0")
        return max(self.total - self.paid_amount, Decimal("0"))

    def can_fire(self, event: str) -> bool:
        locked = self.locked_at is not None
        unpaid = self.status in (InvoiceStatus.OPEN, InvoiceStatus.SENT)
        allowed = {
            "mark_as_sent": self.status == InvoiceStatus.OPEN,
            "cancel": unpaid and not locked,
            "undo_cancel": self.status == InvoiceStatus.CANCELLED and not locked,
            "lock": not locked,
            "unlock": locked,
            "mark_as_uncollectible": unpaid and not locked,
            "undo_uncollectible": self.status == InvoiceStatus.UNCOLLECTIBLE and not locked,
        }
        return allowed.get(event, False)

    def fire(self, event: str) -> None:
        """Apply an invoice action; the caller checks `can_fire` first."""
        now = timezone.now()
        if event == "mark_as_sent":
            self.status = InvoiceStatus.SENT
            self.sent_at = self.sent_at or now
        elif event == "cancel":
            self.status = InvoiceStatus.CANCELLED
            self.cancelled_at = now
        elif event == "undo_cancel":
            self.status = self._unpaid_status()
            self.cancelled_at = None
        elif event == "lock":
            self.locked_at = now
        elif event == "unlock":
            self.locked_at = None
        elif event == "mark_as_uncollectible":
            self.status = InvoiceStatus.UNCOLLECTIBLE
            self.uncollectible_at = now
        elif event == "undo_uncollectible":
            self.status = self._unpaid_status()
            self.uncollectible_at = None
        else:
            raise ValueError(f"Unknown invoice event {event!r}")
        self.save()

    def _unpaid_status(self) -> str:
        return InvoiceStatus.SENT if self.sent_at else InvoiceStatus.OPEN

    def mark_sent(self) -> None:
        """What sending the invoice by e-mail does: sent_at now, and open becomes sent."""
        self.sent_at = timezone.now()
        if self.status == InvoiceStatus.OPEN:
            self.status = InvoiceStatus.SENT
        self.save()


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    name = models.CharField(max_length=255)
    quantity = models.DecimalField(max_digits=14, decimal_places=4, default=Decimal("1"))
    unit_name = models.CharField(max_length=50, blank=True)
    unit_price = models.DecimalField(max_digits=16, decimal_places=4)
    vat_rate = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("0"))
    total_price = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0"))
    total_vat = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0"))

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name

    def compute(self) -> None:
        """Line totals without and of VAT, each rounded half-up to cents."""
        self.total_price = round_money(self.quantity * self.unit_price)
        self.total_vat = round_money(self.total_price * self.vat_rate / 100)

    @property
    def unit_price_with_vat(self) -> Decimal:
        return round_money(self.unit_price * (100 + self.vat_rate) / 100)


class Payment(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="payments")
    paid_on = models.DateField()
    amount = models.DecimalField(max_digits=16, decimal_places=2)
    currency = models.CharField(max_length=3)
    variable_symbol = models.CharField(max_length=50, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.invoice.number}: {self.amount}"
