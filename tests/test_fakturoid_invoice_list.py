"""The invoices page: every invoice of the agency, filters, totals, aging, links."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clients.models import Label
from fakturoid.models import Invoice

TODAY = timezone.localdate


@pytest.fixture
def make_invoice(agency, make_client):
    clients = {}
    months = iter(range(1000))

    def make(number: str, *, client: str = "Alza", **fields) -> Invoice:
        if client not in clients:
            clients[client] = make_client(agency, client)
        fields.setdefault("status", Invoice.Status.OPEN)
        fields.setdefault("currency", "CZK")
        # A client has one live invoice a month: each gets its own month unless told.
        if "period" not in fields:
            step = next(months)
            fields["period"] = date(2010 + step // 12, step % 12 + 1, 1)
        return Invoice.objects.create(
            agency=agency,
            client=clients[client],
            custom_id=f"{agency.key}-{number}",
            state=Invoice.State.CREATED,
            fakturoid_id=int(number),
            number=number,
            total=Decimal(fields.pop("total", "1000")),
            html_url=f"https://app.fakturoid.cz/acme/invoices/{number}",
            **fields,
        )

    return make


def page(http, **query) -> str:
    response = http.get(reverse("fakturoid:invoices"), query)
    assert response.status_code == 200
    return response.content.decode()


def test_it_lists_every_invoice_of_the_agency_with_links(
    owner_http, make_invoice, other_agency, make_client
):
    make_invoice("1001", client="Alza")
    make_invoice("1002", client="Rohlík")
    Invoice.objects.create(
        agency=other_agency,
        client=make_client(other_agency, "Secret s.r.o."),
        period=date(2026, 10, 1),
        custom_id="rival-1",
        number="9999",
    )

    html = page(owner_http)

    assert "1001" in html and "1002" in html
    assert "9999" not in html and "Secret" not in html
    assert (
        'href="https://app.fakturoid.cz/acme/invoices/1001" target="_blank" rel="noopener"' in html
    )
    assert reverse("fakturoid:invoice_pdf", args=[Invoice.objects.get(number="1001").pk]) in html


def test_it_filters_by_month_status_client_and_label(owner_http, make_invoice, agency):
    october = date(2026, 10, 1)
    make_invoice("1001", client="Alza", period=date(2026, 9, 1))
    paid = make_invoice("1002", client="Rohlík", status="paid", period=october)
    late = make_invoice("1003", client="Alza", due_on=TODAY() - timedelta(days=5), period=october)
    vip = Label.objects.create(agency=agency, name="VIP")
    paid.client.labels.add(vip)

    assert "1001" not in page(owner_http, month="2026-10")
    assert "1002" in page(owner_http, status="paid") and "1003" not in page(
        owner_http, status="paid"
    )
    overdue = page(owner_http, status="overdue")  # from the due date, not yet from Fakturoid
    assert "1003" in overdue and "1001" not in overdue
    by_client = page(owner_http, client=late.client_id)
    assert "1001" in by_client and "1002" not in by_client
    by_label = page(owner_http, label=vip.pk)
    assert "1002" in by_label and "1001" not in by_label


def test_it_totals_per_status_and_currency_and_ages_unpaid_money(owner_http, make_invoice):
    today = TODAY()
    make_invoice("1", total="100", due_on=today + timedelta(days=3))
    make_invoice("2", total="200", due_on=today - timedelta(days=10))
    make_invoice("3", total="300", due_on=today - timedelta(days=45), remaining_amount="50")
    make_invoice("4", total="400", due_on=today - timedelta(days=75))
    make_invoice("5", total="500", due_on=today - timedelta(days=120))
    make_invoice("6", total="600", status="paid", due_on=today - timedelta(days=120))
    make_invoice("7", total="70", currency="EUR", due_on=today - timedelta(days=1))

    invoices = Invoice.objects.filter(number__in="1234567").with_shown_status(today=today)
    aging = {row["currency"]: row for row in invoices.aging(today=today)}
    totals = {(r["shown_status"], r["currency"]): r["amount"] for r in invoices.totals_by_status()}

    assert aging["CZK"]["not_due"] == 100
    assert aging["CZK"]["days_1_30"] == 200
    assert aging["CZK"]["days_31_60"] == 50  # what remains, not the total
    assert aging["CZK"]["days_61_90"] == 400
    assert aging["CZK"]["days_over_90"] == 500  # the paid one is not owed
    assert aging["EUR"]["days_1_30"] == 70
    assert totals[("paid", "CZK")] == 600
    assert totals[("overdue", "CZK")] == 1400
    assert totals[("open", "CZK")] == 100
    assert "Unpaid money by days past due" in page(owner_http)


def test_it_takes_a_bounded_number_of_queries(owner_http, make_invoice):
    make_invoice("1")
    page(owner_http)  # the session's first request does its own bookkeeping
    with CaptureQueriesContext(connection) as few:
        page(owner_http)
    for number in range(2, 40):
        make_invoice(str(number), client=f"Client {number % 7}")
    with CaptureQueriesContext(connection) as many:
        page(owner_http)

    assert len(many) == len(few)


def test_it_is_paginated(owner_http, make_invoice):
    for number in range(1, 53):
        make_invoice(str(1000 + number))

    assert "Page 1 of 2" in page(owner_http)


def test_a_bad_month_says_so(owner_http, make_invoice):
    make_invoice("1001")

    assert "Pick a month as YYYY-MM." in page(owner_http, month="2026-13")


def test_the_header_links_the_invoices_page(owner_http):
    html = owner_http.get(reverse("clients:list")).content.decode()

    assert f'href="{reverse("fakturoid:invoices")}"' in html
