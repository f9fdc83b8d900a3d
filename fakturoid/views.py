from urllib.parse import urlsplit

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from agencies.decorators import agency_required, owner_required
from agencies.models import FakturoidSettings
from clients import exports as client_exports
from clients.models import Client
from clients.months import format_month, iso_month, parse_month
from clients.views import list_filters
from fakturoid import exports
from fakturoid.errors import (
    AlreadyInvoiced,
    AuthenticationError,
    ConfigurationError,
    IntegrationError,
    LookupFailed,
    NoAccessToAccount,
    NotSettled,
    explain,
)
from fakturoid.forms import FakturoidSettingsForm
from fakturoid.models import ApiCall, Invoice, StatusSync, WebhookRegistration
from fakturoid.services import connection, invoicing, matching, sync, webhooks


def _client(request: HttpRequest, pk: int) -> Client:
    return get_object_or_404(Client.objects.for_agency(request.agency), pk=pk)


def _list_url(period=None) -> str:  # noqa: ANN001
    url = reverse("clients:list")
    return f"{url}?month={iso_month(period)}" if period else url


def _back_to_list(request: HttpRequest, period=None) -> str:  # noqa: ANN001
    """The clients list as the user left it (search, label, sort, page), sent by the list's
    forms as `next`; the plain list of `period` when `next` is missing or not the list."""
    back = request.POST.get("next", "")
    if urlsplit(back).path == reverse("clients:list") and url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        query = QueryDict(urlsplit(back).query, mutable=True)
        if period is not None:
            query["month"] = iso_month(period)
        return f"{reverse('clients:list')}?{query.urlencode()}"
    return _list_url(period)


@require_POST
@agency_required
def match(request: HttpRequest, pk: int) -> HttpResponse:
    """Match automatically: link a certain match (IČO/DIČ), else let the user confirm one of the
    suggestions (e-mail, name) seeing both sides, or create the contact."""
    client = _client(request, pk)
    try:
        result = matching.match_client(client=client)
    except IntegrationError as error:
        messages.error(request, explain(error))
        return redirect("clients:edit", pk=client.pk)
    if result.is_certain:
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
    context = {"client": client, "result": result} | _suggestions(client, result)
    return render(request, "fakturoid/match_result.html", context)


def _suggestions(client: Client, result: matching.MatchResult) -> dict:
    """The candidates and conflicts of a match, each with what the user must know."""
    return {
        "candidates": [(s, matching.link_warning(client, s)) for s in result.subjects],
        "conflicts": [(s, matching.link_warning(client, s)) for s in result.conflicts],
    }


def _link(request: HttpRequest, client: Client, subject_id: int, source: str) -> None:
    """Link the client to the contact the user confirmed, and say so (with any warning)."""
    try:
        subject = matching.link_client(client=client, subject_id=subject_id, source=source)
    except IntegrationError as error:
        messages.error(request, f"{client.name}: {explain(error)}")
        return
    messages.success(
        request,
        _("Linked to the Fakturoid contact %(name)s (#%(id)s).")
        % {"name": subject.name, "id": subject.id},
    )
    warning = matching.link_warning(client, subject)
    if warning:
        messages.warning(request, f"{client.name}: {warning}")


def _subject_id(value: str) -> int | None:
    try:
        subject_id = int(value)
    except ValueError:
        return None
    return subject_id if 0 < subject_id < 2**63 else None


def _source(value: str) -> str:
    return value if value in Client.LinkSource.values else Client.LinkSource.MANUAL


@require_POST
@agency_required
def link(request: HttpRequest, pk: int) -> HttpResponse:
    """Link the client to the contact the user picked among the candidates."""
    client = _client(request, pk)
    subject_id = _subject_id(request.POST.get("subject_id", ""))
    if subject_id is None:
        messages.error(request, _("Choose one of the Fakturoid contacts."))
        return redirect("clients:edit", pk=client.pk)
    _link(request, client, subject_id, _source(request.POST.get("source", "")))
    return redirect("clients:edit", pk=client.pk)


@require_POST
@agency_required
def unlink(request: HttpRequest, pk: int) -> HttpResponse:
    """Unlink the client from its Fakturoid contact (nothing changes in Fakturoid)."""
    client = _client(request, pk)
    client.link_to_contact(None, source="")
    messages.success(
        request,
        _("%(client)s is no longer linked to a Fakturoid contact.") % {"client": client.name},
    )
    return redirect("clients:edit", pk=client.pk)


@require_POST
@agency_required
def link_suggestions(request: HttpRequest) -> HttpResponse:
    """ "Match all unlinked clients", second step: link the suggestions the user confirmed."""
    chosen = {
        int(key.removeprefix("client-")): _subject_id(value)
        for key, value in request.POST.items()
        if key.startswith("client-") and key.removeprefix("client-").isdigit()
    }
    clients = Client.objects.for_agency(request.agency).filter(
        pk__in=[pk for pk, subject_id in chosen.items() if subject_id]
    )
    for client in clients:
        if client.fakturoid_subject_id:
            continue  # linked meanwhile: the newer link stays
        source = _source(request.POST.get(f"source-{client.pk}", ""))
        _link(request, client, chosen[client.pk], source)
    if not clients:
        messages.info(request, _("No contact was chosen; nothing was linked."))
    return redirect("clients:list")


@require_POST
@agency_required
def create_subject(request: HttpRequest, pk: int) -> HttpResponse:
    """Create the client's contact in Fakturoid from our billing details (or reuse ours)."""
    client = _client(request, pk)
    try:
        subject = matching.create_subject_for(client=client)
    except IntegrationError as error:
        messages.error(request, explain(error))
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
    """Match every unlinked client of the agency: link the certain ones, list the suggestions
    for confirmation on one screen."""
    try:
        rows = matching.match_unlinked_clients(agency=request.agency)
    except IntegrationError as error:
        messages.error(request, explain(error))
        return redirect("clients:list")
    suggestions = [
        (row, _suggestions(row.client, row.result)) for row in rows if row.result is not None
    ]
    context = {"rows": rows, "suggestions": suggestions}
    return render(request, "fakturoid/match_all_result.html", context)


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
        draft = invoicing.build_invoice(client=client, period=period)
    except IntegrationError as exc:
        error = explain(exc)
    existing = client.invoices.filter(period=period).first()
    context = {"client": client, "period": period, "draft": draft, "error": error}
    return render(request, "fakturoid/invoice_preview.html", context | {"existing": existing})


def _back_to(request: HttpRequest, client: Client, period) -> HttpResponse:  # noqa: ANN001
    """Where an invoice action returns: the client's page when it was started there."""
    if request.POST.get("return_to") == "client":
        return redirect("clients:detail", pk=client.pk)
    return redirect(_back_to_list(request, period))


@require_POST
@agency_required
def invoice_create(request: HttpRequest, pk: int) -> HttpResponse:
    """The invoice icon (and "Check and finish"): create the client's invoice for the chosen
    month in Fakturoid, or finish an attempt whose outcome is unknown."""
    client = _client(request, pk)
    period = parse_month(request.POST.get("period", ""))
    if period is None:
        messages.error(request, _("Pick a valid month to invoice."))
        return redirect(_list_url())
    try:
        invoice = invoicing.create_invoice(client=client, period=period, user=request.user)
    except AlreadyInvoiced as already:
        _tell_already_invoiced(request, already)
    except (NotSettled, LookupFailed) as uncertain:
        messages.warning(request, uncertain.message)
    except IntegrationError as error:
        _tell_failure(request, client=client, period=period, error=error)
    else:
        _tell_created(request, invoice)
    return _back_to(request, client, period)


def _tell_created(request: HttpRequest, invoice: Invoice) -> None:
    messages.success(
        request,
        _("Invoice %(number)s for %(client)s (%(period)s) was created in Fakturoid: %(url)s")
        % {
            "number": invoice.number,
            "client": invoice.client.name,
            "period": invoice.period_label,
            "url": invoice.html_url,
        },
    )


def _tell_already_invoiced(request: HttpRequest, already: AlreadyInvoiced) -> None:
    invoice = already.invoice
    if invoice.can_reissue:
        messages.info(
            request,
            _(
                "Invoice %(number)s of %(client)s for %(period)s is %(status)s; to issue the "
                "month again, use “Issue again” on the client's page."
            )
            % {
                "number": invoice.number,
                "client": invoice.client.name,
                "period": invoice.period_label,
                "status": invoice.get_status_display(),
            },
        )
    elif invoice.html_url:
        messages.info(request, f"{already.message} {invoice.html_url}")
    else:
        messages.info(request, already.message)


def _tell_failure(request: HttpRequest, *, client: Client, period, error: IntegrationError) -> None:  # noqa: ANN001
    details = {"client": client.name, "period": format_month(period), "error": explain(error)}
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


@agency_required
def invoice_reissue(request: HttpRequest, pk: int) -> HttpResponse:
    """Issue a month again after its invoice was deleted or cancelled in Fakturoid: a page
    naming the old invoice (GET), then the new invoice under a new custom_id (POST)."""
    invoice = get_object_or_404(
        Invoice.objects.for_agency(request.agency).select_related("client"), pk=pk
    )
    if not invoice.can_reissue:
        messages.error(
            request,
            _("Invoice %(number)s is neither deleted nor cancelled in Fakturoid.")
            % {"number": invoice.number or invoice.custom_id},
        )
        return redirect("clients:detail", pk=invoice.client_id)
    if request.method != "POST":
        draft = error = None
        try:
            draft = invoicing.build_invoice(client=invoice.client, period=invoice.period)
        except IntegrationError as exc:
            error = explain(exc)
        context = {"invoice": invoice, "draft": draft, "error": error}
        return render(request, "fakturoid/invoice_reissue.html", context)
    try:
        new = invoicing.reissue_invoice(invoice=invoice, user=request.user)
    except AlreadyInvoiced as already:
        _tell_already_invoiced(request, already)
    except IntegrationError as error:
        _tell_failure(request, client=invoice.client, period=invoice.period, error=error)
    else:
        _tell_created(request, new)
    return redirect("clients:detail", pk=invoice.client_id)


@agency_required
def invoice_export(request: HttpRequest, file_format: str) -> HttpResponse:
    """The invoices of the clients list's month and clients (search, label) as CSV or XLSX."""
    if file_format not in client_exports.FORMATS:
        raise Http404
    filters = list_filters(request)
    clients = Client.objects.for_agency(request.agency).matching(
        q=filters["q"], label=filters["label"]
    )
    invoices = Invoice.objects.for_agency(request.agency).filter(
        period=filters["month"], client__in=clients
    )
    table = exports.invoices_table(invoices)
    return client_exports.export_response(table, file_format=file_format, filename=_("invoices"))


PDF_PAGE_RETRIES = 10  # The waiting page reloads itself this many times, then offers a link.
PDF_PAGE_RETRY_SECONDS = 3


@agency_required
def invoice_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    """The invoice's PDF, fetched from Fakturoid with the agency's credentials; while Fakturoid
    is still generating it, a page that tries again by itself."""
    invoice = get_object_or_404(Invoice.objects.for_agency(request.agency), pk=pk)
    try:
        pdf = sync.invoice_pdf(invoice=invoice)
    except IntegrationError as error:
        messages.error(request, explain(error))
        return redirect("clients:detail", pk=invoice.client_id)
    if pdf is None:
        try:
            attempt = min(int(request.GET.get("attempt", "1")), PDF_PAGE_RETRIES)
        except ValueError:
            attempt = 1
        context = {
            "invoice": invoice,
            "attempt": attempt,
            "next_attempt": attempt + 1 if attempt < PDF_PAGE_RETRIES else None,
            "seconds": PDF_PAGE_RETRY_SECONDS,
        }
        return render(request, "fakturoid/invoice_pdf_pending.html", context)
    response = HttpResponse(pdf, content_type="application/pdf")
    filename = f"invoice-{invoice.number or invoice.pk}.pdf".replace('"', "")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


# --- Settings → Fakturoid and the integration log -------------------------------------------


@agency_required
@owner_required
def fakturoid_settings(request: HttpRequest) -> HttpResponse:
    """Settings → Fakturoid: save the credentials after checking them with Fakturoid."""
    fakturoid = request.agency.fakturoid_settings or FakturoidSettings(agency=request.agency)
    form = FakturoidSettingsForm(request.POST or None, instance=fakturoid)
    if request.method == "POST" and form.is_valid():
        try:
            connection.connect(
                fakturoid=form.instance, credentials_changed=form.credentials_changed
            )
        except connection.SavedUnverified as error:
            messages.warning(
                request,
                _("Saved, but not verified: %(error)s Use “Verify now” when Fakturoid is back.")
                % {"error": error.message},
            )
            return redirect("fakturoid:settings")
        except IntegrationError as error:
            field, message = _connection_error(error)
            form.add_error(field, message)
        else:
            messages.success(
                request,
                _("Connected to Fakturoid: %(name)s.") % {"name": form.instance.account_name},
            )
            return redirect("fakturoid:settings")
    # The stored row, not form.instance: after a failed save that holds the unsaved input.
    fakturoid = FakturoidSettings.objects.filter(agency=request.agency).first()
    context = {
        "form": form,
        "fakturoid": fakturoid,
        "webhook": WebhookRegistration.objects.filter(agency=request.agency).first(),
        "last_update": webhooks.last_received_at(agency=request.agency),
        "status_sync": StatusSync.objects.filter(agency=request.agency).first(),
    }
    return render(request, "fakturoid/settings.html", context)


@require_POST
@agency_required
@owner_required
def fakturoid_verify(request: HttpRequest) -> HttpResponse:
    fakturoid = get_object_or_404(FakturoidSettings, agency=request.agency)
    if not fakturoid.is_configured:
        messages.error(request, _("Enter the Fakturoid credentials first."))
        return redirect("fakturoid:settings")
    try:
        connection.verify_connection(fakturoid=fakturoid)
    except IntegrationError as error:
        messages.error(request, explain(error))
    else:
        fakturoid.save()
        messages.success(
            request, _("Connected to Fakturoid: %(name)s.") % {"name": fakturoid.account_name}
        )
    return redirect("fakturoid:settings")


@require_POST
@agency_required
@owner_required
def fakturoid_disconnect(request: HttpRequest) -> HttpResponse:
    fakturoid = get_object_or_404(FakturoidSettings, agency=request.agency)
    try:
        webhooks.stop_updates(agency=request.agency)
    except IntegrationError as error:
        # The credentials go all the same; the receiver stops accepting (401) what the
        # webhook left in Fakturoid still sends, and Fakturoid gives up after its retries.
        WebhookRegistration.objects.filter(agency=request.agency).delete()
        messages.warning(request, explain(error))
    fakturoid.disconnect()
    messages.success(request, _("Fakturoid was disconnected; the credentials were removed."))
    return redirect("fakturoid:settings")


def _connection_error(error: IntegrationError) -> tuple[str | None, str]:
    """Which field of Settings → Fakturoid a failed verification belongs to, and what to say."""
    if isinstance(error, AuthenticationError):
        return "api_client_secret", explain(error)
    if isinstance(error, NoAccessToAccount):
        return "account_slug", error.message
    if isinstance(error, ConfigurationError):
        return "contact_email", error.message
    return None, explain(error)


API_CALLS_PER_PAGE = 100


@agency_required
@owner_required
def integration_log(request: HttpRequest) -> HttpResponse:
    """Settings → Integration log: the agency's requests to Fakturoid, newest first."""
    calls = ApiCall.objects.filter(agency=request.agency)
    errors_only = request.GET.get("errors") == "1"
    if errors_only:
        calls = calls.filter(Q(status__isnull=True) | Q(status__gte=400))
    page = Paginator(calls, API_CALLS_PER_PAGE).get_page(request.GET.get("page"))
    duplicated = Invoice.objects.for_agency(request.agency).with_duplicates().count()
    return render(
        request,
        "fakturoid/integration_log.html",
        {
            "page": page,
            "calls": page.object_list,
            "errors_only": errors_only,
            "duplicated": duplicated,
        },
    )
