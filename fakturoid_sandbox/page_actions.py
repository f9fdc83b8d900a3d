"""The buttons of the sandbox's invoice page: what a person does in Fakturoid's web interface
(a payment arrives, the invoice is deleted or restored, time passes), so a demo shows statuses
flowing back to the app through webhooks without writing code.

POST + CSRF like any form; no login, as the other sandbox pages (they stand for Fakturoid's).
"""

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fakturoid_sandbox import invoice_actions
from fakturoid_sandbox.errors import ApiError
from fakturoid_sandbox.models import Account, Invoice


def _mark_paid(request: HttpRequest, invoice: Invoice) -> str:
    invoice_actions.add_payment(invoice=invoice, data={})
    return _("The invoice is paid in full.")


def _add_payment(request: HttpRequest, invoice: Invoice) -> str:
    # People type "1 500,50": spaces and a decimal comma are fine here.
    amount = request.POST.get("amount", "").replace(" ", "").replace("\xa0", "").replace(",", ".")
    payment = invoice_actions.add_payment(invoice=invoice, data={"amount": amount})
    return _("A payment of %(amount)s %(currency)s was added.") % {
        "amount": payment.amount,
        "currency": payment.currency,
    }


def _delete(request: HttpRequest, invoice: Invoice) -> str:
    invoice_actions.delete_invoice(invoice=invoice)
    return _("The invoice was moved to the trash.")


def _restore(request: HttpRequest, invoice: Invoice) -> str:
    invoice_actions.restore_invoice(invoice=invoice)
    return _("The invoice was restored from the trash.")


def _make_overdue(request: HttpRequest, invoice: Invoice) -> str:
    invoice_actions.make_overdue(invoice=invoice)
    return _("The due date moved to yesterday: the invoice is overdue.")


ACTIONS: dict[str, Callable[[HttpRequest, Invoice], str]] = {
    "mark-paid": _mark_paid,
    "add-payment": _add_payment,
    "delete": _delete,
    "restore": _restore,
    "make-overdue": _make_overdue,
}


def describe(error: ApiError) -> str:
    """The API's own words for a refusal: `field: message` pairs or the description."""
    if "errors" in error.body:
        return "; ".join(
            f"{field}: {', '.join(texts)}" for field, texts in error.body["errors"].items()
        )
    return str(error.body.get("error_description", error.body.get("error", "")))


@login_not_required
@require_POST
def invoice_action(request: HttpRequest, slug: str, pk: int, action: str) -> HttpResponse:
    """Carry out one button's action and come back to the invoice page with what happened."""
    handler = ACTIONS.get(action)
    if handler is None:
        raise Http404("Unknown action")
    account = get_object_or_404(Account, slug=slug)
    invoice = get_object_or_404(account.invoices.select_related("account", "subject"), pk=pk)
    if invoice.deleted_at is not None and action != "restore":
        messages.error(request, _("The invoice is in the trash: restore it first."))
        return redirect("sandbox:invoice_page", slug=account.slug, pk=invoice.pk)
    try:
        done = handler(request, invoice)
    except ApiError as error:
        messages.error(request, _("Not done: %(reason)s") % {"reason": describe(error)})
    else:
        messages.success(request, done)
    return redirect("sandbox:invoice_page", slug=account.slug, pk=invoice.pk)
