"""ARES, the Czech register of economic subjects: one company's details by its IČO.

`GET {ARES_API_URL}/ekonomicke-subjekty/{ico}` (REST API of ares.gov.cz, documented at
https://ares.gov.cz/swagger-ui/) answers the subject as JSON: `obchodniJmeno`, `dic`, `sidlo`
(the registered seat: `nazevUlice`, `cisloDomovni`, `cisloOrientacni`, `nazevObce`, `psc` as
a number, `kodStatu`, `textovaAdresa`, …) and `datumZaniku` once the company is dissolved.
Errors come as `{"kod": "NENALEZENO", "popis": "…", "subKod": "…"}` with 404 (unknown IČO),
400 (malformed request) or 5xx.

One attempt, short timeouts from settings: the user is waiting on the client form and can
always type the details by hand.
"""

import logging
from dataclasses import dataclass
from datetime import date
from typing import Any

import requests
from django.conf import settings
from django.utils.translation import gettext as _

from registries import errors

logger = logging.getLogger(__name__)


class AresError(errors.RegistryError):
    """ARES did not give us the company: unknown IČO, register down or slow, garbled answer."""


@dataclass(frozen=True)
class AresSubject:
    """A company as ARES registers it, in the shape of our client's billing details."""

    ico: str
    name: str
    vat_no: str
    street: str
    city: str
    zip: str
    country: str
    address_text: str
    dissolved_on: date | None

    @property
    def dissolved(self) -> bool:
        return self.dissolved_on is not None


def get_subject(ico: str) -> AresSubject:
    """The company registered under `ico` (8 digits). Raises AresError."""
    url = f"{settings.ARES_API_URL}/ekonomicke-subjekty/{ico}"
    try:
        response = requests.get(
            url,
            # One request per question: no connection is kept for later.
            headers={"Accept": "application/json", "Connection": "close"},
            timeout=(settings.REGISTRIES_CONNECT_TIMEOUT, settings.REGISTRIES_READ_TIMEOUT),
            allow_redirects=False,
        )
    except requests.Timeout as error:
        raise AresError(
            _("ARES did not answer in time. Try again later, or fill in the details by hand."),
            code=errors.TIMEOUT,
            transient=True,
        ) from error
    except requests.RequestException as error:
        logger.warning("ARES could not be reached: %s", type(error).__name__)
        raise AresError(
            _("ARES could not be reached. Try again later, or fill in the details by hand."),
            code=errors.UNAVAILABLE,
            transient=True,
        ) from error
    return _parse(ico, response)


def _parse(ico: str, response: requests.Response) -> AresSubject:
    status = response.status_code
    if status == 404:
        raise AresError(
            _("ARES has no company with IČO %(ico)s.") % {"ico": ico},
            code=errors.NOT_FOUND,
            transient=False,
            status=status,
        )
    if status == 400:
        raise AresError(
            _("ARES refused the IČO %(ico)s.") % {"ico": ico},
            code=errors.REFUSED,
            transient=False,
            status=status,
        )
    if status != 200:
        raise AresError(
            _(
                "ARES is not working right now (error %(status)s). Try again later, or fill "
                "in the details by hand."
            )
            % {"status": status},
            code=errors.UNAVAILABLE,
            transient=True,
            status=status,
        )
    try:
        return _subject(response.json())
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise AresError(
            _("ARES sent an answer we cannot read. Try again later."),
            code=errors.MALFORMED,
            transient=True,
            status=status,
        ) from error


def _subject(body: dict[str, Any]) -> AresSubject:
    name = body["obchodniJmeno"]
    if not isinstance(name, str) or not name.strip():
        raise ValueError("no obchodniJmeno")
    seat = body.get("sidlo") or {}
    country = str(seat.get("kodStatu") or "CZ").upper()
    dissolved = body.get("datumZaniku")
    return AresSubject(
        ico=str(body["ico"]),
        name=" ".join(name.split()),
        vat_no=str(body.get("dic") or ""),
        street=_street(seat),
        city=_city(seat),
        zip=_zip(seat.get("psc"), country),
        country=country if len(country) == 2 and country.isalpha() else "",
        address_text=str(seat.get("textovaAdresa") or ""),
        dissolved_on=date.fromisoformat(dissolved) if dissolved else None,
    )


def house_number(seat: dict[str, Any]) -> str:
    """ "1522/53a" (descriptive/orientation number), or whichever of the two exists."""
    descriptive = seat.get("cisloDomovni")
    orientation = seat.get("cisloOrientacni")
    if orientation is not None:
        orientation = f"{orientation}{seat.get('cisloOrientacniPismeno') or ''}"
    parts = [str(part) for part in (descriptive, orientation) if part is not None]
    return "/".join(parts)


def _street(seat: dict[str, Any]) -> str:
    # Villages without street names are addressed by the part of the municipality.
    place = seat.get("nazevUlice") or seat.get("nazevCastiObce") or seat.get("nazevObce") or ""
    return " ".join(part for part in (place, house_number(seat)) if part)


def _city(seat: dict[str, Any]) -> str:
    city = seat.get("nazevObce") or ""
    # Prague is written with its postal district ("Praha 1"), as on every letter.
    district = seat.get("nazevMestskehoObvodu") or ""
    if city == "Praha" and district.startswith("Praha "):
        return district
    return city


def _zip(psc: object, country: str) -> str:
    if psc in (None, ""):
        return ""
    digits = str(psc)
    if country == "CZ" and digits.isdigit() and len(digits) == 5:
        return f"{digits[:3]} {digits[3:]}"
    return digits
