"""Fakturoid sandbox: payments, full and partial, and their removal."""

import pytest

from fakturoid_sandbox.control import ensure_account, ensure_subject
from fakturoid_sandbox.models import Payment, SentMessage
from fakturoid_sandbox.testing import SandboxClient, sandbox_mounted

LINE = {"name": "PPC management", "unit_price": "1000", "vat_rate": 21}  # 1210.00 with VAT
PAYMENT_FIELDS = [
    "id", "paid_on", "currency", "amount", "native_amount", "variable_symbol", "bank_account_id",
    "tax_document_id", "created_at", "updated_at",
]  # fmt: skip


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
def invoice_id(api) -> int:
    subject = ensure_subject("acme", name="Apple Czech s.r.o.", email="pokus@test.cz")
    response = api.post("invoices.json", {"subject_id": subject.pk, "lines": [LINE]})
    assert response.status_code == 201
    return response.json()["id"]


def pay(api, invoice_id, **body):
    return api.post(f"invoices/{invoice_id}/payments.json", body)


def invoice(api, invoice_id) -> dict:
    return api.get(f"invoices/{invoice_id}.json").json()


def test_it_pays_in_two_parts_and_the_second_marks_it_paid(api, invoice_id):
    first = pay(api, invoice_id, amount="210.00", paid_on="2026-01-05")
    assert first.status_code == 201
    assert list(first.json()) == PAYMENT_FIELDS
    assert first.json()["amount"] == "210.0"
    partly = invoice(api, invoice_id)
    assert (partly["status"], partly["paid_on"], partly["remaining_amount"]) == (
        "open",
        None,
        "1000.0",
    )

    second = pay(api, invoice_id, paid_on="2026-01-20")  # the rest by default
    assert second.status_code == 201
    assert second.json()["amount"] == "1000.0"
    paid = invoice(api, invoice_id)
    assert (paid["status"], paid["paid_on"], paid["remaining_amount"]) == (
        "paid",
        "2026-01-20",
        "0.0",
    )
    assert [p["id"] for p in paid["payments"]] == [first.json()["id"], second.json()["id"]]


def test_it_marks_a_partly_paid_invoice_paid_when_asked(api, invoice_id):
    assert pay(api, invoice_id, amount="100", mark_document_as_paid=True).status_code == 201
    assert invoice(api, invoice_id)["status"] == "paid"


def test_it_records_the_thank_you_email_flag(api, invoice_id, client):
    assert pay(api, invoice_id, send_thank_you_email=True).status_code == 201
    assert Payment.objects.get().send_thank_you_email is True
    thanks = SentMessage.objects.get()
    assert thanks.email == "pokus@test.cz"
    assert "Děkujeme" in thanks.subject
    page = client.get(f"/sandbox/fakturoid/acme/invoices/{invoice_id}").content.decode()
    assert thanks.subject in page


def test_it_removes_a_payment_and_the_invoice_is_unpaid_again(api, invoice_id):
    api.post(f"invoices/{invoice_id}/fire.json", event="mark_as_sent")
    payment = pay(api, invoice_id).json()
    assert invoice(api, invoice_id)["status"] == "paid"

    response = api.delete(f"invoices/{invoice_id}/payments/{payment['id']}.json")

    assert response.status_code == 204
    assert response.content == b""
    after = invoice(api, invoice_id)
    assert (after["status"], after["paid_on"], after["remaining_amount"]) == (
        "sent",
        None,
        "1210.0",
    )
    assert after["payments"] == []
    assert pay(api, invoice_id, amount="10").status_code == 201  # payable again


def test_it_keeps_an_invoice_paid_while_the_rest_still_covers_it(api, invoice_id):
    small = pay(api, invoice_id, amount="10").json()
    pay(api, invoice_id, amount="1300")
    api.delete(f"invoices/{invoice_id}/payments/{small['id']}.json")
    assert invoice(api, invoice_id)["status"] == "paid"


def test_it_answers_404_for_a_payment_of_another_invoice(api, invoice_id):
    other = api.post(
        "invoices.json", {"subject_id": invoice(api, invoice_id)["subject_id"], "lines": [LINE]}
    ).json()["id"]
    payment = pay(api, other, amount="5").json()
    for path in (
        f"invoices/{invoice_id}/payments/{payment['id']}.json",
        f"invoices/{invoice_id}/payments/999.json",
    ):
        response = api.delete(path)
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"
    assert Payment.objects.count() == 1


def test_it_refuses_payments_on_a_paid_or_cancelled_invoice_with_403(api, invoice_id):
    payment = pay(api, invoice_id, amount="5").json()
    api.post(f"invoices/{invoice_id}/fire.json", event="cancel")
    cancelled = {
        "error": "forbidden",
        "error_description": "Payments cannot be changed on a cancelled invoice",
    }
    added = pay(api, invoice_id)
    assert (added.status_code, added.json()) == (403, cancelled)
    removed = api.delete(f"invoices/{invoice_id}/payments/{payment['id']}.json")
    assert (removed.status_code, removed.json()) == (403, cancelled)
    assert Payment.objects.count() == 1

    api.post(f"invoices/{invoice_id}/fire.json", event="undo_cancel")
    pay(api, invoice_id)
    again = pay(api, invoice_id, amount="1")
    assert again.status_code == 403
    assert again.json() == {
        "error": "forbidden",
        "error_description": "Payment cannot be added to already paid invoice",
    }


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"amount": "lots"}, {"amount": ["is not a number"]}),
        ({"amount": ""}, {"amount": ["can't be blank", "is not a number"]}),
        ({"amount": "0"}, {"amount": ["must be greater than 0"]}),
        ({"amount": -50}, {"amount": ["must be greater than 0"]}),
        ({"amount": "1e20"}, {"amount": ["is not a number"]}),
        ({"amount": True}, {"amount": ["is not a number"]}),
        ({"paid_on": "yesterday"}, {"paid_on": ["is not a date"]}),
        ({"send_thank_you_email": "yes"}, {"send_thank_you_email": ["is invalid"]}),
    ],
)
def test_it_refuses_bad_payments_with_422(api, invoice_id, body, errors):
    response = pay(api, invoice_id, **body)
    assert response.status_code == 422
    assert response.json() == {"errors": errors}
    assert not Payment.objects.exists()
    assert invoice(api, invoice_id)["status"] == "open"
