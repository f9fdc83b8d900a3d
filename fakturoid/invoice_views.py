"""The invoices page (every invoice of the agency) and what can be done to a created invoice
from here: record or remove a payment, mark as sent, e-mail it or a reminder, one or many."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from agencies.decorators import agency_required
from clients.months import iso_month, parse_month
from fakturoid.errors import IntegrationError, explain
from fakturoid.forms import InvoiceFilterForm, PaymentForm
from fakturoid.models import Dispatch, Invoice
from fakturoid.services import payments, sending, sync

INVOICES_PER_PAGE = 50


def _invoice(request: HttpRequest, pk: int) -> Invoice:
    invoices = Invoice.objects.for_agency(request.agency).select_related("agency")
    return get_object_or_404(invoices, pk=pk)


def _back(request: HttpRequest, default: str = "") -> HttpResponse:
    """Back to the page the action was taken on (its filters kept), else to `default` or the
    invoices page."""
    target = request.POST.get("next", "")
    if not target or not url_has_allowed_host_and_scheme(
        target, {request.get_host()}, request.is_secure()
    ):
        target = default or reverse("fakturoid:invoices")
    return redirect(target)


@agency_required
def invoice_list(request: HttpRequest) -> HttpResponse:
    """Every invoice of the agency across clients, filtered; totals and aging of unpaid money."""
    today = timezone.localdate()
    form = InvoiceFilterForm(request.GET or None, agency=request.agency)
    invoices = Invoice.objects.for_agency(request.agency).with_shown_status(today=today)
    if form.is_valid():
        data = form.cleaned_data
        if data["month"]:
            invoices = invoices.filter(period=data["month"])
        if data["status"]:
            invoices = invoices.filter(shown_status=data["status"])
        if data["client"]:
            invoices = invoices.filter(client=data["client"])
        if data["label"]:
            invoices = invoices.filter(client__labels=data["label"])
    created = invoices.filter(state=Invoice.State.CREATED)
    page = Paginator(
        invoices.select_related("client").order_by("-period", "-created_at", "-pk"),
        INVOICES_PER_PAGE,
    ).get_page(request.GET.get("page"))
    totals = created.totals_by_status()
    labels = dict(Invoice.Status.choices)
    for row in totals:
        row["label"] = labels.get(row["shown_status"], row["shown_status"])
    context = {
        "form": form,
        "page": page,
        "invoices": page.object_list,
        "totals": totals,
        "aging": created.aging(today=today),
        "today": today,
    }
    return render(request, "fakturoid/invoice_list.html", context)


@require_POST
@agency_required
def refresh_statuses(request: HttpRequest) -> HttpResponse:
    """List every invoice of the account (40 a page): statuses and payments, invoices deleted
    in Fakturoid and duplicates come back at once. Cron and webhooks keep it cheap between."""
    period = parse_month(request.POST.get("period", ""))
    # A month posted without a page to return to: the clients list of that month, where
    # duplicates and deleted invoices show on the rows.
    back = f"{reverse('clients:list')}?month={iso_month(period)}" if period else ""
    try:
        result = sync.sync_statuses(agency=request.agency, full=True)
    except IntegrationError as error:
        messages.error(request, explain(error))
        return _back(request, back)
    messages.success(
        request,
        ngettext(
            "Statuses are up to date: Fakturoid listed %(listed)s invoice, %(updated)s of "
            "ours changed (%(requests)s requests).",
            "Statuses are up to date: Fakturoid listed %(listed)s invoices, %(updated)s of "
            "ours changed (%(requests)s requests).",
            result.listed,
        )
        % {"listed": result.listed, "updated": result.updated, "requests": result.requests},
    )
    if result.deleted:
        names = ", ".join(f"{i.number} ({i.client.name})" for i in result.deleted)
        messages.warning(
            request,
            _("Deleted in Fakturoid: %(invoices)s. The month can be issued again.")
            % {"invoices": names},
        )
    if result.duplicated:
        messages.warning(
            request,
            ngettext(
                "Fakturoid holds %(count)s invoice twice: cancel one (see the clients list).",
                "Fakturoid holds %(count)s invoices twice: cancel one of each "
                "(see the clients list).",
                result.duplicated,
            )
            % {"count": result.duplicated},
        )
    return _back(request, back)


@require_POST
@agency_required
def payment_create(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = _invoice(request, pk)
    form = PaymentForm(request.POST, invoice=invoice)
    if not form.is_valid():
        for field, errors in form.errors.items():
            label = form.fields[field].label if field in form.fields else ""
            messages.error(request, f"{label}: {' '.join(errors)}" if label else " ".join(errors))
        return _back(request)
    try:
        payments.record_payment(
            invoice=invoice,
            paid_on=form.cleaned_data["paid_on"],
            amount=form.cleaned_data["amount"],
            thank_you=form.cleaned_data["thank_you"],
        )
    except IntegrationError as error:
        messages.error(request, explain(error))
    else:
        messages.success(
            request, _("The payment of invoice %(number)s was recorded.") % _names(invoice)
        )
    return _back(request)


@require_POST
@agency_required
def payment_delete(request: HttpRequest, pk: int, payment_id: int) -> HttpResponse:
    invoice = _invoice(request, pk)
    try:
        payments.remove_payment(invoice=invoice, payment_id=payment_id)
    except IntegrationError as error:
        messages.error(request, explain(error))
    else:
        messages.success(
            request, _("The payment of invoice %(number)s was removed.") % _names(invoice)
        )
    return _back(request)


@require_POST
@agency_required
def mark_sent(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = _invoice(request, pk)
    try:
        payments.mark_as_sent(invoice=invoice)
    except IntegrationError as error:
        messages.error(request, explain(error))
    else:
        messages.success(request, _("Invoice %(number)s is marked as sent.") % _names(invoice))
    return _back(request)


@require_POST
@agency_required
def send_email(request: HttpRequest, pk: int) -> HttpResponse:
    """E-mail one invoice (or with kind=reminder, a payment reminder) through Fakturoid."""
    invoice = _invoice(request, pk)
    reminder = request.POST.get("kind") == Dispatch.Kind.REMINDER
    try:
        sending.send_invoice_email(invoice=invoice, reminder=reminder)
    except IntegrationError as error:
        messages.error(request, explain(error))
    else:
        text = (
            _("A payment reminder of invoice %(number)s was sent.")
            if reminder
            else _("Invoice %(number)s was sent by e-mail.")
        )
        messages.success(request, text % _names(invoice))
    return _back(request)


@require_POST
@agency_required
def send_many(request: HttpRequest) -> HttpResponse:
    """E-mail the chosen invoices (or reminders) in the background; show the progress."""
    kind = request.POST.get("kind", "")
    ids = [int(value) for value in request.POST.getlist("invoice") if value.isdigit()]
    if kind not in Dispatch.Kind.values or not ids:
        messages.error(request, _("Tick the invoices to send first."))
        return _back(request)
    dispatch = sending.start_dispatch(
        agency=request.agency,
        invoice_ids=ids,
        kind=kind,
        user=request.user,
        language=get_language() or "en",
    )
    return redirect("fakturoid:dispatch", pk=dispatch.pk)


@agency_required
def dispatch_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress of a batch of e-mails: one row per invoice, filled in as it is done."""
    dispatch = get_object_or_404(Dispatch, pk=pk, agency=request.agency)
    items = list(dispatch.items.select_related("invoice__client"))
    counts = {state: 0 for state in ("waiting", "sent", "failed")}
    for item in items:
        counts[item.state] += 1
    context = {"dispatch": dispatch, "items": items, "counts": counts, "total": len(items)}
    return render(request, "fakturoid/dispatch_detail.html", context)


def _names(invoice: Invoice) -> dict[str, str]:
    return {"number": invoice.number or invoice.custom_id}
