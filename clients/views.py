from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Prefetch, ProtectedError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from agencies.decorators import agency_required
from audit.models import ActivityEntry
from clients import exports
from clients.forms import ClientEditor
from clients.models import Client, ClientQuerySet, Project
from clients.months import default_period, format_month, iso_month, parse_month

CLIENTS_PER_PAGE = 50
CLIENT_ACTIVITY_SHOWN = 50
SORTS = {"name": ["name", "pk"], "-name": ["-name", "-pk"]}


def list_filters(request: HttpRequest) -> dict:
    """The clients list's filters from the query string: month, search, label and sort."""
    agency = request.agency
    labels = list(agency.labels.all())
    sort = request.GET.get("sort", "name")
    return {
        "month": parse_month(request.GET.get("month", "")) or default_period(agency),
        "labels": labels,
        "q": request.GET.get("q", "").strip(),
        "label": next((item for item in labels if str(item.pk) == request.GET.get("label")), None),
        "sort": sort if sort in SORTS else "name",
    }


def filtered_clients(request: HttpRequest, filters: dict) -> ClientQuerySet:
    return (
        Client.objects.for_agency(request.agency)
        .matching(q=filters["q"], label=filters["label"])
        .order_by(*SORTS[filters["sort"]])
    )


def clients_list_context(request: HttpRequest) -> dict:
    """Everything the clients list shows: the filtered, sorted page of clients and the filters.

    The paginator counts and pages the bare filtered clients; the figures (projects, what the
    month's invoice would bill, the month's invoice, labels) are prefetched for the page shown
    only, so the number of queries and their cost do not grow with the number of clients.
    """
    filters = list_filters(request)
    month = filters["month"]
    # Prefetches run for the sliced page only; count() ignores them.
    clients = (
        filtered_clients(request, filters)
        .with_billable_items(month=month)
        .with_month_invoices(month=month)
        .prefetch_related("labels")
    )
    page = Paginator(clients, CLIENTS_PER_PAGE).get_page(request.GET.get("page"))
    return filters | {
        "page": page,
        "clients": page.object_list,
        "month_iso": iso_month(month),
        "month_label": format_month(month),
        "can_invoice": request.agency.fakturoid_ready,
        "filtered": bool(filters["q"] or filters["label"]),
        "list_url": request.get_full_path(),
        "export_query": request.GET.urlencode(),
    }


@agency_required
def client_export(request: HttpRequest, file_format: str) -> HttpResponse:
    """The clients the list's filters keep, as CSV or XLSX (every page, not only the shown)."""
    if file_format not in exports.FORMATS:
        raise Http404
    filters = list_filters(request)
    table = exports.clients_table(filtered_clients(request, filters), month=filters["month"])
    return exports.export_response(table, file_format=file_format, filename=_("clients"))


@agency_required
def client_list(request: HttpRequest) -> HttpResponse:
    return render(request, "clients/client_list.html", clients_list_context(request))


@agency_required
def client_detail(request: HttpRequest, pk: int) -> HttpResponse:
    clients = Client.objects.for_agency(request.agency).prefetch_related(
        "labels",
        "contacts",
        Prefetch("projects", queryset=Project.objects.prefetch_related("billing_items")),
    )
    client = get_object_or_404(clients, pk=pk)
    invoices = client.invoices.select_related("created_by").order_by("-period", "-created_at")
    activity = ActivityEntry.objects.for_client(client)[:CLIENT_ACTIVITY_SHOWN]
    return render(
        request,
        "clients/client_detail.html",
        {"client": client, "invoices": invoices, "activity": activity},
    )


@agency_required
def client_create(request: HttpRequest) -> HttpResponse:
    return _edit(request, client=None)


@agency_required
def client_edit(request: HttpRequest, pk: int) -> HttpResponse:
    client = get_object_or_404(Client.objects.for_agency(request.agency), pk=pk)
    return _edit(request, client=client)


def _edit(request: HttpRequest, *, client: Client | None) -> HttpResponse:
    editor = ClientEditor(request.POST or None, agency=request.agency, client=client)
    if request.method == "POST" and editor.is_valid():
        saved = editor.save()
        messages.success(request, _("%(client)s was saved.") % {"client": saved.name})
        if editor.form.subject is not None:
            messages.success(
                request,
                _("Linked to the Fakturoid contact %(name)s (#%(id)s).")
                % {"name": editor.form.subject.name, "id": editor.form.subject.id},
            )
        if "continue" in request.POST:
            return redirect("clients:edit", saved.pk)
        return redirect("clients:detail", saved.pk)
    if request.method == "POST":
        messages.error(request, _("Nothing was saved: please correct the errors below."))
    return render(request, "clients/client_form.html", {"editor": editor, "client": client})


@agency_required
def client_delete(request: HttpRequest, pk: int) -> HttpResponse:
    client = get_object_or_404(Client.objects.for_agency(request.agency), pk=pk)
    if request.method == "POST":
        try:
            client.delete()
        except ProtectedError:
            messages.error(
                request,
                _("%(client)s has invoices and cannot be deleted.") % {"client": client.name},
            )
            return redirect("clients:detail", client.pk)
        messages.success(request, _("%(client)s was deleted.") % {"client": client.name})
        return redirect("clients:list")
    return render(
        request,
        "clients/client_confirm_delete.html",
        {"client": client, "has_invoices": client.invoices.exists()},
    )
