"""Fakturoid sandbox: webhooks registered through the API and delivered with retries."""

import re
import threading
import time
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from fakturoid_sandbox import delivery
from fakturoid_sandbox.control import ensure_account, ensure_subject, update_state
from fakturoid_sandbox.delivery import deliver_pending
from fakturoid_sandbox.models import Credential, Invoice, WebhookDelivery
from fakturoid_sandbox.testing import (
    SandboxClient,
    WebhookReceiver,
    django_client_sender,
    sandbox_mounted,
)

WEBHOOK_FIELDS = [
    "id", "failed_deliveries_uuid", "webhook_url", "auth_header", "active", "events", "url",
    "created_at", "updated_at",
]  # fmt: skip
ALL_EVENTS = [
    "invoice_created", "invoice_updated", "invoice_removed", "invoice_restored",
    "invoice_overdue", "invoice_paid", "invoice_payment_added", "invoice_payment_removed",
    "invoice_sent", "invoice_cancelled", "invoice_cancellation_removed", "invoice_uncollectible",
    "invoice_uncollectible_removed", "invoice_locked", "invoice_unlocked",
]  # fmt: skip
LINE = {"name": "PPC management", "unit_price": "1000", "vat_rate": 21}
SECRET = "Bearer 9f2c-webhook-secret"
UUID7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


@pytest.fixture(autouse=True)
def sandbox_on():
    with sandbox_mounted(True):
        yield


@pytest.fixture
def api(db) -> SandboxClient:
    api = SandboxClient(ensure_account("acme", name="Acme s.r.o."))
    api.authenticate()
    update_state("acme", webhook_backoff=[0, 0, 0, 0, 0])
    return api


@pytest.fixture
def invoice_id(api) -> int:
    subject = ensure_subject("acme", name="Apple Czech s.r.o.", email="pokus@test.cz")
    response = api.post("invoices.json", {"subject_id": subject.pk, "lines": [LINE]})
    assert response.status_code == 201
    return response.json()["id"]


@pytest.fixture
def receiver():
    with WebhookReceiver() as receiver:
        yield receiver


def register(api, url: str, events=None, **fields):
    response = api.post(
        "webhooks.json",
        {"webhook_url": url, "auth_header": SECRET, "events": events or ALL_EVENTS, **fields},
    )
    assert response.status_code == 201, response.content
    return response.json()


def delivered_events(receiver) -> list[str]:
    deliver_pending(timeout=10)
    return [hook.event_name for hook in receiver.received]


# --- Registration ----------------------------------------------------------------------------


def test_it_registers_lists_changes_and_removes_a_webhook(api):
    response = api.post(
        "webhooks.json",
        {
            "webhook_url": "https://billing.example.com/hooks/fakturoid",
            "auth_header": SECRET,
            "events": ["invoice_paid", "invoice_overdue"],
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert list(body) == WEBHOOK_FIELDS
    api_url = f"http://testserver/sandbox/fakturoid/api/v3/accounts/acme/webhooks/{body['id']}"
    assert response["Location"] == body["url"] == f"{api_url}.json"
    assert body["webhook_url"] == "https://billing.example.com/hooks/fakturoid"
    assert body["auth_header"] == SECRET
    assert body["active"] is True
    assert body["events"] == ["invoice_paid", "invoice_overdue"]
    uuid.UUID(body["failed_deliveries_uuid"])
    assert api.get("webhooks.json").json() == [body]
    assert api.get(f"webhooks/{body['id']}.json").json() == body

    changed = api.patch(
        f"webhooks/{body['id']}.json", {"active": False, "events": ["invoice_sent"]}
    )
    assert changed.status_code == 200
    assert (changed.json()["active"], changed.json()["events"]) == (False, ["invoice_sent"])

    assert api.delete(f"webhooks/{body['id']}.json").status_code == 204
    assert api.get(f"webhooks/{body['id']}.json").status_code == 404
    assert api.get("webhooks.json").json() == []


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"events": []}, {"events": ["can't be empty"]}),
        ({"events": None}, {"events": ["can't be empty"]}),
        ({"events": ["invoice_paid", "invoice_exploded"]}, {"events": ["is invalid"]}),
        ({"webhook_url": ""}, {"webhook_url": ["can't be blank"]}),
        ({"webhook_url": "ftp://example.com/x"}, {"webhook_url": ["is invalid"]}),
        ({"webhook_url": "https://"}, {"webhook_url": ["is invalid"]}),
        ({"auth_header": "a\r\nX-Evil: 1"}, {"auth_header": ["is invalid"]}),
        ({"active": "yes"}, {"active": ["is invalid"]}),
    ],
)
def test_it_refuses_an_invalid_webhook_with_422(api, fields, errors):
    payload = {"webhook_url": "https://example.com/hook", "events": ["invoice_paid"], **fields}
    response = api.post("webhooks.json", payload)
    assert response.status_code == 422
    assert response.json() == {"errors": errors}
    assert api.get("webhooks.json").json() == []


@pytest.mark.parametrize(
    ("switch", "body"),
    [
        (
            "not_enabled",
            {
                "error": "forbidden",
                "error_description": "Webhooks are not enabled for these API credentials "
                "(Settings → User account → API v3 credentials)",
            },
        ),
        (
            "upgrade_required",
            {
                "error": "upgrade_required",
                "error_description": "Webhooks are only available for paid plans",
            },
        ),
    ],
)
def test_it_answers_403_when_webhooks_are_not_enabled(api, switch, body):
    existing = register(api, "https://example.com/hook")
    update_state("acme", webhooks=switch)
    for response in (
        api.post("webhooks.json", {"webhook_url": "https://example.com/x", "events": ["x"]}),
        api.get("webhooks.json"),
        api.get(f"webhooks/{existing['id']}.json"),
        api.delete(f"webhooks/{existing['id']}.json"),
    ):
        assert response.status_code == 403
        assert response.json() == body


def test_it_shows_each_credential_only_its_own_webhooks(api):
    mine = register(api, "https://example.com/mine")
    other = SandboxClient(
        Credential.objects.create(
            account=api.credential.account, user_full_name="Other", user_email="o@example.com"
        )
    )
    update_state("acme", token_invalidates_previous=False)
    other.authenticate()
    assert other.get("webhooks.json").json() == []
    assert other.get(f"webhooks/{mine['id']}.json").status_code == 404
    assert other.delete(f"webhooks/{mine['id']}.json").status_code == 404
    assert len(api.get("webhooks.json").json()) == 1


# --- Delivery --------------------------------------------------------------------------------


def test_it_posts_the_payload_with_the_auth_header_and_an_idempotency_key(
    api, invoice_id, receiver
):
    hook = register(api, receiver.url, events=["invoice_paid", "invoice_payment_added"])
    payment = api.post(f"invoices/{invoice_id}/payments.json", {"paid_on": "2026-01-10"}).json()

    assert delivered_events(receiver) == ["invoice_payment_added", "invoice_paid"]
    first, second = receiver.received
    assert first.headers["Authorization"] == SECRET
    assert first.headers["Content-Type"] == "application/json; charset=utf-8"
    assert UUID7.match(first.headers["Idempotency-Key"])
    assert first.headers["Idempotency-Key"] != second.headers["Idempotency-Key"]
    assert list(second.payload) == ["webhook_id", "event_name", "created_at", "body"]
    assert second.payload["webhook_id"] == hook["id"]
    assert re.match(
        r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$", first.payload["created_at"]
    )
    body = second.payload["body"]
    assert list(body) == ["invoice", "payment"]
    assert list(body["invoice"])[:4] == [
        "id",
        "custom_id",
        "document_type",
        "proforma_followup_document",
    ]
    assert body["invoice"]["id"] == invoice_id
    assert body["invoice"]["status"] == "paid"
    assert body["invoice"]["paid_on"] == "2026-01-10"
    assert body["payment"] == payment
    assert WebhookDelivery.objects.filter(state="delivered").count() == 2


def _pay(api, invoice_id):
    api.post(f"invoices/{invoice_id}/payments.json", {})


def _pay_and_remove(api, invoice_id):
    payment_id = api.post(f"invoices/{invoice_id}/payments.json", {"amount": "100"}).json()["id"]
    api.delete(f"invoices/{invoice_id}/payments/{payment_id}.json")


def _fire(*events):
    def fire(api, invoice_id):
        for event in events:
            assert api.post(f"invoices/{invoice_id}/fire.json", event=event).status_code == 204

    return fire


def _message(api, invoice_id):
    assert api.post(f"invoices/{invoice_id}/message.json", {}).status_code == 204


def _delete(api, invoice_id):
    assert api.delete(f"invoices/{invoice_id}.json").status_code == 204


def _delete_and_restore(api, invoice_id):
    from fakturoid_sandbox.invoice_actions import restore_invoice

    _delete(api, invoice_id)
    restore_invoice(invoice=Invoice.objects.get(pk=invoice_id))


def _due_date_passes(api, invoice_id):
    Invoice.objects.filter(pk=invoice_id).update(due_on=timezone.localdate() - timedelta(days=1))


def _patch(api, invoice_id):
    assert api.patch(f"invoices/{invoice_id}.json", {"note": "Changed"}).status_code == 200


@pytest.mark.parametrize(
    ("change", "events"),
    [
        (_pay, ["invoice_payment_added", "invoice_paid"]),
        (_pay_and_remove, ["invoice_payment_added", "invoice_payment_removed"]),
        (_fire("mark_as_sent"), ["invoice_sent"]),
        (_message, ["invoice_sent"]),
        (_fire("cancel", "undo_cancel"), ["invoice_cancelled", "invoice_cancellation_removed"]),
        (
            _fire("mark_as_uncollectible", "undo_uncollectible"),
            ["invoice_uncollectible", "invoice_uncollectible_removed"],
        ),
        (_fire("lock", "unlock"), ["invoice_locked", "invoice_unlocked"]),
        (_delete, ["invoice_removed"]),
        (_delete_and_restore, ["invoice_removed", "invoice_restored"]),
        (_due_date_passes, ["invoice_overdue"]),
        (_patch, ["invoice_updated"]),
    ],
)
def test_it_delivers_each_invoice_event(api, invoice_id, receiver, change, events):
    register(api, receiver.url)
    change(api, invoice_id)
    assert delivered_events(receiver) == events
    assert all(hook.payload["body"]["invoice"]["id"] == invoice_id for hook in receiver.received)


def test_it_sends_the_removed_payment_with_invoice_payment_removed(api, invoice_id, receiver):
    register(api, receiver.url, events=["invoice_payment_removed"])
    payment = api.post(f"invoices/{invoice_id}/payments.json", {}).json()
    api.delete(f"invoices/{invoice_id}/payments/{payment['id']}.json")
    assert delivered_events(receiver) == ["invoice_payment_removed"]
    body = receiver.received[0].payload["body"]
    assert body["payments"] == [payment]
    assert body["invoice"]["status"] == "open"
    assert body["invoice"]["payments"] == []


def test_it_delivers_the_created_event_and_overdue_only_once(api, receiver):
    register(api, receiver.url, events=["invoice_created", "invoice_overdue"])
    subject = ensure_subject("acme", name="Old Client s.r.o.")
    api.post(
        "invoices.json", {"subject_id": subject.pk, "lines": [LINE], "issued_on": "2024-01-02"}
    )
    assert delivered_events(receiver) == ["invoice_created", "invoice_overdue"]
    api.get("invoices.json")
    assert delivered_events(receiver) == ["invoice_created", "invoice_overdue"]


def test_it_delivers_only_subscribed_events_to_active_webhooks(api, invoice_id, receiver):
    register(api, receiver.url, events=["invoice_paid"])
    register(api, receiver.url, events=["invoice_sent"], active=False)
    _fire("mark_as_sent")(api, invoice_id)
    _pay(api, invoice_id)
    assert delivered_events(receiver) == ["invoice_paid"]


def test_it_sends_nothing_for_a_refused_change(api, invoice_id, receiver):
    register(api, receiver.url)
    assert api.post(f"invoices/{invoice_id}/payments.json", {"amount": "x"}).status_code == 422
    assert api.post(f"invoices/{invoice_id}/fire.json", event="undo_cancel").status_code == 422
    assert delivered_events(receiver) == []


def test_it_retries_with_the_same_idempotency_key_until_delivered(api, invoice_id):
    with WebhookReceiver(statuses=[500, 404]) as receiver:
        register(api, receiver.url, events=["invoice_sent"])
        _fire("mark_as_sent")(api, invoice_id)
        assert deliver_pending(timeout=10) == 3
    keys = {hook.headers["Idempotency-Key"] for hook in receiver.received}
    assert len(receiver.received) == 3 and len(keys) == 1
    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.last_status) == ("delivered", 3, 200)


def test_it_gives_up_after_five_retries_and_lists_the_failure(api, invoice_id, client):
    with WebhookReceiver(statuses=[503] * 10) as receiver:
        hook = register(api, receiver.url, events=["invoice_sent"])
        _fire("mark_as_sent")(api, invoice_id)
        assert deliver_pending(timeout=10) == 6
    assert len(receiver.received) == 6
    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.last_status, delivery.last_error) == (
        "failed",
        503,
        "HTTP 503",
    )

    failed = api.get(f"webhooks/{hook['failed_deliveries_uuid']}/failed_deliveries.json")
    assert failed.status_code == 200
    [entry] = failed.json()
    assert (entry["event_name"], entry["attempts"], entry["last_status"]) == (
        "invoice_sent",
        6,
        503,
    )
    assert entry["payload"]["body"]["invoice"]["id"] == invoice_id

    page = client.get("/sandbox/fakturoid/acme/webhooks").content.decode()
    assert "Failed deliveries" in page
    assert "HTTP 503" in page


def test_it_counts_a_connection_error_as_a_failed_attempt(api, invoice_id):
    with WebhookReceiver() as receiver:
        gone = receiver.url  # nothing listens there once the receiver is closed
    register(api, gone, events=["invoice_sent"])
    _fire("mark_as_sent")(api, invoice_id)
    assert deliver_pending(timeout=10) == 6
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == "failed"
    assert delivery.last_status is None
    assert "ConnectionError" in delivery.last_error


def test_it_waits_the_accounts_backoff_before_a_retry(api, invoice_id):
    update_state("acme", webhook_backoff=[60, 60, 60, 60, 60])
    with WebhookReceiver(statuses=[500]) as receiver:
        register(api, receiver.url, events=["invoice_sent"])
        _fire("mark_as_sent")(api, invoice_id)
        with pytest.raises(TimeoutError):
            deliver_pending(timeout=1)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.attempts) == ("pending", 1)
    wait = delivery.next_attempt_at - timezone.now()
    assert timedelta(seconds=55) < wait <= timedelta(seconds=60)


def wait_until(condition, limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.mark.django_db(transaction=True)
def test_it_delivers_in_the_background_after_the_answer(invoice_id, api):
    with WebhookReceiver(hold=True) as receiver:
        register(api, receiver.url, events=["invoice_paid"])
        response = api.post(f"invoices/{invoice_id}/payments.json", {})
        assert response.status_code == 201
        # No deliver_pending() here: the background thread POSTs on its own, after the answer.
        wait_until(lambda: len(receiver.received) == 1)
        assert receiver.answered == 0
        receiver.release()
        wait_until(lambda: WebhookDelivery.objects.filter(state="delivered").exists())
    assert [hook.event_name for hook in receiver.received] == ["invoice_paid"]
    assert WebhookDelivery.objects.get().attempts == 1


def test_it_delivers_into_this_django_app_through_the_test_client(api, invoice_id):
    register(api, "http://testserver/login/", events=["invoice_sent"])
    _fire("mark_as_sent")(api, invoice_id)

    assert deliver_pending(send=django_client_sender()) == 1

    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.last_status) == ("delivered", 200)


def test_it_leaves_uncommitted_test_changes_to_deliver_pending(
    api, invoice_id, django_capture_on_commit_callbacks, monkeypatch
):
    hold = threading.Event()
    monkeypatch.setattr(delivery, "_run", lambda: hold.wait(10))  # a thread, if any, stays
    try:
        with WebhookReceiver() as receiver:
            register(api, receiver.url, events=["invoice_sent"])
            with django_capture_on_commit_callbacks(execute=True) as callbacks:
                _fire("mark_as_sent")(api, invoice_id)
            assert callbacks  # wake() ran, inside the test's transaction
            assert delivery.worker_running() is False
            assert delivered_events(receiver) == ["invoice_sent"]
    finally:
        hold.set()
