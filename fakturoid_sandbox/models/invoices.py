"""Invoices with their lines, payments and the messages "sent" by e-mail."""

from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fakturoid_sandbox.models.accounts import Account, Subject, new_invoice_token, round_money


class InvoiceStatus(models.TextChoices):
    OPEN = "open", _("open")
    SENT = "sent", _("sent")
    OVERDUE = "overdue", _("overdue")
    PAID = "paid", _("paid")
    CANCELLED = "cancelled", _("cancelled")
    UNCOLLECTIBLE = "uncollectible", _("uncollectible")


class InvoiceQuerySet(models.QuerySet):
    def live(self) -> "InvoiceQuerySet":
        """Invoices not in the trash: the only ones the API shows."""
        return self.filter(deleted_at__isnull=True)

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
    reminder_sent_at = models.DateTimeField(null=True, blank=True)
    last_reminder_sent_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    uncollectible_at = models.DateTimeField(null=True, blank=True)
    locked_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)
    footer_note = models.TextField(blank=True)
    private_note = models.TextField(blank=True)
    bank_account = models.CharField(max_length=50, blank=True)
    iban = models.CharField(max_length=50, blank=True)
    currency = models.CharField(max_length=3)
    exchange_rate = models.DecimalField(max_digits=16, decimal_places=6, default=Decimal("1"))
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
    # In the trash (Fakturoid's "deleted"): the API answers 404 until it is restored.
    deleted_at = models.DateTimeField(null=True, blank=True)
    # The invoice_overdue webhook went out for the current due date (see webhooks.notice_overdue).
    overdue_noticed = models.BooleanField(default=False)
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

    def native(self, amount: Decimal) -> Decimal:
        """An amount of the invoice's currency in the account's currency (`native_*` fields)."""
        return round_money(amount * self.exchange_rate)

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
            self.status = self.unpaid_status()
            self.cancelled_at = None
        elif event == "lock":
            self.locked_at = now
        elif event == "unlock":
            self.locked_at = None
        elif event == "mark_as_uncollectible":
            self.status = InvoiceStatus.UNCOLLECTIBLE
            self.uncollectible_at = now
        elif event == "undo_uncollectible":
            self.status = self.unpaid_status()
            self.uncollectible_at = None
        else:
            raise ValueError(f"Unknown invoice event {event!r}")
        self.save()

    def unpaid_status(self) -> str:
        return InvoiceStatus.SENT if self.sent_at else InvoiceStatus.OPEN

    def mark_sent(self) -> None:
        """What sending the invoice by e-mail does: sent_at now, and open becomes sent. An
        e-mail about an overdue invoice is a reminder ([INF]: the reference lists the
        reminder fields but not what sets them)."""
        now = timezone.now()
        if self.reported_status() == InvoiceStatus.OVERDUE:
            self.reminder_sent_at = self.reminder_sent_at or now
            self.last_reminder_sent_at = now
        self.sent_at = now
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
    send_thank_you_email = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.invoice.number}: {self.amount}"


class SentMessage(models.Model):
    """An e-mail `message.json` "sent": nothing leaves the machine, the invoice page shows it."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="messages")
    email = models.CharField(max_length=255)
    email_copy = models.CharField(max_length=255, blank=True)
    subject = models.CharField(max_length=255)
    message = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.invoice.number} → {self.email}"
