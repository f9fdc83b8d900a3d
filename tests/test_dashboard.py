"""The dashboard: billed per month by label, recurring fees, unpaid money by age, the month's
plan against what was billed; from our database in a bounded number of queries (issue 14)."""

import re
from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clients.models import Label
from dashboard.figures import agency_figures
from fakturoid.models import Invoice

TODAY = date(2026, 12, 3)
PRAGUE = ZoneInfo("Europe/Prague")


def invoice(client, period: date, amount: str, *, status="paid", currency="CZK", overdue=None):  # noqa: ANN001
    made = Invoice.objects.create(
        agency=client.agency,
        client=client,
        period=period,
        custom_id=f"t-{client.pk}-{period}-{status}-{amount}",
        state=Invoice.State.CREATED,
        status=status,
        number=f"N{client.pk}{period:%m}",
        subtotal=Decimal(amount),
        total=Decimal(amount) * Decimal("1.21"),
        currency=currency,
        due_on=TODAY - timedelta(days=overdue) if overdue is not None else None,
    )
    return made


@pytest.fixture
def business(agency, other_agency, connected, make_client, make_project, make_item):
    ppc = Label.objects.create(agency=agency, name="PPC")
    seo = Label.objects.create(agency=agency, name="SEO")
    both = make_client(agency, "Both s.r.o.")
    both.labels.add(ppc, seo)
    plain = make_client(agency, "Plain s.r.o.")
    make_item(make_project(both), "Fee", "10000")
    make_item(make_project(plain), "Fee", "3000", first_month=date(2026, 12, 1))
    make_item(
        make_project(plain, "Launch"), "Launch", "7000", kind="one_off", month=date(2026, 11, 1)
    )
    invoice(both, date(2026, 10, 1), "10000")
    invoice(both, date(2026, 11, 1), "10000", status="overdue", overdue=45)
    invoice(plain, date(2026, 11, 1), "7000", status="sent")
    invoice(plain, date(2026, 10, 1), "500", status="cancelled")
    invoice(plain, date(2026, 9, 1), "900", currency="EUR")
    invoice(plain, date(2025, 11, 1), "99999")  # older than 12 months
    invoice(make_client(other_agency, "Rival s.r.o."), date(2026, 11, 1), "55555")
    return agency


def test_it_adds_up_the_business_from_our_database(business):
    figures = agency_figures(business, today=TODAY)

    assert figures.currency == "CZK"
    assert figures.billed.columns[0] == "01/2026"
    assert figures.billed.columns[-1] == "12/2026"
    assert figures.billed.values["PPC"][9:11] == [Decimal("5000.00"), Decimal("5000.00")]
    assert figures.billed.values["SEO"][10] == Decimal("5000.00")
    assert figures.billed.values["No label"][10] == Decimal("7000.00")
    assert figures.billed.totals[9:12] == [Decimal("10000"), Decimal("17000"), Decimal("0")]
    assert figures.other_currencies == {"EUR"}
    # Monthly fees of December against November: Plain's fee starts in December.
    assert (figures.mrr, figures.mrr_previous, figures.mrr_change) == (13000, 10000, 3000)
    assert [(bar.label, bar.value) for bar in figures.mrr_top] == [
        ("Both s.r.o.", 10000),
        ("Plain s.r.o.", 3000),
    ]
    aging = {bar.label: bar.value for bar in figures.aging}
    assert aging == {
        "Not due": Decimal("8470.00"),
        "1–30 days": 0,
        "31–60 days": Decimal("12100.00"),
        "61–90 days": 0,
        "90+ days": 0,
    }
    # The month the run bills (November by default): planned from the finances, and billed.
    assert figures.plan_month == date(2026, 11, 1)
    assert [bar.value for bar in figures.plan] == [Decimal("17000"), Decimal("17000")]


def test_it_reads_the_same_number_of_queries_for_a_small_or_a_large_agency(
    business, owner_http, make_client, make_project, make_item
):
    owner_http.get("/dashboard/")
    with CaptureQueriesContext(connection) as small:
        owner_http.get("/dashboard/")
    for number in range(30):
        client = make_client(business, f"More {number} s.r.o.")
        make_item(make_project(client), "Fee", "1000")
        invoice(client, date(2026, 11, 1), "1000", status="overdue", overdue=100)
    with CaptureQueriesContext(connection) as large:
        response = owner_http.get("/dashboard/")

    assert response.status_code == 200
    assert len(large) == len(small)


@pytest.mark.parametrize(
    ("language", "heading", "money"),
    [
        ("en", "Billed per month, by label", "CZK\xa013,000.00"),
        ("cs", "Vyfakturováno po měsících", "13\xa0000,00\xa0Kč"),
    ],
)
def test_the_charts_are_svg_with_a_title_and_a_table(
    business, member_http, language, heading, money
):
    html = member_http.get("/dashboard/", HTTP_ACCEPT_LANGUAGE=language).content.decode()

    assert heading in html
    assert money in html
    svgs = re.findall(r"<svg [^>]*role=\"img\"[^>]*aria-labelledby=\"([^\"]+)\"", html)
    assert len(svgs) == 4
    for title in svgs:
        assert f'<title id="{title}">' in html
    assert html.count('<details class="chart-table">') == 4
    assert "<script" not in html.split("<main", 1)[1]


def test_the_dashboard_says_what_to_do_when_there_is_nothing_yet(owner_http):
    html = owner_http.get("/dashboard/").content.decode()

    assert "Nothing billed in the last 12 months yet" in html
    assert "No monthly fees yet" in html


def test_the_dashboard_is_linked_in_the_header_and_needs_a_login(client, owner_http):
    assert 'href="/dashboard/"' in owner_http.get("/").content.decode()
    assert client.get("/dashboard/").status_code == 302


def test_it_counts_only_billed_items_of_active_projects(
    agency, make_client, make_project, make_item
):
    client = make_client(agency)
    make_item(make_project(client, "Paused", active=False), "Fee", "5000")

    figures = agency_figures(agency, today=TODAY)

    assert figures.mrr == 0
    assert figures.plan[0].value == 0
