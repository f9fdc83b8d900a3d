"""Updates pushed by Fakturoid: registering our webhook, accepting deliveries, applying them.

The receiver only authenticates, records and enqueues (it must answer within seconds and a
repeat must change nothing); `apply_delivery()` does the work in a background task.
"""

import hmac
import json
import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from agencies.models import Agency
from fakturoid.client import FakturoidClient
from fakturoid.documents import InvoiceDocument, parse, parse_invoice
from fakturoid.errors import FakturoidError, Forbidden, IntegrationError, NotFound
from fakturoid.models import ReceivedWebhook, WebhookRegistration
from fakturoid.services.sync import apply_document, mark_deleted

logger = logging.getLogger(__name__)

# The invoice events that change what our lists show.
EVENTS = (
    "invoice_paid",
    "invoice_payment_added",
    "invoice_payment_removed",
    "invoice_overdue",
    "invoice_sent",
    "invoice_cancelled",
    "invoice_cancellation_removed",
    "invoice_removed",
    "invoice_restored",
    "invoice_uncollectible",
    "invoice_uncollectible_removed",
)
MAX_BODY_BYTES = 1_000_000  # a full invoice with many lines is tens of kB


class WebhooksRefused(IntegrationError):
    """Fakturoid will not let these credentials manage webhooks (403)."""


def last_received_at(*, agency: Agency) -> datetime | None:
    """When the receiver last accepted a delivery for the agency (None: never)."""
    latest = ReceivedWebhook.objects.filter(agency=agency).order_by("-received_at").first()
    return latest.received_at if latest else None


def receiver_url(registration: WebhookRegistration) -> str:
    """Where Fakturoid POSTs the agency's updates."""
    path = reverse("fakturoid:webhook_receiver", args=[registration.receiver_id])
    return settings.SITE_URL + path


def refusal_message(error: Forbidden) -> str:
    """What to switch on in Fakturoid when it refuses webhook management."""
    if error.code == "upgrade_required":
        return _(
            "Fakturoid sends updates only on paid plans. Upgrade the Fakturoid account "
            "(Settings → Subscription), then try again."
        )
    return _(
        "Fakturoid does not let these API credentials manage webhooks. In Fakturoid open "
        "Settings → User account → API v3 credentials, allow webhook management for these "
        "credentials (available on paid plans), then try again."
    )


def receive_updates(*, agency: Agency) -> WebhookRegistration:
    """Register the agency's webhook in Fakturoid (or register it again with a new secret).

    Raises WebhooksRefused (with what to switch on) or another IntegrationError; a refusal is
    also stored, so Settings → Fakturoid shows it.
    """
    fakturoid_api = FakturoidClient.for_agency(agency)
    stop_updates(agency=agency)
    registration = WebhookRegistration.objects.create(agency=agency, events=list(EVENTS))
    data = {
        "webhook_url": receiver_url(registration),
        "auth_header": registration.secret,
        "events": list(EVENTS),
    }
    try:
        webhook = fakturoid_api.create_webhook(data)
    except Forbidden as error:
        registration.state = WebhookRegistration.State.REFUSED
        registration.error = refusal_message(error)
        registration.save(update_fields=["state", "error"])
        raise WebhooksRefused(registration.error) from error
    except IntegrationError:
        registration.delete()
        raise
    registration.fakturoid_id = webhook.id
    registration.save(update_fields=["fakturoid_id"])
    return registration


def stop_updates(*, agency: Agency) -> bool:
    """Remove the agency's webhook from Fakturoid and forget it. Returns whether there was one.

    A webhook Fakturoid no longer knows counts as removed. Raises another FakturoidError when
    Fakturoid could not be asked (the registration is then kept, so it can be tried again).
    """
    registration = WebhookRegistration.objects.filter(agency=agency).first()
    if registration is None:
        return False
    if registration.fakturoid_id is not None:
        try:
            FakturoidClient.for_agency(agency).delete_webhook(registration.fakturoid_id)
        except NotFound:
            pass
    registration.delete()
    return True


@dataclass(frozen=True)
class Answer:
    status: int
    text: str


def accept_delivery(
    *, receiver_id: str, authorization: str, idempotency_key: str, body: bytes
) -> Answer:
    """The receiver's whole job, in milliseconds: authenticate the delivery, record it once
    per Idempotency-Key, and have a task apply it after the commit.

    401 for an unknown receiver or a wrong Authorization (nothing is recorded); 400 for a body
    that is not a JSON object; 200 for a repeat (nothing changes) and for a new delivery.
    """
    registration = WebhookRegistration.objects.filter(receiver_id=receiver_id).first()
    expected = registration.secret if registration is not None else ""
    # Compared in constant time, also for an unknown receiver, so timing tells nothing.
    if not hmac.compare_digest(authorization.encode(), (expected or "\0").encode()):
        return Answer(401, "unauthorized")
    if len(body) > MAX_BODY_BYTES:
        return Answer(413, "too large")
    try:
        payload = json.loads(body)
    except ValueError:
        return Answer(400, "not JSON")
    if not isinstance(payload, dict):
        return Answer(400, "not a JSON object")
    from fakturoid import tasks  # tasks imports the services

    try:
        with transaction.atomic():
            received = ReceivedWebhook.objects.create(
                agency_id=registration.agency_id,
                idempotency_key=idempotency_key[:100] or None,
                event_name=str(payload.get("event_name") or "")[:100],
                payload=payload,
            )
    except IntegrityError:
        return Answer(200, "repeat ignored")
    transaction.on_commit(lambda: tasks.apply_webhook.enqueue(received.pk))
    return Answer(200, "accepted")


def apply_delivery(*, received_id: int) -> str:
    """Apply one recorded delivery to the agency's invoice; returns the outcome.

    Events we do not use, invoices that are not the agency's (or not ours at all) and bodies
    we cannot read are ignored. Safe to run twice: applying a state is idempotent and an older
    state never overwrites a newer one.
    """
    received = ReceivedWebhook.objects.select_related("agency").get(pk=received_id)
    if received.outcome != ReceivedWebhook.Outcome.PENDING:
        return received.outcome
    outcome = ReceivedWebhook.Outcome.IGNORED
    document = _invoice_of(received.payload)
    if received.event_name in EVENTS and document is not None:
        if received.event_name == "invoice_removed":
            applied = mark_deleted(
                agency=received.agency, fakturoid_id=document.id, when=document.updated_at
            )
        else:
            applied = apply_document(agency=received.agency, document=document)
        if applied:
            outcome = ReceivedWebhook.Outcome.APPLIED
    ReceivedWebhook.objects.filter(pk=received.pk).update(
        outcome=outcome, processed_at=timezone.now()
    )
    return outcome


def _invoice_of(payload: dict) -> InvoiceDocument | None:
    body = payload.get("body")
    invoice = body.get("invoice") if isinstance(body, dict) else None
    if not isinstance(invoice, dict):
        return None
    try:
        return parse(parse_invoice, invoice)
    except FakturoidError:
        logger.warning("Webhook delivery with an unreadable invoice ignored", exc_info=True)
        return None
