"""Money flowing back, against the sandbox over a real socket: a payment made in "Fakturoid"
reaches our list by webhook, payments and e-mails from here, and the status sync."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from fakturoid.client import FakturoidClient
from fakturoid.errors import Forbidden, ValidationFailed, explain
from fakturoid.models import Invoice
from fakturoid.services import payments, sending, sync, webhooks
from fakturoid_sandbox import delivery
from fakturoid_sandbox import invoice_actions as sandbox_actions
from fakturoid_sandbox.control import update_state
from fakturoid_sandbox.models import Invoice as SandboxInvoice
from fakturoid_sandbox.models import Subject as SandboxSubject
from fakturoid_sandbox.models import Webhook as SandboxWebhook
from fakturoid_sandbox.testing import django_client_sender
from tests.support.live_server import connect_to_live_sandbox, wait_for_live_server_threads


@pytest.fixture
def scene(live_server, settings, monkeypatch, agency, owner_http):
    settings.SITE_URL = live_server.url
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    # Deliveries are made by the test, in its thread (deterministic), not by a background one.
    monkeypatch.setattr(delivery, "wake", lambda: None)
    connected = connect_to_live_sandbox(
        live_url=live_server.url,
        settings=settings,
        monkeypatch=monkeypatch,
        agency=agency,
        http=owner_http,
    )
    update_state("acme", webhook_backoff=[0, 0, 0, 0, 0])
    # No faults are injected here: a loaded machine must not turn a slow answer into one.
    settings.FAKTUROID_READ_TIMEOUT = settings.FAKTUROID_CONNECT_TIMEOUT = 15
    yield connected
    wait_for_live_server_threads()


@pytest.fixture
def invoice(scene) -> Invoice:
    level, text = scene.click()
    assert level == "success", text
    return Invoice.objects.get(client=scene.client)


def in_sandbox(invoice: Invoice) -> SandboxInvoice:
    return SandboxInvoice.objects.get(pk=invoice.fakturoid_id)


def test_a_payment_marked_in_fakturoid_shows_paid_in_our_list_by_webhook(scene, invoice):
    webhooks.receive_updates(agency=invoice.agency)
    hook = SandboxWebhook.objects.get()
    assert hook.webhook_url.startswith(scene.live_url) and set(webhooks.EVENTS) <= set(hook.events)

    sandbox_actions.add_payment(invoice=in_sandbox(invoice), data={})  # "Mark as paid"
    delivery.deliver_pending(send=django_client_sender())

    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    page = scene.http.get(reverse("fakturoid:invoices"), {"status": "paid"}).content.decode()
    assert f'id="invoice-{invoice.pk}"' in page


def test_webhooks_refused_by_fakturoid_say_what_to_switch_on(scene, invoice):
    update_state("acme", webhooks="not_enabled")

    page = scene.http.post(reverse("fakturoid:receive_updates"), follow=True).content.decode()

    assert "allow webhook management for these credentials" in page


def test_stopping_updates_removes_the_webhook_from_fakturoid(scene, invoice):
    webhooks.receive_updates(agency=invoice.agency)

    webhooks.stop_updates(agency=invoice.agency)

    assert not SandboxWebhook.objects.exists()


def test_partial_then_full_payment_then_removal(scene, invoice):
    today = timezone.localdate()
    half = invoice.total / 2
    payments.record_payment(invoice=invoice, paid_on=today, amount=half, thank_you=False)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.OPEN
    assert invoice.remaining_amount == invoice.total / 2

    payments.record_payment(invoice=invoice, paid_on=today, amount=None, thank_you=True)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    with pytest.raises(Forbidden) as refused:
        payments.record_payment(invoice=invoice, paid_on=today, amount=None, thank_you=False)
    assert "paid already or cancelled" in explain(refused.value)

    payments.remove_payment(invoice=invoice, payment_id=invoice.payments[-1]["id"])
    invoice.refresh_from_db()
    assert invoice.status != Invoice.Status.PAID


def test_mark_as_sent_and_e_mails_through_fakturoid(scene, invoice):
    SandboxSubject.objects.filter(pk=scene.subject_id).update(email="fakturace@nakup.example")
    payments.mark_as_sent(invoice=invoice)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.SENT

    sending.send_invoice_email(invoice=invoice)
    sandbox_actions.make_overdue(invoice=in_sandbox(invoice))
    invoice.due_on = timezone.localdate() - timedelta(days=1)
    sending.send_invoice_email(invoice=invoice, reminder=True)

    messages = in_sandbox(invoice).messages.order_by("pk")
    assert messages.count() == 2
    assert "overdue" in messages.last().subject


@pytest.mark.parametrize(
    ("switches", "words"),
    [
        ({"email_delivery": "upgrade_required"}, "only on paid plans"),
        ({"email_daily_quota": 0}, "daily quota"),
    ],
)
def test_e_mail_refusals_in_words(scene, invoice, switches, words):
    update_state("acme", **switches)

    with pytest.raises(Forbidden) as refused:
        sending.send_invoice_email(invoice=invoice)

    assert words in explain(refused.value)


def test_a_bad_address_is_named(scene, invoice):
    with pytest.raises(ValidationFailed) as refused:
        FakturoidClient.for_agency(invoice.agency).send_invoice_message(
            invoice.fakturoid_id, {"email": "not-an-address"}
        )

    assert "cannot send to this e-mail address" in explain(refused.value)


def test_the_sync_brings_back_payments_deletions_and_restores(scene, invoice):
    first = sync.sync_statuses(agency=invoice.agency)
    assert first.requests == 1  # one short page: the account holds one invoice

    sandbox_actions.add_payment(invoice=in_sandbox(invoice), data={})
    sync.sync_statuses(agency=invoice.agency)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID

    sandbox_actions.delete_invoice(invoice=in_sandbox(invoice))
    result = sync.sync_statuses(agency=invoice.agency, full=True)
    invoice.refresh_from_db()
    assert (len(result.deleted), invoice.status) == (1, Invoice.Status.DELETED)

    sandbox_actions.restore_invoice(invoice=in_sandbox(invoice))
    sync.sync_statuses(agency=invoice.agency)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
