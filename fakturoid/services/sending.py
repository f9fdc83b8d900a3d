"""E-mail through Fakturoid (`message.json`): an invoice, again, or a reminder of an overdue one.

One invoice is sent inside the request; many become a Dispatch with one background task per
invoice, so the request budget paces them and the page can show progress.
"""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from fakturoid.client import FakturoidClient
from fakturoid.errors import IntegrationError, Refusal, explain
from fakturoid.models import Dispatch, DispatchItem, Invoice
from fakturoid.services.sync import apply_document


class NotOverdue(Refusal):
    """A reminder was asked for an invoice that is not overdue."""


def reminder_text() -> dict[str, str]:
    """Subject and body of a payment reminder in the active language; Fakturoid fills in its
    #no#, #price#, #due#, #overdue#, #link#, #bank# and #vs# variables."""
    return {
        "subject": _("Reminder: invoice #no# is overdue"),
        "message": _(
            "Hello,\n\nour invoice #no# of #price# was due on #due# and is #overdue# days "
            "overdue. You can see it here: #link#\n\nPlease pay it to the account #bank# with "
            "the variable symbol #vs#. If you have paid it already, thank you and please "
            "ignore this message."
        ),
    }


def send_invoice_email(
    *, invoice: Invoice, reminder: bool = False, background: bool = False
) -> None:
    """E-mail the invoice to the client's address in Fakturoid (or, with `reminder`, a payment
    reminder of an overdue invoice), then bring back its new state. `background` (a
    dispatch's task) waits for the shared request budget, leaving the reserve to people.

    Raises NotOverdue, ConfigurationError, Forbidden (free plan `upgrade_required`,
    `quota_exhausted`, `email_delivery_disabled`), ValidationFailed (bad e-mail) or another
    FakturoidError.
    """
    if reminder and invoice.current_status != Invoice.Status.OVERDUE:
        raise NotOverdue(_("A reminder can only be sent for an overdue invoice."))
    fakturoid_api = FakturoidClient.for_agency(invoice.agency, background=background)
    fakturoid_api.send_invoice_message(invoice.fakturoid_id, reminder_text() if reminder else {})
    document = fakturoid_api.get_invoice(invoice.fakturoid_id)
    apply_document(agency=invoice.agency, document=document)


def start_dispatch(*, agency, invoice_ids: list[int], kind: str, user, language: str) -> Dispatch:  # noqa: ANN001
    """A Dispatch of the agency's created invoices among `invoice_ids` (reminders: only the
    overdue ones), each sent by its own background task after the commit."""
    from fakturoid import tasks  # tasks imports the services

    invoices = Invoice.objects.for_agency(agency).filter(
        pk__in=invoice_ids, state=Invoice.State.CREATED, fakturoid_id__isnull=False
    )
    if kind == Dispatch.Kind.REMINDER:
        invoices = invoices.with_shown_status(today=timezone.localdate()).filter(
            shown_status=Invoice.Status.OVERDUE
        )
    with transaction.atomic():
        dispatch = Dispatch.objects.create(
            agency=agency, kind=kind, created_by=user, language=language
        )
        items = DispatchItem.objects.bulk_create(
            DispatchItem(dispatch=dispatch, invoice=invoice) for invoice in invoices
        )
        ids = [item.pk for item in items]
        transaction.on_commit(lambda: [tasks.send_dispatch_item.enqueue(pk) for pk in ids])
    return dispatch


def send_item(*, item_id: int) -> str:
    """Send one waiting item of a dispatch; returns its state. A rate limit puts it back in
    the queue for when the budget is refilled; any other failure is written on the item."""
    from fakturoid import tasks
    from fakturoid.errors import RateLimited

    item = DispatchItem.objects.select_related("dispatch", "invoice__agency").get(pk=item_id)
    if item.state != DispatchItem.State.WAITING:
        return item.state
    reminder = item.dispatch.kind == Dispatch.Kind.REMINDER
    try:
        with translation.override(item.dispatch.language):
            send_invoice_email(invoice=item.invoice, reminder=reminder, background=True)
    except RateLimited as error:
        later = timezone.now() + timedelta(seconds=(error.retry_after or 60) + 1)
        tasks.send_dispatch_item.using(run_after=later).enqueue(item.pk)
        return item.state
    except IntegrationError as error:
        with translation.override(item.dispatch.language):
            item.error = explain(error)
        item.state = DispatchItem.State.FAILED
    else:
        item.state = DispatchItem.State.SENT
    item.save(update_fields=["state", "error", "updated_at"])
    return item.state
