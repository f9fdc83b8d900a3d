"""Exports of the clients list and its invoices as CSV and XLSX, for the list's filters
(issue 14, item 2)."""

import csv
import io
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from clients.models import BillingItem, Label
from fakturoid.models import Invoice

NOVEMBER = date(2026, 11, 1)


@pytest.fixture
def clients(agency, other_agency, make_client, make_project, make_item):
    """Two PPC clients (one with a name that is a formula), one SEO client, one elsewhere."""
    ppc = Label.objects.create(agency=agency, name="PPC")
    autodily = make_client(agency, "Autodíly Procházka s.r.o.", registration_no="06392750")
    shop = make_project(autodily, "autodily-prochazka.cz")
    make_item(shop, "Google Ads management", "19000")
    make_item(
        shop, "Campaign restructuring", "12500", kind=BillingItem.Kind.ONE_OFF, month=NOVEMBER
    )
    attacker = make_client(agency, '=HYPERLINK("http://evil.example","Click")', city="+420 Brno")
    for client in (autodily, attacker):
        client.labels.add(ppc)
    make_client(agency, "Cyklo Beneš s.r.o.")
    make_client(other_agency, "Rival Client s.r.o.")
    Invoice.objects.create(
        agency=agency,
        client=autodily,
        period=NOVEMBER,
        custom_id="k-1",
        state=Invoice.State.CREATED,
        status=Invoice.Status.PAID,
        number="2026-0042",
        subtotal=Decimal("31500"),
        total=Decimal("38115"),
        currency="CZK",
        html_url="https://app.fakturoid.cz/acme/invoices/42",
    )
    Invoice.objects.filter(number="2026-0042").update(
        created_at=datetime(2026, 12, 2, 1, 38, tzinfo=ZoneInfo("Europe/Prague"))
    )
    return ppc


def csv_rows(response) -> list[list[str]]:
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    delimiter = ";" if response.wsgi_request.LANGUAGE_CODE == "cs" else ","
    return list(csv.reader(io.StringIO(text[1:]), delimiter=delimiter))


def test_it_exports_the_filtered_clients_as_csv_with_formulas_neutralised(owner_http, clients):
    response = owner_http.get(
        "/clients/export.csv", {"label": clients.pk, "month": "2026-11", "sort": "-name"}
    )

    assert response["Content-Disposition"] == 'attachment; filename="clients.csv"'
    header, *rows = csv_rows(response)
    assert header[0] == "Name"
    assert header[-2:] == ["Monthly fees (11/2026)", "To bill for 11/2026 (excl. VAT)"]
    assert [row[0] for row in rows] == [
        "Autodíly Procházka s.r.o.",
        '\'=HYPERLINK("http://evil.example","Click")',
    ]
    assert rows[0][1] == "06392750"
    assert rows[0][10] == "PPC"
    assert rows[0][-2:] == ["19000.00", "31500.00"]
    assert rows[1][4] == "'+420 Brno"


def test_a_czech_csv_uses_semicolons_and_the_decimal_comma(owner_http, clients):
    response = owner_http.get(
        "/clients/export.csv", {"q": "autod", "month": "2026-11"}, HTTP_ACCEPT_LANGUAGE="cs"
    )

    header, row = csv_rows(response)
    assert header[0] == "Název"
    assert row[-2:] == ["19000,00", "31500,00"]


@pytest.mark.parametrize(("language", "money_format"), [("cs", "Kč"), ("en", '"CZK"')])
def test_the_xlsx_holds_numbers_formatted_for_the_language(
    owner_http, clients, language, money_format
):
    response = owner_http.get(
        "/clients/export.xlsx", {"month": "2026-11"}, HTTP_ACCEPT_LANGUAGE=language
    )

    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = {row[0].value: row for row in sheet.iter_rows(min_row=2)}
    assert set(rows) == {
        "Autodíly Procházka s.r.o.",
        '\'=HYPERLINK("http://evil.example","Click")',
        "Cyklo Beneš s.r.o.",
    }
    to_bill = rows["Autodíly Procházka s.r.o."][-1]
    assert to_bill.data_type == "n"
    assert to_bill.value == 31500
    assert money_format in to_bill.number_format
    assert all(cell.data_type != "f" for row in rows.values() for cell in row)


def test_it_exports_the_months_invoices_of_the_filtered_clients(owner_http, clients):
    csv_response = owner_http.get("/fakturoid/invoices/export.csv", {"month": "2026-11"})
    xlsx_response = owner_http.get(
        "/fakturoid/invoices/export.xlsx", {"month": "2026-11"}, HTTP_ACCEPT_LANGUAGE="cs"
    )
    october = owner_http.get("/fakturoid/invoices/export.csv", {"month": "2026-10"})

    header, row = csv_rows(csv_response)
    assert header[:2] == ["Number", "Client"]
    assert row[:6] == [
        "2026-0042",
        "Autodíly Procházka s.r.o.",
        "06392750",
        "11/2026",
        "created",
        "paid",
    ]
    assert row[6:9] == ["31500.00", "38115.00", "2026-12-02"]
    sheet = load_workbook(io.BytesIO(xlsx_response.content)).active
    [cells] = list(sheet.iter_rows(min_row=2))
    assert cells[7].value == 38115
    assert cells[8].value == datetime(2026, 12, 2)
    assert cells[8].number_format == "d. m. yyyy"
    assert csv_rows(october) == [header]


def test_exports_stay_inside_the_agency_and_behind_login(client, owner_http, clients):
    rows = csv_rows(owner_http.get("/clients/export.csv"))

    assert "Rival Client s.r.o." not in [row[0] for row in rows]
    assert owner_http.get("/clients/export.pdf").status_code == 404
    assert owner_http.get("/fakturoid/invoices/export.json").status_code == 404
    assert client.get("/clients/export.csv").status_code == 302
    assert client.get("/fakturoid/invoices/export.xlsx").status_code == 302


def test_the_list_links_to_the_exports_with_its_filters(owner_http, clients):
    html = owner_http.get("/", {"q": "autod", "label": clients.pk}).content.decode()

    assert f'href="/clients/export.xlsx?q=autod&amp;label={clients.pk}"' in html
    assert f'href="/fakturoid/invoices/export.csv?q=autod&amp;label={clients.pk}"' in html
