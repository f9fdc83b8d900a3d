from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from agencies.decorators import agency_required
from clients.models import Client
from clients.months import format_month, iso_month, parse_month
from fakturoid import services
from fakturoid.client import FakturoidError
from fakturoid.models import Invoice


def _client(request: HttpRequest, pk: int) -> Client:
    return get_object_or_404(Client.objects.for_agency(request.agency), pk=pk)


def _list_url(period=None) -> str:  # noqa: ANN001
    url = reverse("clients:list")
    return f"{url}?month={iso_month(period)}" if period else url


@require_POST
@agency_required
def match(request: HttpRequest, pk: int) -> HttpResponse:
    """Match automatically: link the one contact found, or let the user pick or create one."""
    client = _client(request, pk)
    try:
        result = services.match_client(client=client)
    except FakturoidError as error:
        messages.error(request, services.explain(error))
        return redirect("clients:edit", pk=client.pk)
    if result.is_unique:
        subject = result.subjects[0]
        messages.success(
            request,
            _("Linked to the Fakturoid contact %(name)s (#%(id)s), %(how)s.")
            % {
                "name": subject.name,
                "id": subject.id,
                "how": Client.LinkSource(result.matched_on).label,
            },
        )
        return redirect("clients:edit", pk=client.pk)
    return render(request, "fakturoid/match_result.html", {"client": client, "result": result})


@require_POST
@agency_required
def link(request: HttpRequest, pk: int) -> HttpResponse:
    """Link the client to the contact the user picked among the candidates."""
    client = _client(request, pk)
    source = request.POST.get("source", "")
    if source not in Client.LinkSource.values:
        source = Client.LinkSource.MANUAL
    try:
        subject_id = int(request.POST.get("subject_id", ""))
        if not 0 < subject_id < 2**63:
            raise ValueError
    except ValueError:
        messages.error(request, _("Choose one of the Fakturoid contacts."))
        return redirect("clients:edit", pk=client.pk)
    try:
        subject = services.link_client(client=client, subject_id=subject_id, source=source)
    except FakturoidError as error:
        messages.error(request, services.explain(error))
    else:
        messages.success(
            request,
            _("Linked to the Fakturoid contact %(name)s (#%(id)s).")
            % {"name": subject.name, "id": subject.id},
        )
    return redirect("clients:edit", pk=client.pk)


@require_POST
@agency_required
def create_subject(request: HttpRequest, pk: int) -> HttpResponse:
    """Create the client's contact in Fakturoid from our billing details (or reuse ours)."""
    client = _client(request, pk)
    try:
        subject = services.create_subject_for(client=client)
    except FakturoidError as error:
        messages.error(request, services.explain(error))
    else:
        messages.success(
            request,
            _("The contact %(name)s (#%(id)s) is in Fakturoid and linked.")
            % {"name": subject.name, "id": subject.id},
        )
    return redirect("clients:edit", pk=client.pk)


@require_POST
@agency_required
def match_all(request: HttpRequest) -> HttpResponse:
    """Match every unlinked client of the agency and report what happened to each."""
    try:
        rows = services.match_unlinked_clients(agency=request.agency)
    except FakturoidError as error:
        messages.error(request, services.explain(error))
        return redirect("clients:list")
    return render(request, "fakturoid/match_all_result.html", {"rows": rows})


@agency_required
def invoice_preview(request: HttpRequest, pk: int, month: str) -> HttpResponse:
    """The lines and totals the invoice icon would send for the client and month."""
    client = _client(request, pk)
    period = parse_month(month)
    if period is None:
        messages.error(request, _("Pick a valid month."))
        return redirect("clients:list")
    draft = error = None
    try:
        draft = services.build_invoice(client=client, period=period)
    except FakturoidError as exc:
        error = services.explain(exc)
    existing = client.invoices.filter(period=period).first()
    context = {"client": client, "period": period, "draft": draft, "error": error}
    return render(request, "fakturoid/invoice_preview.html", context | {"existing": existing})


@require_POST
@agency_required
def invoice_create(request: HttpRequest, pk: int) -> HttpResponse:
    """The invoice icon: create the client's invoice for the chosen month in Fakturoid."""
    client = _client(request, pk)
    period = parse_month(request.POST.get("period", ""))
    if period is None:
        messages.error(request, _("Pick a valid month to invoice."))
        return redirect(_list_url())
    try:
        invoice = services.create_invoice(client=client, period=period, user=request.user)
    except services.AlreadyInvoiced as already:
        invoice = already.invoice
        if invoice.html_url:
            messages.info(request, f"{already.message} {invoice.html_url}")
        else:
            messages.info(request, already.message)
    except FakturoidError as error:
        details = {
            "client": client.name,
            "period": format_month(period),
            "error": services.explain(error),
        }
        if error.maybe_processed:
            # It may exist in Fakturoid: "not created" could make someone issue it by hand.
            messages.warning(
                request,
                _(
                    "Fakturoid did not confirm the invoice of %(client)s for %(period)s: "
                    "%(error)s It may have been created all the same: clicking again looks "
                    "it up in Fakturoid first and never creates it twice."
                )
                % details,
            )
        else:
            messages.error(
                request,
                _("The invoice of %(client)s for %(period)s was not created: %(error)s") % details,
            )
    else:
        messages.success(
            request,
            _("Invoice %(number)s for %(client)s (%(period)s) was created in Fakturoid: %(url)s")
            % {
                "number": invoice.number,
                "client": client.name,
                "period": invoice.period_label,
                "url": invoice.html_url,
            },
        )
    return redirect(_list_url(period))


@require_POST
@agency_required
def refresh_statuses(request: HttpRequest) -> HttpResponse:
    """Ask Fakturoid which of the month's invoices were sent, paid or are overdue."""
    period = parse_month(request.POST.get("period", ""))
    if period is None:
        messages.error(request, _("Pick a valid month."))
        return redirect(_list_url())
    try:
        checked = services.refresh_statuses(agency=request.agency, period=period)
    except FakturoidError as error:
        messages.error(request, services.explain(error))
    else:
        messages.success(
            request,
            _("Checked %(count)s invoices of %(period)s in Fakturoid.")
            % {"count": checked, "period": format_month(period)},
        )
    return redirect(_list_url(period))


@agency_required
def invoice_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    """The invoice's PDF, fetched from Fakturoid with the agency's credentials."""
    invoice = get_object_or_404(Invoice.objects.for_agency(request.agency), pk=pk)
    try:
        pdf = services.invoice_pdf(invoice=invoice)
    except FakturoidError as error:
        messages.error(request, services.explain(error))
        return redirect("clients:detail", pk=invoice.client_id)
    if pdf is None:
        messages.info(request, _("Fakturoid is still generating the PDF; try again in a moment."))
        return redirect("clients:detail", pk=invoice.client_id)
    response = HttpResponse(pdf, content_type="application/pdf")
    filename = f"invoice-{invoice.number or invoice.pk}.pdf".replace('"', "")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response
