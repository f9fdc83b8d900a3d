"""Fakturoid sandbox: the invoice page's sandbox buttons (POST + CSRF), each with its webhooks."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from fakturoid_sandbox.control import ensure_account, ensure_subject
from fakturoid_sandbox.models import Invoice, WebhookDelivery
from fakturoid_sandbox.testing import SandboxClient, sandbox_mounted

LINE = {"name": "PPC management", "unit_price": "1000", "vat_rate": 21}  # 1210.00 with VAT
EVENTS = [
    "invoice_paid", "invoice_payment_added", "invoice_removed", "invoice_restored",
    "invoice_overdue",
]  # fmt: skip


@pytest.fixture(autouse=True)
def sandbox_on():
    with sandbox_mounted(True):
        yield


@pytest.fixture
def api(db) -> SandboxClient:
    api = SandboxClient(ensure_account("acme", name="Acme s.r.o."))
    api.authenticate()
    api.post("webhooks.json", {"webhook_url": "https://example.com/hook", "events": EVENTS})
    return api


@pytest.fixture
def invoice_id(api) -> int:
    subject = ensure_subject("acme", name="Apple Czech s.r.o.")
    return api.post("invoices.json", {"subject_id": subject.pk, "lines": [LINE]}).json()["id"]


@pytest.fixture
def sandbox_http(db) -> Client:
    return Client(enforce_csrf_checks=True)


def page_url(invoice_id: int) -> str:
    return f"/sandbox/fakturoid/acme/invoices/{invoice_id}"


def press(sandbox_http: Client, invoice_id: int, action: str, **fields) -> str:
    """Open the invoice page, submit the button's form with its CSRF token, follow back."""
    page = sandbox_http.get(page_url(invoice_id)).content.decode()
    action_url = f"{page_url(invoice_id)}/{action}"
    assert f'action="{action_url}"' in page, f"no {action} button"
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
    response = sandbox_http.post(action_url, {"csrfmiddlewaretoken": token, **fields})
    assert response.status_code == 302
    assert response["Location"] == page_url(invoice_id)
    return sandbox_http.get(page_url(invoice_id)).content.decode()


def events() -> list[str]:
    return list(WebhookDelivery.objects.values_list("event_name", flat=True))


def test_it_shows_the_sandbox_buttons_only_to_the_account_not_on_the_public_page(
    sandbox_http, api, invoice_id
):
    page = sandbox_http.get(page_url(invoice_id)).content.decode()
    assert "Sandbox actions (not in the real Fakturoid)" in page
    for label in ("Mark as paid", "Add partial payment", "Make overdue", "Delete"):
        assert label in page
    public = api.get(f"invoices/{invoice_id}.json").json()["public_html_url"]
    assert "Sandbox actions" not in sandbox_http.get(public).content.decode()


def test_it_marks_an_invoice_paid(sandbox_http, invoice_id):
    page = press(sandbox_http, invoice_id, "mark-paid")
    assert "The invoice is paid in full." in page
    invoice = Invoice.objects.get(pk=invoice_id)
    assert (invoice.status, invoice.paid_on) == ("paid", timezone.localdate())
    assert events() == ["invoice_payment_added", "invoice_paid"]
    assert "Mark as paid" not in page


def test_it_adds_a_partial_payment_typed_the_czech_way(sandbox_http, invoice_id):
    page = press(sandbox_http, invoice_id, "add-payment", amount="1 000,50")
    assert "A payment of 1000.50 CZK was added." in page
    invoice = Invoice.objects.get(pk=invoice_id)
    assert invoice.status == "open"
    assert invoice.remaining_amount == Decimal("209.50")
    assert events() == ["invoice_payment_added"]


@pytest.mark.parametrize(
    ("amount", "reason"),
    [("abc", "amount: is not a number"), ("", "amount: can&#x27;t be blank, is not a number")],
)
def test_it_says_why_a_payment_was_not_added(sandbox_http, invoice_id, amount, reason):
    page = press(sandbox_http, invoice_id, "add-payment", amount=amount)
    assert f"Not done: {reason}" in page
    assert not Invoice.objects.get(pk=invoice_id).payments.exists()
    assert events() == []


def test_it_deletes_to_the_trash_and_restores(sandbox_http, api, invoice_id):
    page = press(sandbox_http, invoice_id, "delete")
    assert "The invoice was moved to the trash." in page
    assert "In the trash since" in page
    assert api.get(f"invoices/{invoice_id}.json").status_code == 404
    assert "in the trash" in sandbox_http.get("/sandbox/fakturoid/acme/invoices").content.decode()

    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
    sandbox_http.post(f"{page_url(invoice_id)}/mark-paid", {"csrfmiddlewaretoken": token})
    page = sandbox_http.get(page_url(invoice_id)).content.decode()
    assert "The invoice is in the trash: restore it first." in page
    assert Invoice.objects.get(pk=invoice_id).status == "open"

    page = press(sandbox_http, invoice_id, "restore")
    assert "The invoice was restored from the trash." in page
    assert api.get(f"invoices/{invoice_id}.json").status_code == 200
    assert events() == ["invoice_removed", "invoice_restored"]


def test_it_makes_an_invoice_overdue(sandbox_http, api, invoice_id):
    page = press(sandbox_http, invoice_id, "make-overdue")
    assert "the invoice is overdue" in page
    body = api.get(f"invoices/{invoice_id}.json").json()
    assert body["status"] == "overdue"
    assert body["due_on"] == (timezone.localdate() - timedelta(days=1)).isoformat()
    assert events() == ["invoice_overdue"]
    assert "Make overdue" not in page


def test_it_refuses_a_post_without_the_csrf_token(sandbox_http, invoice_id):
    response = sandbox_http.post(f"{page_url(invoice_id)}/mark-paid")
    assert response.status_code == 403
    assert Invoice.objects.get(pk=invoice_id).status == "open"


def test_it_takes_actions_by_post_only_and_knows_only_its_actions(client, invoice_id):
    assert client.get(f"{page_url(invoice_id)}/mark-paid").status_code == 405
    assert client.post(f"{page_url(invoice_id)}/explode").status_code == 404
    assert client.post("/sandbox/fakturoid/acme/invoices/999/mark-paid").status_code == 404
    assert Invoice.objects.get(pk=invoice_id).status == "open"
