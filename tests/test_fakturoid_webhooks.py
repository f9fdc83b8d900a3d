"""Updates pushed by Fakturoid: registering the webhook, and every event through the receiver
(authentication, repeats, unknown events, another agency's invoice)."""

import json
from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from fakturoid.models import Invoice, ReceivedWebhook, WebhookRegistration
from fakturoid.services import webhooks
from tests.support import login
from tests.support.fakturoid_mocks import ACCOUNT, RATE, invoice_payload


@pytest.fixture
def immediate_tasks(settings) -> None:
    """Background tasks run as soon as they are enqueued (after the commit)."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture
def registration(connected) -> WebhookRegistration:
    return WebhookRegistration.objects.create(
        agency=connected.agency, fakturoid_id=7, events=list(webhooks.EVENTS)
    )


@pytest.fixture
def invoice(registration, make_client) -> Invoice:
    client = make_client(registration.agency)
    return Invoice.objects.create(
        agency=registration.agency,
        client=client,
        period=date(2026, 10, 1),
        custom_id=f"{registration.agency.key}-c{client.pk}-2026-10",
        state=Invoice.State.CREATED,
        fakturoid_id=529,
        number="2026-0001",
        status=Invoice.Status.OPEN,
        total=Decimal("48400.00"),
        currency="CZK",
    )


def deliver(http, registration, event, invoice_fields=None, *, key="k-1", auth=None, **extra):
    body = {
        "webhook_id": 7,
        "event_name": event,
        "created_at": "2026-11-05T10:00:01.000+01:00",
        "body": {"invoice": invoice_payload(529, **(invoice_fields or {}))},
        **extra,
    }
    headers = {"Idempotency-Key": key}
    if auth is not False:
        headers["Authorization"] = registration.secret if auth is None else auth
    return http.post(
        reverse("fakturoid:webhook_receiver", args=[registration.receiver_id]),
        data=json.dumps(body),
        content_type="application/json",
        headers=headers,
    )


@pytest.fixture
def anonymous(client):
    """Fakturoid: not logged in, no CSRF token (the test client enforces CSRF checks)."""
    from django.test import Client

    return Client(enforce_csrf_checks=True)


PAID = {"status": "paid", "paid_on": "2026-11-05", "remaining_amount": "0.0"}
EVENTS_AND_STATES = [
    ("invoice_paid", PAID, "paid"),
    ("invoice_payment_added", {"status": "open", "remaining_amount": "400.0"}, "open"),
    ("invoice_payment_removed", {"status": "sent", "remaining_amount": "48400.0"}, "sent"),
    ("invoice_overdue", {"status": "overdue"}, "overdue"),
    ("invoice_sent", {"status": "sent", "sent_at": "2026-11-05T10:00:00.000+01:00"}, "sent"),
    ("invoice_cancelled", {"status": "cancelled"}, "cancelled"),
    ("invoice_uncollectible", {"status": "uncollectible"}, "uncollectible"),
    ("invoice_uncollectible_removed", {"status": "open"}, "open"),
    ("invoice_cancellation_removed", {"status": "open"}, "open"),
    ("invoice_removed", {"status": "open"}, "deleted"),
    ("invoice_restored", {"status": "sent"}, "sent"),
]


@pytest.mark.parametrize(("event", "fields", "status"), EVENTS_AND_STATES)
def test_it_applies_each_event_in_a_background_task(
    event,
    fields,
    status,
    anonymous,
    registration,
    invoice,
    immediate_tasks,
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        response = deliver(anonymous, registration, event, fields)

    assert response.status_code == 200
    invoice.refresh_from_db()
    assert invoice.status == status
    assert ReceivedWebhook.objects.get().outcome == ReceivedWebhook.Outcome.APPLIED


def test_it_records_the_paid_date_and_what_remains(anonymous, registration, invoice):
    deliver(anonymous, registration, "invoice_paid", PAID)
    webhooks.apply_delivery(received_id=ReceivedWebhook.objects.get().pk)

    invoice.refresh_from_db()
    assert (invoice.paid_on, invoice.remaining_amount) == (date(2026, 11, 5), Decimal("0"))


def test_it_refuses_a_wrong_or_missing_authorization_and_changes_nothing(
    anonymous, registration, invoice
):
    wrong = deliver(anonymous, registration, "invoice_paid", PAID, auth="Bearer guess")
    missing = deliver(anonymous, registration, "invoice_paid", PAID, auth=False)

    assert (wrong.status_code, missing.status_code) == (401, 401)
    assert not ReceivedWebhook.objects.exists()
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.OPEN


def test_it_refuses_an_unknown_receiver(anonymous, registration):
    response = anonymous.post(
        reverse("fakturoid:webhook_receiver", args=["not-a-receiver"]),
        data="{}",
        content_type="application/json",
        headers={"Authorization": registration.secret},
    )

    assert response.status_code == 401


def test_it_ignores_a_repeated_idempotency_key(
    anonymous, registration, invoice, immediate_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        first = deliver(anonymous, registration, "invoice_paid", PAID, key="same")
        again = deliver(anonymous, registration, "invoice_paid", PAID, key="same")

    assert (first.status_code, again.status_code) == (200, 200)
    assert ReceivedWebhook.objects.count() == 1
    assert len(callbacks) == 1  # one task enqueued


def test_it_tolerates_unknown_events_and_fields(anonymous, registration, invoice):
    response = deliver(
        anonymous, registration, "expense_created", {"brand_new_field": {"x": 1}}, future=True
    )
    webhooks.apply_delivery(received_id=ReceivedWebhook.objects.get().pk)

    assert response.status_code == 200
    assert ReceivedWebhook.objects.get().outcome == ReceivedWebhook.Outcome.IGNORED
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.OPEN


def test_it_ignores_another_agencys_invoice_id(
    anonymous, registration, invoice, make_client, other_agency
):
    foreign = Invoice.objects.create(
        agency=other_agency,
        client=make_client(other_agency),
        period=date(2026, 10, 1),
        custom_id="rival-c1-2026-10",
        state=Invoice.State.CREATED,
        fakturoid_id=777,
        status=Invoice.Status.OPEN,
    )
    deliver(anonymous, registration, "invoice_paid", PAID | {"id": 777})
    outcome = webhooks.apply_delivery(received_id=ReceivedWebhook.objects.get().pk)

    assert outcome == ReceivedWebhook.Outcome.IGNORED
    foreign.refresh_from_db()
    assert foreign.status == Invoice.Status.OPEN


def test_an_older_delivery_never_overwrites_a_newer_state(anonymous, registration, invoice):
    deliver(anonymous, registration, "invoice_paid", PAID, key="new")
    older = {"status": "overdue", "updated_at": "2026-11-01T10:00:00.000+01:00"}
    deliver(anonymous, registration, "invoice_overdue", older, key="old")
    for received in ReceivedWebhook.objects.order_by("pk"):
        webhooks.apply_delivery(received_id=received.pk)

    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID


def test_a_late_removal_does_not_undo_a_newer_restore(anonymous, registration, invoice):
    deliver(anonymous, registration, "invoice_restored", {"status": "sent"}, key="restored")
    removed = {"updated_at": "2026-11-01T10:00:00.000+01:00"}
    deliver(anonymous, registration, "invoice_removed", removed, key="removed")
    for received in ReceivedWebhook.objects.order_by("pk"):
        webhooks.apply_delivery(received_id=received.pk)

    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.SENT


def test_it_answers_a_body_that_is_not_json_with_400(anonymous, registration):
    response = anonymous.post(
        reverse("fakturoid:webhook_receiver", args=[registration.receiver_id]),
        data="not json",
        content_type="application/json",
        headers={"Authorization": registration.secret},
    )

    assert response.status_code == 400
    assert not ReceivedWebhook.objects.exists()


def test_it_registers_the_webhook_with_our_url_events_and_secret(api, connected, owner_http):
    api.post(
        f"{ACCOUNT}/webhooks.json",
        json={"id": 42, "webhook_url": "x", "active": True, "events": list(webhooks.EVENTS)},
        status=201,
        headers=RATE,
    )

    response = owner_http.post(reverse("fakturoid:receive_updates"))

    registration = WebhookRegistration.objects.get(agency=connected.agency)
    sent = json.loads(api.calls[0].request.body)
    assert sent == {
        "webhook_url": webhooks.receiver_url(registration),
        "auth_header": registration.secret,
        "events": list(webhooks.EVENTS),
    }
    assert registration.receiver_id in sent["webhook_url"]
    assert registration.fakturoid_id == 42
    page = owner_http.get(response.url).content.decode()
    assert "Receiving updates" in page
    assert registration.secret not in page


@pytest.mark.parametrize(
    ("code", "advice"),
    [
        ("forbidden", "Settings → User account → API v3 credentials"),
        ("upgrade_required", "paid plans"),
    ],
)
def test_a_refusal_says_what_to_switch_on_in_fakturoid(api, connected, owner_http, code, advice):
    api.post(
        f"{ACCOUNT}/webhooks.json",
        json={"error": code, "error_description": "Webhooks are not enabled"},
        status=403,
        headers=RATE,
    )

    page = owner_http.post(reverse("fakturoid:receive_updates"), follow=True).content.decode()

    assert advice in page
    registration = WebhookRegistration.objects.get(agency=connected.agency)
    assert registration.state == WebhookRegistration.State.REFUSED


def test_stopping_removes_the_webhook_in_fakturoid(api, registration, owner_http):
    api.delete(f"{ACCOUNT}/webhooks/7.json", status=204, headers=RATE)

    owner_http.post(reverse("fakturoid:stop_updates"))

    assert not WebhookRegistration.objects.exists()


def test_disconnecting_fakturoid_removes_the_webhook(api, registration, owner_http):
    api.delete(f"{ACCOUNT}/webhooks/7.json", status=204, headers=RATE)

    owner_http.post(reverse("fakturoid:disconnect"))

    assert not WebhookRegistration.objects.exists()


def test_only_owners_may_switch_updates(registration, member):
    response = login(member).post(reverse("fakturoid:stop_updates"))

    assert response.status_code == 403
    assert WebhookRegistration.objects.exists()


def test_the_receiver_is_the_only_view_exempt_from_login_and_csrf():
    from django.urls import get_resolver

    exempt = []
    for pattern in get_resolver("fakturoid.urls").url_patterns:
        view = pattern.callback
        if getattr(view, "login_required", True) is False or getattr(view, "csrf_exempt", False):
            exempt.append(pattern.name)
    assert exempt == ["webhook_receiver"]
