from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from agencies.decorators import agency_required, owner_required
from audit.models import ActivityEntry

ENTRIES_PER_PAGE = 100


@agency_required
@owner_required
def agency_activity(request: HttpRequest) -> HttpResponse:
    """Settings → Activity: every recorded change in the agency, newest first."""
    entries = ActivityEntry.objects.for_agency(request.agency.pk)
    page = Paginator(entries, ENTRIES_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "audit/activity_list.html", {"page": page, "entries": page.object_list})
