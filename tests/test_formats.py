"""One format for money and dates in each language, wherever they are shown (issue 14, item 5):
English `CZK 19,000.00` and `2 Dec 2026`, Czech `19 000,00 Kč` and `2. 12. 2026`."""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.template import Context, Template
from django.utils import timezone, translation

from clients.months import first_day, previous_month
from clients.templatetags.money import format_money
from fakturoid.models import Invoice

NBSP = "\N{NO-BREAK SPACE}"
PRAGUE = ZoneInfo("Europe/Prague")


@pytest.mark.parametrize(
    ("language", "amount", "currency", "expected"),
    [
        ("en", "19000", "CZK", "CZK 19,000.00"),
        ("cs", "19000", "CZK", "19 000,00 Kč"),
        ("en", "1234567.5", "EUR", "EUR 1,234,567.50"),
        ("cs", "1234567.5", "EUR", "1 234 567,50 €"),
        ("cs", "0.5", "USD", "0,50 USD"),
    ],
)
def test_it_formats_money_as_the_language_writes_it(language, amount, currency, expected):
    with translation.override(language):
        assert format_money(Decimal(amount), currency) == expected.replace(" ", NBSP)


def test_the_money_filter_needs_no_load_tag():
    with translation.override("cs"):
        html = Template("{{ amount|money:'CZK' }}").render(Context({"amount": Decimal("12.3")}))

    assert html == f"12,30{NBSP}Kč"


@pytest.mark.parametrize(
    ("language", "short", "long"),
    [("en", "2 Dec 2026", "2 Dec 2026, 01:38"), ("cs", "2. 12. 2026", "2. 12. 2026 01:38")],
)
def test_it_formats_dates_through_django_localisation(language, short, long):
    moment = datetime(2026, 12, 2, 1, 38, tzinfo=PRAGUE)
    template = Template('{{ day|date }}|{{ moment|date:"DATETIME_FORMAT" }}')

    with translation.override(language), timezone.override(PRAGUE):
        html = template.render(Context({"day": date(2026, 12, 2), "moment": moment}))

    assert html == f"{short}|{long}"


@pytest.fixture
def invoiced(agency, connected, make_client, make_project, make_item):
    """A linked client billing 19,000 CZK a month, invoiced for the list's month."""
    client = make_client(agency, "Autodíly Procházka s.r.o.", fakturoid_subject_id=16)
    make_item(make_project(client), "Google Ads management", "19000")
    month = previous_month(first_day(timezone.localdate()))
    invoice = Invoice.objects.create(
        agency=agency,
        client=client,
        period=month,
        custom_id="x-1",
        state=Invoice.State.CREATED,
        number="2026-0042",
        total=Decimal("22990"),
        currency="CZK",
    )
    Invoice.objects.filter(pk=invoice.pk).update(
        created_at=datetime(2026, 12, 2, 1, 38, tzinfo=PRAGUE)
    )
    return client


@pytest.mark.parametrize(
    ("language", "amount", "total", "day"),
    [
        ("en", "CZK 19,000.00", "CZK 22,990.00", "2 Dec 2026"),
        ("cs", "19 000,00 Kč", "22 990,00 Kč", "2. 12. 2026"),
    ],
)
def test_the_list_the_history_and_the_preview_share_the_format(
    owner_http, invoiced, language, amount, total, day
):
    month = previous_month(first_day(timezone.localdate()))
    header = {"HTTP_ACCEPT_LANGUAGE": language}

    listed = owner_http.get("/", **header).content.decode()
    history = owner_http.get(f"/clients/{invoiced.pk}/", **header).content.decode()
    preview = owner_http.get(
        f"/fakturoid/clients/{invoiced.pk}/invoice/{month:%Y-%m}/", **header
    ).content.decode()

    assert amount.replace(" ", NBSP) in listed
    assert amount.replace(" ", NBSP) in history
    assert total.replace(" ", NBSP) in history
    assert day in history
    assert amount.replace(" ", NBSP) in preview
    assert timezone.localdate().strftime("%Y-%m-%d") not in preview


@pytest.mark.parametrize(("language", "day"), [("en", "2 Dec 2026"), ("cs", "2. 12. 2026")])
def test_settings_show_when_fakturoid_was_verified_in_the_format(
    owner_http, connected, language, day
):
    connected.verified_at = datetime(2026, 12, 2, 1, 38, tzinfo=PRAGUE)
    connected.save()

    html = owner_http.get(
        "/agency/settings/fakturoid/", HTTP_ACCEPT_LANGUAGE=language
    ).content.decode()

    assert day in html
