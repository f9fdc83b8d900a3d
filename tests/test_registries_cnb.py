"""ČNB daily rates: the file format, the rate for the right day (weekends and holidays fall
back to the last rates before), the cache that spares ČNB a request per client, failures."""

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
import requests
from responses import matchers

from registries import cnb, errors
from registries.cnb import CnbError
from registries.models import ExchangeRate
from registries.services import exchange_rate
from registries_sandbox import rates
from registries_sandbox.control import update_switches
from tests.support.registries import CNB, fixture_text


def test_it_parses_the_rates_file_with_decimal_commas_and_quantities():
    table = cnb.parse(fixture_text("cnb_2025-01-03.txt"))

    assert (table.published_on, table.serial) == (date(2025, 1, 3), 2)
    assert table.rates["EUR"].rate == Decimal("25.195")
    assert table.rates["JPY"].quantity == 100
    assert table.rates["JPY"].per_unit == Decimal("0.15331")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "<html>Stránka nenalezena</html>",
        "03.01.2025 #2\nzemě|měna|množství|kód|kurz\nEMU|euro|1|EUR|abc\n",
        "03.01.2025 #2\nzemě|měna|množství|kód|kurz\nEMU|euro|1|EUR\n",
        "03.01.2025 #2\ncountry|currency|amount|code|rate\nEMU|euro|1|EUR|25,195\n",
    ],
    ids=["empty", "html", "not-a-number", "short-row", "wrong-header"],
)
def test_it_refuses_what_is_not_a_rates_file(text):
    with pytest.raises((ValueError, ArithmeticError)):
        cnb.parse(text)


def test_it_asks_for_a_saturday_and_takes_fridays_rate_once(real_registries, db):
    real_registries.get(
        CNB,
        body=fixture_text("cnb_2025-01-03.txt"),
        match=[matchers.query_param_matcher({"date": "04.01.2025"})],
    )

    first = exchange_rate(currency="EUR", on=date(2025, 1, 4))
    again = exchange_rate(currency="USD", on=date(2025, 1, 4))

    assert (first.rate, first.published_on, first.day) == (
        Decimal("25.195"),
        date(2025, 1, 3),
        date(2025, 1, 4),
    )
    assert again.rate == Decimal("24.385")
    assert len(real_registries.calls) == 1  # the second currency came from our database
    assert ExchangeRate.objects.filter(day=date(2025, 1, 4)).count() == 10


def test_it_says_when_cnb_publishes_no_rate_for_the_currency(real_registries, db):
    real_registries.get(CNB, body=fixture_text("cnb_2025-01-03.txt"))

    with pytest.raises(CnbError) as caught:
        exchange_rate(currency="XYZ", on=date(2025, 1, 3))

    assert (caught.value.code, caught.value.transient) == (errors.NOT_FOUND, False)
    assert caught.value.message == "The Czech National Bank publishes no daily rate for XYZ."


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        ({"status": 503, "body": "<html>503</html>"}, errors.UNAVAILABLE),
        ({"body": requests.ReadTimeout("slow")}, errors.TIMEOUT),
        ({"status": 200, "body": "<html>Údržba</html>"}, errors.MALFORMED),
        ({"status": 200, "body": b"\xff\xfe rates"}, errors.MALFORMED),
    ],
    ids=["5xx", "timeout", "html", "not-utf8"],
)
def test_it_turns_every_cnb_failure_into_one_transient_error(real_registries, db, answer, code):
    real_registries.get(CNB, **answer)

    with pytest.raises(CnbError) as caught:
        exchange_rate(currency="EUR", on=date(2025, 1, 3))

    assert (caught.value.code, caught.value.transient) == (code, True)
    assert not ExchangeRate.objects.exists()


# --- Through the stand-in ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("asked", "published"),
    [
        (date(2026, 3, 31), date(2026, 3, 31)),  # a Tuesday: its own rates
        (date(2026, 5, 31), date(2026, 5, 29)),  # a Sunday: Friday's
        (date(2026, 4, 6), date(2026, 4, 2)),  # Easter Monday after Good Friday: Thursday's
        (date(2026, 10, 28), date(2026, 10, 27)),  # Independence Day (a Wednesday)
        (date(2025, 12, 31), date(2025, 12, 31)),
        (date(2026, 1, 1), date(2025, 12, 31)),  # New Year's Day: last year's last rates
    ],
)
def test_it_takes_the_rate_published_that_day_or_the_last_before(standins, asked, published):
    rate = exchange_rate(currency="EUR", on=asked)

    assert rate.published_on == published
    assert rate.rate == rates.rate("EUR", Decimal("25.00"), published)
    assert Decimal("22") < rate.rate < Decimal("28")


def test_it_does_not_keep_todays_rates_before_they_are_published(standins, monkeypatch):
    # The stand-in, like ČNB, answers today's question with yesterday's rates until 14:30.
    early = datetime(2026, 12, 2, 9, 0)
    monkeypatch.setattr(
        "registries_sandbox.views.timezone.localtime", lambda: early.replace(tzinfo=None)
    )
    monkeypatch.setattr("registries.services.timezone.localdate", lambda: early.date())

    rate = exchange_rate(currency="EUR", on=early.date())

    assert rate.published_on == early.date() - timedelta(days=1)
    assert not ExchangeRate.objects.filter(day=early.date()).exists()


def test_it_reports_the_stand_ins_failures(standins):
    update_switches("cnb", fail_next={"status": 500, "count": 1}, malformed_next=1)

    with pytest.raises(CnbError) as first:
        exchange_rate(currency="EUR", on=date(2026, 3, 31))
    with pytest.raises(CnbError) as second:
        exchange_rate(currency="EUR", on=date(2026, 3, 31))

    assert (first.value.code, second.value.code) == (errors.UNAVAILABLE, errors.MALFORMED)
    assert exchange_rate(currency="EUR", on=date(2026, 3, 31)).published_on == date(2026, 3, 31)


def test_the_stand_in_publishes_no_rates_on_weekends_or_holidays():
    day, published = date(2025, 1, 1), set()
    while day <= date(2026, 12, 31):
        published.add(rates.last_publication(day, datetime(2027, 1, 1, 15, 0)))
        day += timedelta(days=1)

    assert all(day.weekday() < 5 for day in published)
    assert (
        not {date(2025, 12, 24), date(2026, 4, 3), date(2026, 4, 6), date(2026, 7, 6)} & published
    )
    assert date(2026, 4, 2) in published and date(2026, 4, 7) in published


def test_the_stand_in_numbers_each_years_rates_from_one():
    assert rates.serial(date(2026, 1, 2)) == 1
    assert rates.rates_file(date(2026, 1, 5)).splitlines()[0] == "05.01.2026 #2"
