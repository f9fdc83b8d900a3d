"""Invoicing → Month-end run: the review, the run's live progress, and the list of runs."""

from datetime import timedelta

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from agencies.decorators import agency_required
from clients.months import default_period, iso_month, parse_month
from fakturoid.errors import IntegrationError, explain
from fakturoid.models import InvoiceRun, InvoiceRunItem
from fakturoid.services import review, runs


def _run(request: HttpRequest, pk: int) -> InvoiceRun:
    return get_object_or_404(InvoiceRun.objects.for_agency(request.agency), pk=pk)


@agency_required
def run_review(request: HttpRequest) -> HttpResponse:
    """Pick the month; every client with what the run would do to it. No request to
    Fakturoid."""
    period = default_period(request.agency)
    if "month" in request.GET:
        period = parse_month(request.GET["month"])
        if period is None:
            messages.error(request, _("Pick a valid month (YYYY-MM)."))
            return redirect("fakturoid:run_review")
    context = {"period": period, "review": None, "error": None}
    try:
        context["review"] = review.review_month(agency=request.agency, period=period)
    except IntegrationError as error:
        context["error"] = explain(error)
    context["active"] = (
        InvoiceRun.objects.for_agency(request.agency).active().filter(period=period).first()
    )
    return render(request, "fakturoid/run_review.html", context)


@require_POST
@agency_required
def run_start(request: HttpRequest) -> HttpResponse:
    """Start the run for the ticked clients (or show the month's run already in progress)."""
    period = parse_month(request.POST.get("period", ""))
    if period is None:
        messages.error(request, _("Pick a valid month (YYYY-MM)."))
        return redirect("fakturoid:run_review")
    client_ids = [int(pk) for pk in request.POST.getlist("client") if pk.isdigit()]
    try:
        run, started = runs.start_run(
            agency=request.agency,
            period=period,
            user=request.user,
            client_ids=client_ids,
            send_email=request.POST.get("send_email") == "on",
        )
    except runs.RunRefused as refusal:
        messages.error(request, str(refusal))
        return redirect(f"{reverse('fakturoid:run_review')}?month={iso_month(period)}")
    if not started:
        messages.info(request, _("This month's run is already in progress: here it is."))
    return redirect("fakturoid:run_detail", pk=run.pk)


@agency_required
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The run's progress: counts, time left and a row per client (live with JavaScript)."""
    run = _run(request, pk)
    items = run.items.select_related("client", "invoice")
    done = runs.progress(run=run)
    context = {
        "run": run,
        "progress": done,
        "left_label": time_left_label(done.seconds_left),
        "items": items,
    }
    return render(request, "fakturoid/run_detail.html", context)


@agency_required
def run_progress(request: HttpRequest, pk: int) -> JsonResponse:
    """The run's state for the progress page's script: counts, and the items changed since
    `?since=` (all of them without it)."""
    run = _run(request, pk)
    items = run.items.select_related("client", "invoice")
    since = parse_datetime(request.GET.get("since", "") or "")
    if since is not None:
        items = items.filter(updated_at__gte=since)
    # The next poll asks from a little before now: an item written at T may commit after an
    # item written later was already sent.
    next_since = timezone.now() - timedelta(seconds=10)
    data = run_state(run) | {"since": next_since.isoformat()}
    data["items"] = [item_state(item) for item in items]
    return JsonResponse(data)


def run_state(run: InvoiceRun) -> dict:
    done = runs.progress(run=run)
    return {
        "state": run.state,
        "state_label": run.get_state_display(),
        "pause_reason": run.pause_reason,
        "total": done.total,
        "created": done.created,
        "failed": done.failed,
        "skipped": done.skipped,
        "waiting": done.waiting,
        "cancelled": done.cancelled,
        "percent": done.percent,
        "seconds_left": done.seconds_left,
        "left_label": time_left_label(done.seconds_left),
    }


def time_left_label(seconds: int | None) -> str:
    if seconds is None:
        return ""
    return _("about %(s)s s left") % {"s": seconds}


def item_state(item: InvoiceRunItem) -> dict:
    invoice = item.invoice
    return {
        "id": item.pk,
        "state": item.state,
        "state_label": item.get_state_display(),
        "number": invoice.number if invoice else "",
        "url": invoice.html_url if invoice else "",
        "error": item.error,
        "email": _("sent") if item.emailed_at else item.email_error,
        "updated_at": item.updated_at.isoformat(),
    }


@require_POST
@agency_required
def run_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    run = _run(request, pk)
    cancelled = runs.cancel_run(run=run)
    text = ngettext(
        "The run is cancelled; %(n)s client was left out.",
        "The run is cancelled; %(n)s clients were left out.",
        cancelled,
    )
    messages.success(request, text % {"n": cancelled})
    return redirect("fakturoid:run_detail", pk=run.pk)


@require_POST
@agency_required
def run_resume(request: HttpRequest, pk: int) -> HttpResponse:
    run = _run(request, pk)
    if runs.resume_run(run=run):
        messages.success(request, _("The run goes on."))
    return redirect("fakturoid:run_detail", pk=run.pk)


@require_POST
@agency_required
def run_retry(request: HttpRequest, pk: int) -> HttpResponse:
    """Retry the failed clients of the run, or the one named by `item`."""
    run = _run(request, pk)
    item_id = request.POST.get("item", "")
    try:
        retried = runs.retry_failed(run=run, item_id=int(item_id) if item_id.isdigit() else None)
    except runs.RunRefused as refusal:
        messages.error(request, str(refusal))
    else:
        text = ngettext(
            "%(n)s failed client is tried again.", "%(n)s failed clients are tried again.", retried
        )
        messages.success(request, text % {"n": retried})
    return redirect("fakturoid:run_detail", pk=run.pk)


@agency_required
def run_list(request: HttpRequest) -> HttpResponse:
    runs_ = InvoiceRun.objects.for_agency(request.agency).select_related("started_by")
    rows = [(run, runs.progress(run=run)) for run in runs_[:50]]
    return render(request, "fakturoid/run_list.html", {"rows": rows})
