"""Fakturoid sandbox: what a status sync relies on: `updated_since`, every change bumping
`updated_at`, the trash, overdue, and foreign-currency invoices needing an exchange rate."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from fakturoid_sandbox.control import ensure_account, ensure_subject
from fakturoid_sandbox.invoice_actions import restore_invoice
from fakturoid_sandbox.models import Invoice
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
def subject(api):
    return ensure_subject("acme", name="Apple Czech s.r.o.", email="pokus@test.cz")


def create(api, subject, **fields) -> dict:
    response = api.post("invoices.json", {"subject_id": subject.pk, "lines": [LINE], **fields})
    assert response.status_code == 201, response.content
    return response.json()


def age_everything(days: int = 2) -> str:
    """Make every invoice look last changed `days` ago; returns a moment since then."""
    now = timezone.now()
    Invoice.objects.update(updated_at=now - timedelta(days=days))
    return timezone.localtime(now - timedelta(days=days - 1)).isoformat()


def ids(api, **params) -> list[int]:
    response = api.get("invoices.json", **params)
    assert response.status_code == 200, response.content
    return [invoice["id"] for invoice in response.json()]


def _pay(api, pk):
    assert api.post(f"invoices/{pk}/payments.json", {"amount": "1"}).status_code == 201


def _pay_and_remove(api, pk):
    payment = api.post(f"invoices/{pk}/payments.json", {}).json()
    since = age_everything()
    assert api.delete(f"invoices/{pk}/payments/{payment['id']}.json").status_code == 204
    return since


def _message(api, pk):
    assert api.post(f"invoices/{pk}/message.json", {}).status_code == 204


def _fire(api, pk):
    assert api.post(f"invoices/{pk}/fire.json", event="lock").status_code == 204


def _patch(api, pk):
    assert api.patch(f"invoices/{pk}.json", {"private_note": "x"}).status_code == 200


def _becomes_overdue(api, pk):
    yesterday = timezone.localdate() - timedelta(days=1)
    Invoice.objects.filter(pk=pk).update(due_on=yesterday)  # time passed; updated_at untouched


def _restore(api, pk):
    assert api.delete(f"invoices/{pk}.json").status_code == 204
    since = age_everything()
    restore_invoice(invoice=Invoice.objects.get(pk=pk))
    return since


@pytest.mark.parametrize(
    "change", [_pay, _pay_and_remove, _message, _fire, _patch, _becomes_overdue, _restore]
)
def test_it_lists_only_invoices_changed_since_updated_since(api, subject, change):
    first, second, third = (create(api, subject)["id"] for _ in range(3))
    since = age_everything()
    assert ids(api, updated_since=since) == []

    since = change(api, second) or since

    assert ids(api, updated_since=since) == [second]
    assert ids(api) == [first, second, third]


def test_it_bumps_updated_at_when_an_invoice_goes_to_the_trash(api, subject):
    pk = create(api, subject)["id"]
    since = age_everything()
    assert api.delete(f"invoices/{pk}.json").status_code == 204
    assert Invoice.objects.get(pk=pk).updated_at > datetime.fromisoformat(since)


def test_it_filters_by_creation_time_and_refuses_bad_datetimes(api, subject):
    old = create(api, subject)["id"]
    Invoice.objects.filter(pk=old).update(created_at=timezone.now() - timedelta(days=3))
    new = create(api, subject)["id"]
    cut = timezone.localtime(timezone.now() - timedelta(days=1)).isoformat()
    assert ids(api, since=cut) == [new]
    assert ids(api, until=cut) == [old]
    assert ids(api, updated_until=cut) == []
    for name in ("since", "updated_since"):
        response = api.get("invoices.json", **{name: "last tuesday"})
        assert response.status_code == 400
        assert response.json() == {
            "error": "invalid_request",
            "error_description": f"Invalid date format for {name}",
        }


def test_it_moves_a_deleted_invoice_to_the_trash_and_answers_404(api, subject):
    kept = create(api, subject, custom_id="keep")["id"]
    gone = create(api, subject, custom_id="gone")["id"]

    assert api.delete(f"invoices/{gone}.json").status_code == 204

    assert Invoice.objects.get(pk=gone).deleted_at is not None
    assert ids(api) == [kept]
    assert ids(api, custom_id="gone") == []
    for method, path in [
        ("GET", f"invoices/{gone}.json"),
        ("PATCH", f"invoices/{gone}.json"),
        ("DELETE", f"invoices/{gone}.json"),
        ("POST", f"invoices/{gone}/payments.json"),
        ("POST", f"invoices/{gone}/message.json"),
        ("GET", f"invoices/{gone}/download.pdf"),
    ]:
        assert api.request(method, path, {}).status_code == 404, path
    assert api.post(f"invoices/{gone}/fire.json", event="lock").status_code == 404

    restore_invoice(invoice=Invoice.objects.get(pk=gone))
    assert api.get(f"invoices/{gone}.json").status_code == 200
    assert ids(api, custom_id="gone") == [gone]


def test_it_reports_overdue_when_the_due_date_passed_and_it_is_unpaid(api, subject):
    past = (timezone.localdate() - timedelta(days=30)).isoformat()
    overdue = create(api, subject, issued_on=past, due=14)["id"]
    paid = create(api, subject, issued_on=past, due=14)["id"]
    api.post(f"invoices/{paid}/payments.json", {})
    cancelled = create(api, subject, issued_on=past, due=14)["id"]
    api.post(f"invoices/{cancelled}/fire.json", event="cancel")
    current = create(api, subject)["id"]
    api.post(f"invoices/{current}/fire.json", event="mark_as_sent")

    assert ids(api, status="overdue") == [overdue]
    assert ids(api, status="sent") == [current]
    assert [api.get(f"invoices/{pk}.json").json()["status"] for pk in (overdue, paid)] == [
        "overdue",
        "paid",
    ]


@pytest.mark.parametrize("where", ["invoice", "subject"])
def test_it_refuses_a_foreign_currency_invoice_without_an_exchange_rate(api, subject, where):
    if where == "subject":
        subject.currency = "EUR"
        subject.save()
        fields = {}
    else:
        fields = {"currency": "EUR"}
    response = api.post("invoices.json", {"subject_id": subject.pk, "lines": [LINE], **fields})
    assert response.status_code == 422
    assert response.json() == {"errors": {"exchange_rate": ["can't be blank"]}}
    assert not Invoice.objects.exists()


def test_it_converts_a_foreign_currency_invoice_at_its_exchange_rate(api, subject):
    body = create(api, subject, currency="EUR", exchange_rate="25.25")
    assert (body["currency"], body["exchange_rate"]) == ("EUR", "25.25")
    assert (body["total"], body["native_total"]) == ("1210.0", "30552.5")
    assert body["native_subtotal"] == "25250.0"
    assert body["remaining_native_amount"] == "30552.5"
    assert body["vat_rates_summary"][0]["native_currency"] == "CZK"
    assert body["lines"][0]["native_total_vat"] == "5302.5"
    payment = api.post(f"invoices/{body['id']}/payments.json", {"amount": "10"}).json()
    assert (payment["currency"], payment["native_amount"]) == ("EUR", "252.5")


@pytest.mark.parametrize(
    ("rate", "message"), [("abc", "is not a number"), ("0", "must be greater than 0")]
)
def test_it_refuses_a_bad_exchange_rate(api, subject, rate, message):
    response = api.post(
        "invoices.json",
        {"subject_id": subject.pk, "lines": [LINE], "currency": "EUR", "exchange_rate": rate},
    )
    assert response.status_code == 422
    assert response.json() == {"errors": {"exchange_rate": [message]}}


def test_it_keeps_the_rate_at_one_in_the_accounts_own_currency(api, subject):
    body = create(api, subject, currency="CZK", exchange_rate="3")
    assert (body["exchange_rate"], body["native_total"]) == ("1.0", "1210.0")
