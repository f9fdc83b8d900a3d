"""VIES, the European Commission's check of EU VAT numbers.

`POST {VIES_API_URL}/check-vat-number` with `{"countryCode": "DE", "vatNumber": "123456789"}`
(REST API documented at https://ec.europa.eu/taxation_customs/vies/#/technical-information)
answers `{"countryCode", "vatNumber", "requestDate", "valid", "requestIdentifier", "name",
"address", …}`; `name` and `address` are "---" where the member state does not disclose them.
When the check cannot be made it answers `{"actionSucceed": false, "errorWrappers": [{"error":
"MS_UNAVAILABLE", "message": …}]}` (400 for bad input, 5xx or even 200 for the rest).
"""

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests
from django.conf import settings
from django.utils.translation import gettext as _

from registries import errors

logger = logging.getLogger(__name__)

VAT_NUMBER_RE = re.compile(r"^([A-Z]{2})([0-9A-Z+*.]{2,13})$")
# VIES writes Greece as EL; the ISO code GR is accepted from users and sent as EL.
COUNTRY_ALIASES = {"GR": "EL"}
# Error codes of VIES that say the number itself is wrong rather than the service down.
INPUT_ERRORS = {"INVALID_INPUT", "INVALID_REQUESTER_INFO"}
UNDISCLOSED = "---"


class ViesError(errors.RegistryError):
    """VIES could not check the number (the service or the member state's system is down)."""


@dataclass(frozen=True)
class ViesResult:
    country_code: str
    vat_number: str
    valid: bool
    name: str
    address: str
    checked_at: datetime | None


def split_vat_number(vat_no: str) -> tuple[str, str]:
    """("DE", "123456789") from "DE123456789". Raises ViesError for another shape."""
    match = VAT_NUMBER_RE.match(vat_no.replace(" ", "").upper())
    if not match:
        raise ViesError(
            _("%(vat_no)s is not an EU VAT number (country code and number).") % {"vat_no": vat_no},
            code=errors.REFUSED,
            transient=False,
        )
    country, number = match.groups()
    return COUNTRY_ALIASES.get(country, country), number


def check_vat_number(vat_no: str) -> ViesResult:
    """Whether VIES knows `vat_no` (e.g. "CZ26148731") as a valid VAT number. Raises ViesError
    when the check could not be made."""
    country, number = split_vat_number(vat_no)
    try:
        response = requests.post(
            f"{settings.VIES_API_URL}/check-vat-number",
            json={"countryCode": country, "vatNumber": number},
            # One request per question: no connection is kept for later.
            headers={"Accept": "application/json", "Connection": "close"},
            timeout=(settings.REGISTRIES_CONNECT_TIMEOUT, settings.REGISTRIES_READ_TIMEOUT),
            allow_redirects=False,
        )
    except requests.Timeout as error:
        raise ViesError(
            _("VIES did not answer in time. Try the check again later."),
            code=errors.TIMEOUT,
            transient=True,
        ) from error
    except requests.RequestException as error:
        logger.warning("VIES could not be reached: %s", type(error).__name__)
        raise ViesError(
            _("VIES could not be reached. Try the check again later."),
            code=errors.UNAVAILABLE,
            transient=True,
        ) from error
    return _parse(vat_no, response)


def _unavailable(status: int | None, detail: str) -> ViesError:
    return ViesError(
        _("VIES cannot check VAT numbers right now (%(detail)s). Try again later.")
        % {"detail": detail},
        code=errors.UNAVAILABLE,
        transient=True,
        status=status,
    )


def _parse(vat_no: str, response: requests.Response) -> ViesResult:
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("errorWrappers"):
        code = _error_code(body["errorWrappers"])
        if code in INPUT_ERRORS:
            raise ViesError(
                _("VIES refused %(vat_no)s as malformed.") % {"vat_no": vat_no},
                code=errors.REFUSED,
                transient=False,
                status=status,
            )
        raise _unavailable(status, code)
    if status != 200:
        raise _unavailable(status, _("error %(status)s") % {"status": status})
    try:
        return _result(body)
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise ViesError(
            _("VIES sent an answer we cannot read. Try the check again later."),
            code=errors.MALFORMED,
            transient=True,
            status=status,
        ) from error


def _error_code(wrappers: Any) -> str:
    """The first error code of VIES's `errorWrappers` ("ERROR" when it has none we can read)."""
    first = wrappers[0] if isinstance(wrappers, list) else None
    code = first.get("error") if isinstance(first, dict) else None
    return str(code) if isinstance(code, str) and code else "ERROR"


def _disclosed(value: Any) -> str:
    text = str(value or "").strip()
    return "" if text == UNDISCLOSED else text


def _result(body: dict[str, Any]) -> ViesResult:
    valid = body["valid"]
    if not isinstance(valid, bool):
        raise ValueError("valid is not a boolean")
    requested = body.get("requestDate")
    return ViesResult(
        country_code=str(body["countryCode"]),
        vat_number=str(body["vatNumber"]),
        valid=valid,
        name=_disclosed(body.get("name")),
        address=_disclosed(body.get("address")),
        checked_at=datetime.fromisoformat(requested.replace("Z", "+00:00")) if requested else None,
    )
