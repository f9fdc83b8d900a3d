"""The stand-ins' HTTP answers, shaped like the real services' (see registries/ares.py,
vies.py and cnb.py for the real APIs), and their control endpoint."""

import json
import re
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from registries_sandbox import control, rates
from registries_sandbox.data import COMPANIES, EU_VAT_NUMBERS, VIES_COUNTRIES, CompanyData
from registries_sandbox.models import Company

ICO_RE = re.compile(r"^\d{8}$")
GARBAGE = "<html><body><h1>503 Service Temporarily Unavailable</h1></body>"


def stand_in(service: str, failure: Callable[[int], HttpResponse]) -> Callable:
    """Open to anyone like the real service, and misbehaving as the switches say."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_not_required
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, **kwargs: Any) -> HttpResponse:
            misbehaviour = control.take_misbehaviour(service)
            if misbehaviour.delay_ms:
                time.sleep(misbehaviour.delay_ms / 1000)
            if misbehaviour.fail_status:
                return failure(misbehaviour.fail_status)
            if misbehaviour.malformed:
                return HttpResponse(GARBAGE, content_type="application/json")
            return view(request, **kwargs)

        return wrapper

    return decorate


# --- ARES -------------------------------------------------------------------------------------


def _ares_error(status: int, kod: str, popis: str, sub_kod: str | None = None) -> JsonResponse:
    body = {"kod": kod, "popis": popis}
    if sub_kod:
        body["subKod"] = sub_kod
    return JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})


def _ares_failure(status: int) -> JsonResponse:
    return _ares_error(status, "OBECNA_CHYBA", "Při zpracování požadavku došlo k chybě.")


def _company(ico: str) -> Company | CompanyData | None:
    return Company.objects.filter(ico=ico).first() or COMPANIES.get(ico)


def _seat(company: Company | CompanyData) -> dict[str, Any]:
    seat: dict[str, Any] = {
        "kodStatu": company.country,
        "nazevStatu": "Česká republika" if company.country == "CZ" else company.country,
        "nazevObce": company.city,
        "nazevCastiObce": company.part or company.city,
        "psc": int(company.zip) if company.zip.isdigit() else company.zip,
    }
    if company.district:
        seat["nazevMestskehoObvodu"] = company.district
        seat["nazevMestskeCastiObvodu"] = company.district
    if company.street:
        seat["nazevUlice"] = company.street
    if company.descriptive_no is not None:
        seat["cisloDomovni"] = company.descriptive_no
        seat["typCisloDomovni"] = 1
    match = re.match(r"^(\d+)([a-zA-Z]?)$", company.orientation_no or "")
    if match:
        seat["cisloOrientacni"] = int(match[1])
        if match[2]:
            seat["cisloOrientacniPismeno"] = match[2]
    numbers = "/".join(
        str(part) for part in (company.descriptive_no, company.orientation_no) if part
    )
    place = company.street or company.part or company.city
    zip_text = company.zip
    seat["textovaAdresa"] = f"{place} {numbers}, {zip_text} {company.district or company.city}"
    return seat


def _ares_body(company: Company | CompanyData) -> dict[str, Any]:
    seat = _seat(company)
    body: dict[str, Any] = {
        "ico": company.ico,
        "obchodniJmeno": company.name,
        "sidlo": seat,
        "pravniForma": "112",
        "financniUrad": "451",
        "datumVzniku": "2015-03-02",
        "datumAktualizace": timezone.localdate().isoformat(),
        "icoId": company.ico,
        "adresaDorucovaci": {
            "radekAdresy1": seat["textovaAdresa"].split(", ")[0],
            "radekAdresy2": seat["textovaAdresa"].split(", ")[-1],
        },
        "seznamRegistraci": {
            "stavZdrojeVr": "HISTORICKY" if company.dissolved_on else "AKTIVNI",
            "stavZdrojeRes": "AKTIVNI",
            "stavZdrojeDph": "AKTIVNI" if company.vat_payer else "NEEXISTUJICI",
        },
        "primarniZdroj": "vr",
        "czNace": ["47910", "73110"],
    }
    if company.vat_no:
        body["dic"] = company.vat_no
    if company.dissolved_on:
        body["datumZaniku"] = company.dissolved_on.isoformat()
    return body


@require_GET
@stand_in("ares", _ares_failure)
def ares_subject(request: HttpRequest, ico: str) -> HttpResponse:
    if not ICO_RE.match(ico):
        return _ares_error(
            400, "CHYBA_VSTUPU", "Chyba vstupních dat: IČO musí mít 8 číslic.", "NEPLATNY_VSTUP"
        )
    company = _company(ico)
    if company is None:
        return _ares_error(404, "NENALEZENO", f"Ekonomický subjekt s IČO {ico} nebyl nalezen.")
    return JsonResponse(_ares_body(company), json_dumps_params={"ensure_ascii": False})


# --- VIES -------------------------------------------------------------------------------------


def _vies_error(status: int, code: str) -> JsonResponse:
    return JsonResponse(
        {"actionSucceed": False, "errorWrappers": [{"error": code, "message": None}]},
        status=status,
    )


def _vies_failure(status: int) -> JsonResponse:
    return _vies_error(status, "MS_UNAVAILABLE" if status >= 500 else "INVALID_INPUT")


def _vies_known(country: str, number: str) -> tuple[str, str] | None:
    if country == "CZ":
        ico = number if ICO_RE.match(number) else ""
        company = _company(ico) if ico else None
        if company and company.vat_payer and not company.dissolved_on:
            street = " ".join(part for part in (company.street, company.orientation_no) if part)
            return company.name, f"{street}\n{company.zip[:3]} {company.zip[3:]}  {company.city}"
        return None
    return EU_VAT_NUMBERS.get(f"{country}{number}")


@require_POST
@stand_in("vies", _vies_failure)
def vies_check(request: HttpRequest) -> HttpResponse:
    try:
        payload = json.loads(request.body or b"null")
        country = str(payload["countryCode"]).upper()
        number = str(payload["vatNumber"]).replace(" ", "").upper()
    except (ValueError, TypeError, KeyError):
        return _vies_error(400, "INVALID_INPUT")
    if country not in VIES_COUNTRIES or not re.match(r"^[0-9A-Z+*.]{2,13}$", number):
        return _vies_error(400, "INVALID_INPUT")
    known = _vies_known(country, number)
    name, address = known or ("---", "---")
    now = datetime.now(tz=UTC)
    return JsonResponse(
        {
            "countryCode": country,
            "vatNumber": number,
            "requestDate": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "valid": known is not None,
            "requestIdentifier": "",
            "name": name,
            "address": address,
            "traderName": "---",
            "traderStreet": "---",
            "traderPostalCode": "---",
            "traderCity": "---",
            "traderCompanyType": "---",
            "traderNameMatch": "NOT_PROCESSED",
            "traderStreetMatch": "NOT_PROCESSED",
            "traderPostalCodeMatch": "NOT_PROCESSED",
            "traderCityMatch": "NOT_PROCESSED",
            "traderCompanyTypeMatch": "NOT_PROCESSED",
        },
        json_dumps_params={"ensure_ascii": False},
    )


# --- ČNB --------------------------------------------------------------------------------------


def _cnb_failure(status: int) -> HttpResponse:
    return HttpResponse(
        f"<html><body><h1>{status}</h1><p>Služba není dostupná.</p></body></html>",
        status=status,
        content_type="text/html; charset=utf-8",
    )


@require_GET
@stand_in("cnb", _cnb_failure)
def cnb_daily_rates(request: HttpRequest) -> HttpResponse:
    now = timezone.localtime()
    try:
        asked = datetime.strptime(request.GET["date"], "%d.%m.%Y").date()
    except (KeyError, ValueError):
        asked = now.date()  # as ČNB: no (or a bad) date means today's rates
    day = rates.last_publication(max(asked, date(1991, 1, 2)), now.replace(tzinfo=None))
    return HttpResponse(rates.rates_file(day), content_type="text/plain; charset=UTF-8")


# --- Switches ---------------------------------------------------------------------------------


@login_not_required
@csrf_exempt
@require_http_methods(["GET", "POST"])
def switches(request: HttpRequest, service: str) -> HttpResponse:
    try:
        if request.method == "POST":
            changes = json.loads(request.body or b"{}")
            if not isinstance(changes, dict):
                raise control.SwitchError("send a JSON object of switches")
            return JsonResponse(control.update_switches(service, **changes))
        if service not in ("ares", "vies", "cnb"):
            raise control.SwitchError(f"unknown service {service!r}")
        return JsonResponse(control.get_switches(service))
    except (ValueError, control.SwitchError) as error:
        return JsonResponse({"error": str(error)}, status=400)
