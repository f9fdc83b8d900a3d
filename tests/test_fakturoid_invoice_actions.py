"""Payments, the "sent" mark and e-mails through Fakturoid, from the invoices page."""

import json
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from responses import matchers

from fakturoid.models import Dispatch, DispatchItem, Invoice
from fakturoid.services import sending
from tests.support import login
from tests.support.fakturoid_mocks import ACCOUNT, RATE, invoice_payload

INVOICE = f"{ACCOUNT}/invoices/529"


@pytest.fixture
def invoice(connected, make_client) -> Invoice:
    client = make_client(connected.agency)
    return Invoice.objects.create(
        agency=connected.agency,
        client=client,
        period=date(2026, 10, 1),
        custom_id=f"{connected.agency.key}-c{client.pk}-2026-10",
        state=Invoice.State.CREATED,
        fakturoid_id=529,
        number="2026-0001",
        status=Invoice.Status.OPEN,
        total=Decimal("48400.00"),
        remaining_amount=Decimal("48400.00"),
        currency="CZK",
        due_on=timezone.localdate() + timedelta(days=10),
    )


def add_get(api, **fields) -> None:
    api.get(f"{INVOICE}.json", json=invoice_payload(529, **fields), headers=RATE)


def post(http, name, *args, **data):
    return http.post(reverse(f"fakturoid:{name}", args=args), data, follow=True)


def test_it_records_a_full_payment_and_the_invoice_becomes_paid(api, invoice, owner_http):
    api.post(
        f"{INVOICE}/payments.json",
        json={"id": 2, "paid_on": "2026-11-03", "amount": "48400.0", "currency": "CZK"},
        status=201,
        headers=RATE,
        match=[
            matchers.json_params_matcher({"paid_on": "2026-11-03", "send_thank_you_email": True})
        ],
    )
    add_get(api, status="paid", paid_on="2026-11-03", remaining_amount="0.0")

    page = post(owner_http, "payment_create", invoice.pk, paid_on="2026-11-03", thank_you="on")

    assert "was recorded" in page.content.decode()
    invoice.refresh_from_db()
    assert (invoice.status, invoice.remaining_amount) == ("paid", Decimal("0"))


def test_it_records_a_partial_payment(api, invoice, owner_http):
    api.post(
        f"{INVOICE}/payments.json",
        json={"id": 3, "paid_on": "2026-11-03", "amount": "400.0", "currency": "CZK"},
        status=201,
        headers=RATE,
        match=[
            matchers.json_params_matcher(
                {"paid_on": "2026-11-03", "amount": "400", "send_thank_you_email": False}
            )
        ],
    )
    payments = [{"id": 3, "paid_on": "2026-11-03", "amount": "400.0", "currency": "CZK"}]
    add_get(api, remaining_amount="48000.0", payments=payments)

    post(owner_http, "payment_create", invoice.pk, paid_on="2026-11-03", amount="400")

    invoice.refresh_from_db()
    assert invoice.remaining_amount == Decimal("48000")
    assert invoice.payments == [{"id": 3, "paid_on": "2026-11-03", "amount": "400.0"}]


def test_a_payment_of_an_already_paid_invoice_is_refused_in_words(api, invoice, owner_http):
    api.post(
        f"{INVOICE}/payments.json",
        json={
            "error": "forbidden",
            "error_description": "Payment cannot be added to already paid invoice",
        },
        status=403,
        headers=RATE,
    )

    page = post(owner_http, "payment_create", invoice.pk, paid_on="2026-11-03").content.decode()

    assert "it is paid already or cancelled" in page


def test_a_bad_payment_sends_nothing_and_says_which_field(api, invoice, owner_http):
    future = (timezone.localdate() + timedelta(days=2)).isoformat()

    page = post(owner_http, "payment_create", invoice.pk, paid_on=future, amount="99999")

    text = page.content.decode()
    assert "cannot be in the future" in text
    assert "still to be paid" in text
    assert len(api.calls) == 0


def test_it_removes_a_payment(api, invoice, owner_http):
    api.delete(f"{INVOICE}/payments/3.json", status=204, headers=RATE)
    add_get(api, status="open")

    page = post(owner_http, "payment_delete", invoice.pk, 3)

    assert "was removed" in page.content.decode()


def test_it_marks_an_invoice_as_sent(api, invoice, owner_http):
    api.post(
        f"{INVOICE}/fire.json",
        status=204,
        headers=RATE,
        match=[matchers.query_param_matcher({"event": "mark_as_sent"})],
    )
    add_get(api, status="sent")

    post(owner_http, "mark_sent", invoice.pk)

    invoice.refresh_from_db()
    assert invoice.status == "sent"


def test_it_sends_the_invoice_by_email(api, invoice, owner_http):
    api.post(f"{INVOICE}/message.json", status=204, headers=RATE)
    add_get(api, status="sent", sent_at="2026-11-03T10:00:00.000+01:00")

    page = post(owner_http, "send_email", invoice.pk, kind="invoice")

    assert "was sent by e-mail" in page.content.decode()
    assert json.loads(api.calls[0].request.body) == {}


def test_a_reminder_goes_only_to_an_overdue_invoice(api, invoice, owner_http):
    page = post(owner_http, "send_email", invoice.pk, kind="reminder")

    assert "only be sent for an overdue invoice" in page.content.decode()
    Invoice.objects.filter(pk=invoice.pk).update(due_on=timezone.localdate() - timedelta(3))
    api.post(f"{INVOICE}/message.json", status=204, headers=RATE)
    add_get(api, status="overdue")

    post(owner_http, "send_email", invoice.pk, kind="reminder")

    sent = json.loads(api.calls[0].request.body)
    assert "#overdue#" in sent["message"] and "#no#" in sent["subject"]


@pytest.mark.parametrize(
    ("status", "body", "words"),
    [
        (403, {"error": "upgrade_required", "error_description": "x"}, "only on paid plans"),
        (403, {"error": "quota_exhausted", "error_description": "x"}, "daily quota"),
        (422, {"errors": {"email": ["Please check the email."]}}, "cannot send to this e-mail"),
    ],
)
def test_email_refusals_are_worded(api, invoice, owner_http, status, body, words):
    api.post(f"{INVOICE}/message.json", status=status, json=body, headers=RATE)

    page = post(owner_http, "send_email", invoice.pk, kind="invoice").content.decode()

    assert words in page


def test_many_invoices_are_sent_by_one_task_each_with_progress(
    api, invoice, owner_http, settings, django_capture_on_commit_callbacks
):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    api.post(
        f"{INVOICE}/message.json",
        status=422,
        json={"errors": {"email": ["Please check the email."]}},
        headers=RATE,
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = owner_http.post(
            reverse("fakturoid:send_many"), {"kind": "invoice", "invoice": [invoice.pk]}
        )

    item = DispatchItem.objects.get()
    assert item.state == DispatchItem.State.FAILED
    assert "cannot send to this e-mail" in item.error
    page = owner_http.get(response.url).content.decode()
    assert "0 sent, 1 failed, 0 waiting" in page


def test_a_rate_limited_item_waits_for_the_budget(api, invoice, owner, monkeypatch):
    dispatch = Dispatch.objects.create(agency=invoice.agency, kind="invoice", created_by=owner)
    item = DispatchItem.objects.create(dispatch=dispatch, invoice=invoice)
    api.post(
        f"{INVOICE}/message.json",
        status=429,
        json={"error": "too_many_requests"},
        headers={"X-RateLimit": "default;r=0;t=50"},
    )
    later = []

    class Queue:
        def using(self, **options):
            later.append(options)
            return self

        def enqueue(self, *args) -> None:
            later.append(args)

    monkeypatch.setattr("fakturoid.tasks.send_dispatch_item", Queue())

    assert sending.send_item(item_id=item.pk) == DispatchItem.State.WAITING
    assert later[0]["run_after"] > timezone.now() + timedelta(seconds=50)
    assert later[1] == (item.pk,)


def test_another_agencys_invoice_is_404(invoice, other_agency):
    rival = other_agency.memberships.get().user

    response = login(rival).post(reverse("fakturoid:mark_sent", args=[invoice.pk]))

    assert response.status_code in (403, 404)
