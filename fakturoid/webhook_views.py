"""Updates from Fakturoid: the receiver its webhook POSTs to, and the switch on Settings →
Fakturoid that registers or removes the webhook."""

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from agencies.decorators import agency_required, owner_required
from fakturoid.errors import IntegrationError, explain
from fakturoid.services import webhooks


# Fakturoid is not logged in and sends no CSRF token: what authenticates a delivery is the
# secret `auth_header` we registered, checked by accept_delivery() before anything is stored.
@login_not_required
@csrf_exempt
@require_POST
def receiver(request: HttpRequest, receiver_id: str) -> HttpResponse:
    """Record a delivery and answer at once; a background task applies it."""
    answer = webhooks.accept_delivery(
        receiver_id=receiver_id,
        authorization=request.headers.get("Authorization", ""),
        idempotency_key=request.headers.get("Idempotency-Key", ""),
        body=request.body,
    )
    return HttpResponse(answer.text, status=answer.status, content_type="text/plain")


@require_POST
@agency_required
@owner_required
def receive_updates(request: HttpRequest) -> HttpResponse:
    """Register the agency's webhook in Fakturoid."""
    try:
        webhooks.receive_updates(agency=request.agency)
    except IntegrationError as error:
        messages.error(request, explain(error))
    else:
        messages.success(request, _("Fakturoid will now send updates of invoices here."))
    return redirect("fakturoid:settings")


@require_POST
@agency_required
@owner_required
def stop_updates(request: HttpRequest) -> HttpResponse:
    """Remove the agency's webhook from Fakturoid."""
    try:
        webhooks.stop_updates(agency=request.agency)
    except IntegrationError as error:
        messages.error(request, explain(error))
    else:
        messages.success(request, _("Fakturoid no longer sends updates here."))
    return redirect("fakturoid:settings")
