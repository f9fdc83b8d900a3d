"""Webhooks as the reference describes them: registration through the API, and the events.

An event is written as one `WebhookDelivery` row per subscribed webhook inside the transaction
of the change itself (an outbox): a change that rolls back sends nothing, and a committed one is
delivered even if this process dies first. `fakturoid_sandbox.delivery` POSTs the rows.
"""

import json
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction
from django.utils import timezone

from fakturoid_sandbox import delivery
from fakturoid_sandbox.errors import Invalid, api_error
from fakturoid_sandbox.models import (
    Account,
    Credential,
    Invoice,
    InvoiceStatus,
    Payment,
    Webhook,
    WebhookDelivery,
)
from fakturoid_sandbox.models.accounts import WebhookAccess
from fakturoid_sandbox.models.webhooks import EVENTS
from fakturoid_sandbox.serializers import SiteRoot, datetime_str, invoice_json, payment_json

MAX_AUTH_HEADER = 1000

# [INF] The reference says only "403" for credentials or plans without webhooks.
ACCESS_REFUSALS = {
    WebhookAccess.NOT_ENABLED: (
        "forbidden",
        "Webhooks are not enabled for these API credentials "
        "(Settings → User account → API v3 credentials)",
    ),
    WebhookAccess.UPGRADE_REQUIRED: (
        "upgrade_required",
        "Webhooks are only available for paid plans",
    ),
}


def check_access(account: Account) -> None:
    """Raise the 403 of an account whose plan or credentials may not manage webhooks."""
    refusal = ACCESS_REFUSALS.get(account.webhooks)
    if refusal is not None:
        raise api_error(403, *refusal)


def _apply(webhook: Webhook, data: dict, *, creating: bool) -> None:
    errors: dict[str, list[str]] = {}
    if creating or "webhook_url" in data:
        url = data.get("webhook_url")
        if not isinstance(url, str) or not url.strip():
            errors["webhook_url"] = ["can't be blank"]
        else:
            parts = urlsplit(url.strip())
            if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 2000:
                errors["webhook_url"] = ["is invalid"]
            webhook.webhook_url = url.strip()
    if creating or "events" in data:
        events = data.get("events")
        if not isinstance(events, list) or not events:
            errors["events"] = ["can't be empty"]
        elif not all(isinstance(event, str) and event in EVENTS for event in events):
            errors["events"] = ["is invalid"]
        else:
            webhook.events = list(dict.fromkeys(events))
    if "auth_header" in data:
        header = data["auth_header"]
        if header is not None and not isinstance(header, str):
            errors["auth_header"] = ["is invalid"]
        elif header and len(header) > MAX_AUTH_HEADER:
            errors["auth_header"] = [f"is too long (maximum is {MAX_AUTH_HEADER} characters)"]
        elif header and ("\n" in header or "\r" in header):
            errors["auth_header"] = ["is invalid"]
        else:
            webhook.auth_header = header or ""
    if "active" in data:
        if isinstance(data["active"], bool):
            webhook.active = data["active"]
        else:
            errors["active"] = ["is invalid"]
    if errors:
        raise Invalid(errors)


def create_webhook(*, credential: Credential, data: dict) -> Webhook:
    """Register a webhook of `credential`; 403 when not enabled, 422 for bad fields."""
    check_access(credential.account)
    webhook = Webhook(account=credential.account, credential=credential)
    _apply(webhook, data, creating=True)
    webhook.save()
    return webhook


def update_webhook(*, webhook: Webhook, data: dict) -> Webhook:
    """Change the fields the payload names (PATCH); 422 for bad fields."""
    check_access(webhook.account)
    _apply(webhook, data, creating=False)
    webhook.save()
    return webhook


def record_event(
    invoice: Invoice,
    event_name: str,
    *,
    payment: Payment | None = None,
    payments: list[dict] | None = None,
) -> int:
    """Queue `event_name` of `invoice` for every active webhook of its account that wants it.

    Call inside the change's transaction; the POSTs start after it commits. The payload is the
    reference's `{"webhook_id", "event_name", "created_at", "body": {"invoice": …}}`, with
    `payment` (invoice_paid, invoice_payment_added) or `payments` (invoice_payment_removed:
    the removed payment, already serialized because it is gone) in the body. Returns how many
    deliveries were queued.
    """
    hooks = [
        hook
        for hook in Webhook.objects.filter(account_id=invoice.account_id, active=True)
        if event_name in hook.events
    ]
    if not hooks:
        return 0
    fresh = (
        Invoice.objects.select_related("account", "subject")
        .prefetch_related("lines", "payments")
        .get(pk=invoice.pk)
    )
    body: dict[str, Any] = {"invoice": invoice_json(SiteRoot(), fresh)}
    if payment is not None:
        body["payment"] = payment_json(payment)
    if payments is not None:
        body["payments"] = payments
    now = timezone.now()
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            webhook=hook,
            event_name=event_name,
            payload=json.dumps(
                {
                    "webhook_id": hook.pk,
                    "event_name": event_name,
                    "created_at": datetime_str(now),
                    "body": body,
                },
                ensure_ascii=False,
            ),
            next_attempt_at=now,
        )
        for hook in hooks
    )
    transaction.on_commit(delivery.wake)
    return len(hooks)


def notice_overdue(*, account: Account | None = None) -> int:
    """Fakturoid's daily job, done when asked: an unpaid invoice past its due date becomes
    overdue once (updated_at bumped, `invoice_overdue` sent); one that stopped being overdue
    (paid, due date moved) may become overdue again later. Returns how many became overdue."""
    invoices = Invoice.objects.live()
    if account is not None:
        invoices = invoices.filter(account=account)
    overdue = invoices.with_status(InvoiceStatus.OVERDUE, today=timezone.localdate())
    stale = list(
        invoices.filter(overdue_noticed=True).exclude(pk__in=overdue).values_list("pk", flat=True)
    )
    if stale:  # looked up first: an UPDATE would take SQLite's write lock on every GET
        Invoice.objects.filter(pk__in=stale).update(overdue_noticed=False)
    count = 0
    for invoice in overdue.filter(overdue_noticed=False):
        with transaction.atomic():
            claimed = Invoice.objects.filter(pk=invoice.pk, overdue_noticed=False).update(
                overdue_noticed=True, updated_at=timezone.now()
            )
            if claimed:
                record_event(invoice, "invoice_overdue")
                count += 1
    return count
