"""The Czech National Bank's daily exchange rates (kurzy devizového trhu).

`GET {CNB_RATES_URL}?date=DD.MM.YYYY` answers a text file: the date of the rates and their
serial number in the year, a header, then one `|`-separated row per currency with a decimal
comma; the rate is CZK per `množství` units::

    03.01.2025 #2
    země|měna|množství|kód|kurz
    EMU|euro|1|EUR|25,195
    Japonsko|jen|100|JPY|15,331

For a day without rates (weekend, holiday, today before 14:30) ČNB sends the last rates
published before it, under their own date. Parsing here; caching in `registries.services`.
"""

import logging
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

import requests
from django.conf import settings
from django.utils.translation import gettext as _

from registries import errors

logger = logging.getLogger(__name__)

HEADER = "země|měna|množství|kód|kurz"
FIRST_LINE_RE = re.compile(r"^(\d{2}\.\d{2}\.\d{4}) #(\d+)$")
CODE_RE = re.compile(r"^[A-Z]{3}$")


class CnbError(errors.RegistryError):
    """ČNB's rates could not be had, or have no rate for the currency."""


@dataclass(frozen=True)
class Rate:
    code: str
    quantity: int
    rate: Decimal  # CZK per `quantity` units

    @property
    def per_unit(self) -> Decimal:
        return self.rate / self.quantity


@dataclass(frozen=True)
class RateTable:
    published_on: date
    serial: int
    rates: dict[str, Rate]


def get_rates(on: date) -> RateTable:
    """The rates ČNB published for `on`, or the last ones before it. Raises CnbError."""
    try:
        response = requests.get(
            settings.CNB_RATES_URL,
            params={"date": on.strftime("%d.%m.%Y")},
            headers={"Connection": "close"},
            timeout=(settings.REGISTRIES_CONNECT_TIMEOUT, settings.REGISTRIES_READ_TIMEOUT),
            allow_redirects=False,
        )
    except requests.Timeout as error:
        raise CnbError(
            _("The Czech National Bank did not send its exchange rates in time. Try again later."),
            code=errors.TIMEOUT,
            transient=True,
        ) from error
    except requests.RequestException as error:
        logger.warning("ČNB rates could not be reached: %s", type(error).__name__)
        raise CnbError(
            _("The Czech National Bank's exchange rates could not be reached. Try again later."),
            code=errors.UNAVAILABLE,
            transient=True,
        ) from error
    if response.status_code != 200:
        raise CnbError(
            _(
                "The Czech National Bank's exchange rates are not available right now "
                "(error %(status)s). Try again later."
            )
            % {"status": response.status_code},
            code=errors.UNAVAILABLE,
            transient=True,
            status=response.status_code,
        )
    try:
        return parse(response.content.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, InvalidOperation) as error:
        raise CnbError(
            _("The Czech National Bank sent exchange rates we cannot read. Try again later."),
            code=errors.MALFORMED,
            transient=True,
            status=response.status_code,
        ) from error


def parse(text: str) -> RateTable:
    """The rate table of ČNB's text file. Raises ValueError when it is not one."""
    lines = [line.strip() for line in text.strip().splitlines()]
    if len(lines) < 3:
        raise ValueError("too short")
    first = FIRST_LINE_RE.match(lines[0])
    if not first or lines[1] != HEADER:
        raise ValueError("not a ČNB rate file")
    published_on = datetime.strptime(first[1], "%d.%m.%Y").date()
    rates: dict[str, Rate] = {}
    for line in lines[2:]:
        _country, _name, quantity, code, rate = line.split("|")
        if not CODE_RE.match(code):
            raise ValueError(f"bad currency code {code!r}")
        value = Decimal(rate.replace(",", "."))
        if int(quantity) <= 0 or value <= 0:
            raise ValueError(f"bad rate row {line!r}")
        rates[code] = Rate(code=code, quantity=int(quantity), rate=value)
    return RateTable(published_on=published_on, serial=int(first[2]), rates=rates)
