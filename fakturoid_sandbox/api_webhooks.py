"""The sandbox's webhook endpoints (Fakturoid API v3, reference section 7).

An API credential sees and manages only its own webhooks, as Fakturoid's integrations do.
"""

from django.http import HttpRequest, HttpResponse, JsonResponse

from fakturoid_sandbox import webhooks
from fakturoid_sandbox.api import (
    Caller,
    created_response,
    endpoint,
    no_content,
    paginate,
    request_payload,
)
from fakturoid_sandbox.errors import not_found
from fakturoid_sandbox.models import Webhook, WebhookDelivery
from fakturoid_sandbox.serializers import absolute, failed_delivery_json, webhook_json


def _own_webhook(caller: Caller, pk: int) -> Webhook:
    webhook = caller.credential.webhooks.select_related("account").filter(pk=pk).first()
    if webhook is None:
        raise not_found("Webhook")
    return webhook


@endpoint("GET", "POST")
def webhook_list(request: HttpRequest, caller: Caller, slug: str) -> HttpResponse:
    webhooks.check_access(caller.account)
    if request.method == "POST":
        created = webhooks.create_webhook(
            credential=caller.credential, data=request_payload(request)
        )
        return created_response(
            webhook_json(request, created), absolute(request, "api_webhook", slug, created.pk)
        )
    queryset = caller.credential.webhooks.select_related("account")
    return JsonResponse([webhook_json(request, w) for w in paginate(request, queryset)], safe=False)


@endpoint("GET", "PATCH", "DELETE")
def webhook_detail(request: HttpRequest, caller: Caller, slug: str, pk: int) -> HttpResponse:
    webhooks.check_access(caller.account)
    found = _own_webhook(caller, pk)
    if request.method == "DELETE":
        found.delete()
        return no_content()
    if request.method == "PATCH":
        webhooks.update_webhook(webhook=found, data=request_payload(request))
    return JsonResponse(webhook_json(request, found))


@endpoint("GET")
def failed_deliveries(request: HttpRequest, caller: Caller, slug: str, uuid: str) -> HttpResponse:
    webhooks.check_access(caller.account)
    webhook = caller.credential.webhooks.filter(failed_deliveries_uuid=uuid).first()
    if webhook is None:
        raise not_found("Webhook")
    queryset = WebhookDelivery.objects.filter(
        webhook=webhook, state=WebhookDelivery.State.FAILED
    ).order_by("-id")
    return JsonResponse([failed_delivery_json(d) for d in paginate(request, queryset)], safe=False)
