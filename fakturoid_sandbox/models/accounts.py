"""Fakturoid accounts with the sandbox's switches, API credentials and tokens, subjects."""

import math
import re
import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timedelta
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


def default_webhook_backoff() -> list[float]:
    """Seconds before each of the five retries of a failed webhook delivery (short: a sandbox)."""
    return [1, 2, 4, 8, 16]


class EmailDelivery(models.TextChoices):
    """What `message.json` does: send, or refuse as Fakturoid does for a free plan or spam."""

    ENABLED = "enabled"
    UPGRADE_REQUIRED = "upgrade_required"
    DISABLED = "email_delivery_disabled"


class WebhookAccess(models.TextChoices):
    """Whether the credentials may manage webhooks (paid plans, enabled per user account)."""

    ENABLED = "enabled"
    NOT_ENABLED = "not_enabled"
    UPGRADE_REQUIRED = "upgrade_required"


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
    email_delivery = models.CharField(
        max_length=30, choices=EmailDelivery, default=EmailDelivery.ENABLED
    )
    email_daily_quota = models.PositiveIntegerField(null=True, blank=True)
    webhooks = models.CharField(max_length=30, choices=WebhookAccess, default=WebhookAccess.ENABLED)
    webhook_backoff = models.JSONField(default=default_webhook_backoff)

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
