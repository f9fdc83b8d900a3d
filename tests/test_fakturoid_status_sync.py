"""The status sync: invoices changed since the last sync, 40 per page, stopping at a short
page; overdue from the due date; invoices gone from Fakturoid marked deleted."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone
from responses import matchers

from fakturoid.errors import Unavailable
from fakturoid.models import Invoice, StatusSync
from fakturoid.services import sync
from tests.support.fakturoid_mocks import ACCOUNT, RATE, invoice_payload

LIST = f"{ACCOUNT}/invoices.json"


@pytest.fixture
def make_invoice(connected, make_client):
    client = make_client(connected.agency)

    def make(fakturoid_id: int, **fields) -> Invoice:
        fields.setdefault("status", Invoice.Status.OPEN)
        return Invoice.objects.create(
            agency=connected.agency,
            client=client,
            period=date(2026, 10, 1) - timedelta(days=31 * (fakturoid_id % 12)),
            custom_id=f"{connected.agency.key}-c{client.pk}-{fakturoid_id}",
            state=Invoice.State.CREATED,
            fakturoid_id=fakturoid_id,
            total=Decimal("100.00"),
            currency="CZK",
            **fields,
        )

    return make


def add_page(api, page: int, items: list, since: str | None = None) -> None:
    query = {"page": str(page)}
    if since is not None:
        query["updated_since"] = since
    api.get(LIST, json=items, headers=RATE, match=[matchers.query_param_matcher(query)])


def test_the_first_sync_lists_every_page_until_a_short_one(api, connected, make_invoice):
    paid = make_invoice(3)
    add_page(api, 1, [invoice_payload(i) for i in range(101, 141)])
    add_page(api, 2, [invoice_payload(i, status="paid") for i in range(41, 81)] + [])
    add_page(api, 3, [invoice_payload(3, status="paid", paid_on="2026-11-02")])

    result = sync.sync_statuses(agency=connected.agency)

    assert (result.requests, result.listed) == (3, 81)
    paid.refresh_from_db()
    assert (paid.status, paid.paid_on) == ("paid", date(2026, 11, 2))


def test_the_next_sync_asks_only_for_changes_and_costs_one_request(api, connected, make_invoice):
    make_invoice(5)
    cursor = timezone.now() - timedelta(hours=1)
    StatusSync.objects.create(agency=connected.agency, cursor=cursor)
    add_page(api, 1, [], since=cursor.isoformat())

    result = sync.sync_statuses(agency=connected.agency)

    assert result.requests == 1
    state = StatusSync.objects.get(agency=connected.agency)
    assert state.cursor > cursor  # the next one starts from here
    assert state.cursor < timezone.now() - sync.CURSOR_OVERLAP + timedelta(seconds=5)


def test_a_failed_sync_keeps_the_cursor(api, connected):
    cursor = timezone.now() - timedelta(hours=1)
    StatusSync.objects.create(agency=connected.agency, cursor=cursor)
    for _attempt in range(3):
        api.get(LIST, status=503, json={"error": "maintenance"})

    with pytest.raises(Unavailable):
        sync.sync_statuses(agency=connected.agency)

    assert StatusSync.objects.get(agency=connected.agency).cursor == cursor


def test_it_makes_an_invoice_past_its_due_date_overdue_without_asking(api, connected, make_invoice):
    late = make_invoice(1, status=Invoice.Status.SENT, due_on=timezone.localdate() - timedelta(1))
    on_time = make_invoice(2, due_on=timezone.localdate())
    StatusSync.objects.create(agency=connected.agency, cursor=timezone.now())
    add_page(api, 1, [], since=StatusSync.objects.get().cursor.isoformat())

    sync.sync_statuses(agency=connected.agency)

    late.refresh_from_db()
    on_time.refresh_from_db()
    assert (late.status, on_time.status) == ("overdue", "open")


def test_a_full_sync_marks_an_invoice_gone_from_fakturoid_deleted(api, connected, make_invoice):
    kept = make_invoice(1)
    gone = make_invoice(2)
    add_page(api, 1, [invoice_payload(1, status="sent", due_on="2099-01-01")])
    api.get(f"{ACCOUNT}/invoices/2.json", status=404, json={"error": "not_found"}, headers=RATE)

    result = sync.sync_statuses(agency=connected.agency, full=True)

    assert result.deleted == [gone]
    gone.refresh_from_db()
    kept.refresh_from_db()
    assert (gone.status, kept.status) == ("deleted", "sent")


def test_it_leaves_invoices_of_other_agencies_alone(
    api, connected, make_invoice, other_agency, make_client
):
    foreign = Invoice.objects.create(
        agency=other_agency,
        client=make_client(other_agency),
        period=date(2026, 10, 1),
        custom_id="rival-1",
        state=Invoice.State.CREATED,
        fakturoid_id=9,
        status=Invoice.Status.OPEN,
    )
    add_page(api, 1, [invoice_payload(9, status="paid")])

    sync.sync_statuses(agency=connected.agency)

    foreign.refresh_from_db()
    assert foreign.status == "open"


def test_refresh_statuses_runs_the_sync(api, connected, make_invoice, owner_http):
    invoice = make_invoice(1)
    add_page(api, 1, [invoice_payload(1, status="paid")])

    response = owner_http.post(reverse("fakturoid:refresh_statuses"), follow=True)

    assert "1 of ours changed (1 requests)" in response.content.decode()  # a full listing
    invoice.refresh_from_db()
    assert invoice.status == "paid"


def test_the_command_syncs_every_agency_or_one(api, connected, make_invoice, capsys):
    add_page(api, 1, [invoice_payload(1, status="paid")])
    invoice = make_invoice(1)

    call_command("fakturoid_sync", agency=connected.agency.pk)

    assert "1 updated, 0 deleted, 0 duplicated, 1 requests" in capsys.readouterr().out
    invoice.refresh_from_db()
    assert invoice.status == "paid"
    with pytest.raises(CommandError):
        call_command("fakturoid_sync", agency=999999)
