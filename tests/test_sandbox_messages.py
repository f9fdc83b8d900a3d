"""Fakturoid sandbox: sending an invoice by e-mail (`message.json`)."""

from datetime import timedelta

import pytest

from fakturoid_sandbox.control import ensure_account, ensure_subject, update_state
from fakturoid_sandbox.models import Invoice, SentMessage
from fakturoid_sandbox.testing import SandboxClient, sandbox_mounted

LINE = {"name": "PPC management", "unit_price": "1000", "vat_rate": 21}


@pytest.fixture(autouse=True)
def sandbox_on():
    with sandbox_mounted(True):
        yield


@pytest.fixture
def api(db) -> SandboxClient:
    api = SandboxClient(ensure_account("acme", name="Acme s.r.o."))
    api.authenticate()
    return api


@pytest.fixture
def invoice(api) -> dict:
    subject = ensure_subject("acme", name="Apple Czech s.r.o.", email="pokus@test.cz")
    response = api.post("invoices.json", {"subject_id": subject.pk, "lines": [LINE]})
    assert response.status_code == 201
    return response.json()


def send(api, invoice, **body):
    return api.post(f"invoices/{invoice['id']}/message.json", body)


def test_it_records_the_message_and_marks_the_invoice_sent(api, invoice):
    Invoice.objects.filter(pk=invoice["id"]).update(
        updated_at=Invoice.objects.get(pk=invoice["id"]).updated_at - timedelta(hours=1)
    )
    before = Invoice.objects.get(pk=invoice["id"]).updated_at

    response = send(
        api,
        invoice,
        email="ucetni@apple.example",
        email_copy="boss@apple.example",
        subject="Invoice #no#",
        message="Please pay #price# by #due#.",
        deliver_now=True,
    )

    assert response.status_code == 204
    assert response.content == b""
    message = SentMessage.objects.get()
    assert message.invoice_id == invoice["id"]
    assert message.email == "ucetni@apple.example"
    assert message.email_copy == "boss@apple.example"
    assert message.subject == f"Invoice {invoice['number']}"
    assert message.message == f"Please pay 1210.00 CZK by {invoice['due_on']}."
    assert message.created_at is not None
    after = api.get(f"invoices/{invoice['id']}.json").json()
    assert after["status"] == "sent"
    assert after["sent_at"] is not None
    assert Invoice.objects.get(pk=invoice["id"]).updated_at > before


def test_it_defaults_to_the_subjects_email_and_fakturoids_texts(api, invoice):
    assert send(api, invoice).status_code == 204
    message = SentMessage.objects.get()
    assert message.email == "pokus@test.cz"
    assert message.subject == f"Faktura {invoice['number']}"
    assert invoice["number"] in message.message
    assert invoice["public_html_url"].split("/sandbox/")[1] in message.message


def test_it_sends_again_and_keeps_every_message(api, invoice):
    assert send(api, invoice).status_code == 204
    assert send(api, invoice, subject="Reminder").status_code == 204
    assert [m.subject for m in SentMessage.objects.all()][1] == "Reminder"


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"email": "bad@email"}, {"email": ["Please check the email."]}),
        ({"email": "not an address"}, {"email": ["Please check the email."]}),
        ({"email_copy": "copy@"}, {"email_copy": ["Please check the email."]}),
        ({"subject": ["a", "list"]}, {"subject": ["is invalid"]}),
    ],
)
def test_it_refuses_a_bad_email_with_422(api, invoice, body, errors):
    response = send(api, invoice, **body)
    assert response.status_code == 422
    assert response.json() == {"errors": errors}
    assert not SentMessage.objects.exists()
    assert api.get(f"invoices/{invoice['id']}.json").json()["sent_at"] is None


@pytest.mark.parametrize(
    ("switches", "body"),
    [
        (
            {"email_delivery": "upgrade_required"},
            {
                "error": "upgrade_required",
                "error_description": "Email delivery is only available for paid plans",
            },
        ),
        (
            {"email_delivery": "email_delivery_disabled"},
            {
                "error": "email_delivery_disabled",
                "error_description": "Email delivery has been disabled for this account",
            },
        ),
        (
            {"email_daily_quota": 0},
            {
                "error": "quota_exhausted",
                "error_description": "You have reached maximum daily quota of sent emails",
            },
        ),
    ],
)
def test_it_answers_403_as_the_switches_say(api, invoice, switches, body):
    update_state("acme", **switches)
    response = send(api, invoice)
    assert response.status_code == 403
    assert response.json() == body
    assert not SentMessage.objects.exists()
    assert api.get(f"invoices/{invoice['id']}.json").json()["status"] == "open"


def test_it_counts_the_daily_quota_across_the_accounts_invoices(api, invoice):
    update_state("acme", email_daily_quota=2)
    second = api.post(
        "invoices.json", {"subject_id": invoice["subject_id"], "lines": [LINE]}
    ).json()
    assert send(api, invoice).status_code == 204
    assert send(api, second).status_code == 204
    refused = send(api, invoice)
    assert refused.status_code == 403
    assert refused.json()["error"] == "quota_exhausted"
    update_state("acme", email_daily_quota=None)
    assert send(api, invoice).status_code == 204


def test_it_shows_the_messages_on_the_invoice_page(api, invoice, client):
    page = client.get(f"/sandbox/fakturoid/acme/invoices/{invoice['id']}").content.decode()
    assert "No e-mail sent for this invoice yet." in page
    send(api, invoice, email="ucetni@apple.example", subject="Your invoice", message="Hello")
    page = client.get(f"/sandbox/fakturoid/acme/invoices/{invoice['id']}").content.decode()
    assert "ucetni@apple.example" in page
    assert "Your invoice" in page
    assert "Hello" in page
    public = client.get(invoice["public_html_url"]).content.decode()
    assert "ucetni@apple.example" not in public


def test_it_records_a_message_about_an_overdue_invoice_as_a_reminder(api, invoice):
    assert send(api, invoice).status_code == 204
    assert api.get(f"invoices/{invoice['id']}.json").json()["reminder_sent_at"] is None
    Invoice.objects.filter(pk=invoice["id"]).update(due_on="2020-01-01")

    send(api, invoice)
    first = api.get(f"invoices/{invoice['id']}.json").json()
    send(api, invoice)
    second = api.get(f"invoices/{invoice['id']}.json").json()

    assert first["status"] == second["status"] == "overdue"
    assert first["reminder_sent_at"] is not None
    assert second["reminder_sent_at"] == first["reminder_sent_at"]
    assert second["last_reminder_sent_at"] > first["last_reminder_sent_at"]
