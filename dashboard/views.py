from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from agencies.decorators import agency_required
from dashboard import charts
from dashboard.figures import agency_figures


@agency_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """The business at a glance, for owners and members alike."""
    figures = agency_figures(request.agency)
    context = {
        "figures": figures,
        "billed_chart": charts.stacked_columns(figures.billed),
        "mrr_chart": charts.bars(figures.mrr_top),
        "aging_chart": charts.bars(figures.aging),
        "plan_chart": charts.bars(figures.plan),
    }
    return render(request, "dashboard/dashboard.html", context)
