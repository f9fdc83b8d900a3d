from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from agencies.decorators import agency_required
from clients.models import Client


@agency_required
def client_list(request: HttpRequest) -> HttpResponse:
    clients = Client.objects.for_agency(request.agency)
    return render(request, "clients/client_list.html", {"clients": clients})
