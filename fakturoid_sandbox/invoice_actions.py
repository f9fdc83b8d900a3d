"""What happens to an issued invoice: actions, payments, e-mail, the trash, becoming overdue.

Each function takes an invoice of an authorised account, changes it in one transaction (which
bumps `updated_at`, so `updated_since` finds it), queues the webhook events of the change, and
raises `ApiError` (403) or `Invalid` (422) as the reference says.
"""

from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from fakturoid_sandbox import webhooks
from fakturoid_sandbox.errors import Invalid, api_error
from fakturoid_sandbox.models import Invoice, InvoiceStatus, Payment, SentMessage, round_money
from fakturoid_sandbox.models.accounts import EmailDelivery
from fakturoid_sandbox.serializers import SiteRoot, payment_json
from fakturoid_sandbox.services import to_date, to_decimal, to_text

FIRED_EVENTS = {
    "mark_as_sent": "invoice_sent",
    "cancel": "invoice_cancelled",
    "undo_cancel": "invoice_cancellation_removed",
    "lock": "invoice_locked",
    "unlock": "invoice_unlocked",
    "mark_as_uncollectible": "invoice_uncollectible",
    "undo_uncollectible": "invoice_uncollectible_removed",
}
BAD_EMAIL = "Please check the email."
EMAIL_REFUSALS = {
    EmailDelivery.UPGRADE_REQUIRED: (
        "upgrade_required",
        "Email delivery is only available for paid plans",
    ),
    # [INF] The reference names the code of a spam block but not its text.
    EmailDelivery.DISABLED: (
        "email_delivery_disabled",
        "Email delivery has been disabled for this account",
    ),
}
DEFAULT_MESSAGE_SUBJECT = "Faktura #no#"
DEFAULT_MESSAGE = (
    "Dobrý den,\n\nzasíláme Vám fakturu #no# na částku #price# se splatností #due#.\n"
    "Variabilní symbol: #vs#\n\n#link#"
)
THANK_YOU_SUBJECT = "Děkujeme za platbu faktury #no#"
THANK_YOU_MESSAGE = "Dobrý den,\n\nděkujeme za úhradu faktury #no#.\n\n#link#"


def _locked_row(invoice: Invoice) -> Invoice:
    """The invoice re-read under a row lock (call inside a transaction)."""
    return (
        Invoice.objects.select_for_update().select_related("account", "subject").get(pk=invoice.pk)
    )


def fire_event(*, invoice: Invoice, event: Any) -> None:
    """Apply an action (`mark_as_sent`, `cancel`, `lock`, …); not allowed now → 422."""
    if not isinstance(event, str) or not event:
        raise Invalid({"event": ["can't be blank"]})
    if event not in Invoice.EVENTS or not invoice.can_fire(event):
        raise Invalid({"event": [f"{event} cannot be fired"]})
    with transaction.atomic():
        invoice.fire(event)
        webhooks.record_event(invoice, FIRED_EVENTS[event])


def delete_invoice(*, invoice: Invoice) -> None:
    """Move the invoice to the trash (the API answers 404 for it from now on); a locked one
    cannot be deleted (422)."""
    if invoice.locked_at is not None:
        raise Invalid({"document": ["Document cannot be deleted"]})
    with transaction.atomic():
        invoice.deleted_at = timezone.now()
        invoice.save()
        webhooks.record_event(invoice, "invoice_removed")


def restore_invoice(*, invoice: Invoice) -> None:
    """Take the invoice out of the trash (only Fakturoid's web interface can: no API)."""
    if invoice.deleted_at is None:
        raise Invalid({"document": ["Document is not in the trash"]})
    with transaction.atomic():
        invoice.deleted_at = None
        invoice.save()
        webhooks.record_event(invoice, "invoice_restored")


def make_overdue(*, invoice: Invoice) -> None:
    """Move the due date of an unpaid invoice to yesterday, so it is overdue now (a demo)."""
    if invoice.deleted_at is not None or invoice.status not in (
        InvoiceStatus.OPEN,
        InvoiceStatus.SENT,
    ):
        raise Invalid({"status": ["Only an open or sent invoice can become overdue"]})
    if invoice.reported_status() == InvoiceStatus.OVERDUE:
        raise Invalid({"due_on": ["The invoice is overdue already"]})
    yesterday = timezone.localdate() - timedelta(days=1)
    with transaction.atomic():
        invoice.due_on = yesterday
        invoice.due = max((yesterday - invoice.issued_on).days, 0)
        invoice.save()
        webhooks.notice_overdue(account=invoice.account)


def _payment_fields(invoice: Invoice, data: dict) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    fields: dict[str, Any] = {"amount": invoice.remaining_amount, "paid_on": timezone.localdate()}
    if data.get("amount") == "":
        errors["amount"] = ["can't be blank", "is not a number"]
    elif data.get("amount") is not None:
        try:
            fields["amount"] = round_money(to_decimal(data["amount"]))
        except ValueError:
            errors["amount"] = ["is not a number"]
        else:
            if fields["amount"] <= 0:
                errors["amount"] = ["must be greater than 0"]
    if data.get("paid_on") not in (None, ""):
        try:
            fields["paid_on"] = to_date(data["paid_on"])
        except ValueError:
            errors["paid_on"] = ["is not a date"]
    for flag in ("mark_document_as_paid", "send_thank_you_email"):
        if data.get(flag) is not None and not isinstance(data[flag], bool):
            errors[flag] = ["is invalid"]
        fields[flag] = data.get(flag)
    try:
        fields["variable_symbol"] = (
            to_text(data.get("variable_symbol")) or invoice.variable_symbol
        )[:50]
    except TypeError:
        errors["variable_symbol"] = ["is invalid"]
    if errors:
        raise Invalid(errors)
    return fields


def add_payment(*, invoice: Invoice, data: dict) -> Payment:
    """Record a payment (default: the remaining amount, today); one that covers the rest marks
    the invoice paid (`mark_document_as_paid` overrides). Events: `invoice_payment_added`, and
    `invoice_paid` when it became paid; `send_thank_you_email` records a thank-you message.

    Raises 403 on an already paid or cancelled invoice, 422 for an invalid amount or date.
    """
    with transaction.atomic():
        invoice = _locked_row(invoice)
        if invoice.status == InvoiceStatus.PAID:
            raise api_error(403, "forbidden", "Payment cannot be added to already paid invoice")
        if invoice.status == InvoiceStatus.CANCELLED:
            raise api_error(403, "forbidden", "Payments cannot be changed on a cancelled invoice")
        fields = _payment_fields(invoice, data)
        remaining = invoice.remaining_amount
        mark_paid = fields["mark_document_as_paid"]
        if mark_paid is None:
            mark_paid = fields["amount"] >= remaining
        payment = invoice.payments.create(
            paid_on=fields["paid_on"],
            amount=fields["amount"],
            currency=invoice.currency,
            variable_symbol=fields["variable_symbol"],
            send_thank_you_email=bool(fields["send_thank_you_email"]),
        )
        if mark_paid:
            invoice.status = InvoiceStatus.PAID
            invoice.paid_on = fields["paid_on"]
        invoice.save()  # bumps updated_at for a partial payment too
        if payment.send_thank_you_email and _valid_email(invoice.subject.email):
            _record_message(
                invoice,
                email=invoice.subject.email,
                subject=THANK_YOU_SUBJECT,
                message=THANK_YOU_MESSAGE,
            )
        webhooks.record_event(invoice, "invoice_payment_added", payment=payment)
        if mark_paid:
            webhooks.record_event(invoice, "invoice_paid", payment=payment)
    return payment


def remove_payment(*, invoice: Invoice, payment_id: int) -> None:
    """Delete a payment; a paid invoice it no longer covers goes back to open or sent.

    Raises 404 for a payment of another invoice, 403 on a cancelled invoice.
    """
    with transaction.atomic():
        invoice = _locked_row(invoice)
        payment = invoice.payments.filter(pk=payment_id).first()
        if payment is None:
            raise api_error(404, "not_found", "Payment not found")
        if invoice.status == InvoiceStatus.CANCELLED:
            raise api_error(403, "forbidden", "Payments cannot be changed on a cancelled invoice")
        removed = payment_json(payment)
        payment.delete()
        if invoice.status == InvoiceStatus.PAID and invoice.paid_amount < invoice.total:
            invoice.status = invoice.unpaid_status()
            invoice.paid_on = None
        invoice.save()
        webhooks.record_event(invoice, "invoice_payment_removed", payments=[removed])


def _valid_email(value: Any) -> bool:
    try:
        validate_email(value if isinstance(value, str) else "")
    except ValidationError:
        return False
    return True


def _filled_in(template: str, invoice: Invoice) -> str:
    """Fakturoid's template variables (#no#, #vs#, #price#, #due#, #link#, #note#)."""
    link = SiteRoot().build_absolute_uri(
        reverse(
            "sandbox:public_invoice", args=[invoice.account.slug, invoice.token, invoice.number]
        )
    )
    values = {
        "#no#": invoice.number,
        "#vs#": invoice.variable_symbol,
        "#price#": f"{invoice.total} {invoice.currency}",
        "#due#": invoice.due_on.isoformat(),
        "#overdue#": str(max((timezone.localdate() - invoice.due_on).days, 0)),
        "#bank#": invoice.bank_account,
        "#link#": link,
        "#note#": invoice.note,
    }
    for variable, value in values.items():
        template = template.replace(variable, value)
    return template


def _record_message(
    invoice: Invoice, *, email: str, subject: str, message: str, email_copy: str = ""
) -> SentMessage:
    return invoice.messages.create(
        email=email,
        email_copy=email_copy,
        subject=_filled_in(subject, invoice)[:255],
        message=_filled_in(message, invoice),
    )


def _check_email_allowed(invoice: Invoice) -> None:
    account = invoice.account
    refusal = EMAIL_REFUSALS.get(account.email_delivery)
    if refusal is not None:
        raise api_error(403, *refusal)
    if account.email_daily_quota is not None:
        sent_today = SentMessage.objects.filter(
            invoice__account=account, created_at__date=timezone.localdate()
        ).count()
        if sent_today >= account.email_daily_quota:
            raise api_error(
                403,
                "quota_exhausted",
                "You have reached maximum daily quota of sent emails",
            )


def send_message(*, invoice: Invoice, data: dict) -> SentMessage:
    """ "Send" the invoice by e-mail: nothing leaves the machine; the message is recorded, the
    invoice becomes sent (`sent_at`) and `invoice_sent` goes out.

    `email`, `email_copy`, `subject` and `message` default to the subject's e-mail and
    Fakturoid-like texts. Raises 403 (`upgrade_required`, `email_delivery_disabled`,
    `quota_exhausted`) as the account's switches say, 422 for a missing or bad e-mail.
    """
    _check_email_allowed(invoice)
    errors: dict[str, list[str]] = {}
    email = data.get("email") or invoice.subject.email
    if not _valid_email(email):
        errors["email"] = [BAD_EMAIL]
    email_copy = data.get("email_copy") or ""
    if email_copy and not _valid_email(email_copy):
        errors["email_copy"] = [BAD_EMAIL]
    texts = {}
    for field, default in (("subject", DEFAULT_MESSAGE_SUBJECT), ("message", DEFAULT_MESSAGE)):
        try:
            texts[field] = to_text(data.get(field)) or default
        except TypeError:
            errors[field] = ["is invalid"]
    if errors:
        raise Invalid(errors)
    with transaction.atomic():
        sent = _record_message(invoice, email=email, email_copy=email_copy, **texts)
        invoice.mark_sent()
        webhooks.record_event(invoice, "invoice_sent")
    return sent
