"""Payments and the "sent" mark of a created invoice, recorded in Fakturoid from here."""

from datetime import date
from decimal import Decimal

from django.utils.translation import gettext as _

from fakturoid.client import FakturoidClient
from fakturoid.documents import PaymentDocument
from fakturoid.errors import FakturoidError, Forbidden, Refusal
from fakturoid.models import Invoice
from fakturoid.services.sync import apply_document


class NotInFakturoid(Refusal):
    """The invoice has no Fakturoid counterpart to act on."""


def _api(invoice: Invoice) -> FakturoidClient:
    if invoice.state != Invoice.State.CREATED or invoice.fakturoid_id is None:
        raise NotInFakturoid(_("This invoice was not created in Fakturoid."))
    return FakturoidClient.for_agency(invoice.agency)


def _refresh(fakturoid_api: FakturoidClient, invoice: Invoice) -> None:
    """Bring back the invoice's new status at once (one GET) rather than wait for a webhook.
    The action itself is done: should this GET fail, the next webhook or sync brings it."""
    try:
        document = fakturoid_api.get_invoice(invoice.fakturoid_id)
    except FakturoidError:
        return
    apply_document(agency=invoice.agency, document=document)


def record_payment(
    *, invoice: Invoice, paid_on: date, amount: Decimal | None, thank_you: bool
) -> PaymentDocument:
    """Record a payment (the rest of the invoice when `amount` is None) in Fakturoid; a
    payment covering the rest makes the invoice paid. Optionally Fakturoid e-mails the client
    a thank-you.

    Raises NotInFakturoid, Forbidden (already paid or cancelled, in words), ValidationFailed
    (bad amount or date) or another FakturoidError.
    """
    fakturoid_api = _api(invoice)
    data: dict = {"paid_on": paid_on.isoformat(), "send_thank_you_email": thank_you}
    if amount is not None:
        data["amount"] = str(amount)
    try:
        payment = fakturoid_api.create_payment(invoice.fakturoid_id, data)
    except Forbidden as error:
        error.message = _(
            "Fakturoid does not accept a payment of this invoice: it is paid already or "
            "cancelled (%(details)s)."
        ) % {"details": error.message}
        raise
    _refresh(fakturoid_api, invoice)
    return payment


def remove_payment(*, invoice: Invoice, payment_id: int) -> None:
    """Remove one of the invoice's payments in Fakturoid; a paid invoice it no longer covers
    goes back to awaiting payment. Raises NotInFakturoid, NotFound, Forbidden (cancelled
    invoice) or another FakturoidError."""
    fakturoid_api = _api(invoice)
    fakturoid_api.delete_payment(invoice.fakturoid_id, payment_id)
    _refresh(fakturoid_api, invoice)


def mark_as_sent(*, invoice: Invoice) -> None:
    """Mark the invoice as sent in Fakturoid without e-mailing anybody (it went out another
    way). Raises NotInFakturoid, ValidationFailed (cannot be fired now) or another
    FakturoidError."""
    fakturoid_api = _api(invoice)
    fakturoid_api.fire_invoice(invoice.fakturoid_id, "mark_as_sent")
    _refresh(fakturoid_api, invoice)
