"""ARES: the client module against the real API's shapes, the stand-in's answers and failures,
the prefill proposal and the check of all clients."""

import json
from datetime import date

import pytest
import requests
import responses

from clients.models import Client
from registries import ares, errors
from registries.ares import AresError
from registries.services import check_all_clients_against_ares, prefill_from_ares
from registries_sandbox.control import update_switches
from tests.support.registries import ARES, fixture_text

ALZA_URL = f"{ARES}/ekonomicke-subjekty/27082440"


def test_it_reads_a_company_from_the_real_ares_answer(real_registries):
    real_registries.get(ALZA_URL, json=json.loads(fixture_text("ares_alza.json")))

    subject = ares.get_subject("27082440")

    assert subject.ico == "27082440"
    assert subject.name == "Alza.cz a.s."
    assert subject.vat_no == "CZ27082440"
    assert subject.street == "Jankovcova 1522/53"
    assert subject.city == "Praha 7"
    assert subject.zip == "170 00"
    assert subject.country == "CZ"
    assert subject.dissolved_on is None
    assert real_registries.calls[0].request.headers["Accept"] == "application/json"


def test_it_reads_a_village_address_and_a_dissolution_date(real_registries):
    body = {
        "ico": "12345679",
        "obchodniJmeno": "Statek  Nová Ves s.r.o.",
        "sidlo": {
            "kodStatu": "CZ",
            "nazevObce": "Nová Ves",
            "nazevCastiObce": "Nová Ves",
            "cisloDomovni": 12,
            "psc": 25401,
        },
        "datumZaniku": "2024-05-31",
    }
    real_registries.get(f"{ARES}/ekonomicke-subjekty/12345679", json=body)

    subject = ares.get_subject("12345679")

    assert (subject.name, subject.street, subject.city, subject.zip) == (
        "Statek Nová Ves s.r.o.",
        "Nová Ves 12",
        "Nová Ves",
        "254 01",
    )
    assert subject.vat_no == ""
    assert subject.dissolved_on == date(2024, 5, 31)


def test_it_says_ares_has_no_company_with_an_unknown_ico(real_registries):
    real_registries.get(
        ALZA_URL,
        status=404,
        json={"kod": "NENALEZENO", "popis": "Ekonomický subjekt nebyl nalezen."},
    )

    with pytest.raises(AresError) as caught:
        ares.get_subject("27082440")

    assert caught.value.code == errors.NOT_FOUND
    assert not caught.value.transient
    assert caught.value.message == "ARES has no company with IČO 27082440."


@pytest.mark.parametrize(
    ("answer", "code", "message"),
    [
        (
            {"status": 503, "json": {"kod": "OBECNA_CHYBA", "popis": "Chyba"}},
            errors.UNAVAILABLE,
            "ARES is not working right now (error 503). Try again later, or fill in the "
            "details by hand.",
        ),
        (
            {"body": requests.ConnectTimeout("slow")},
            errors.TIMEOUT,
            "ARES did not answer in time. Try again later, or fill in the details by hand.",
        ),
        (
            {"body": requests.ConnectionError("refused")},
            errors.UNAVAILABLE,
            "ARES could not be reached. Try again later, or fill in the details by hand.",
        ),
        (
            {"status": 200, "body": "<html>maintenance</html>"},
            errors.MALFORMED,
            "ARES sent an answer we cannot read. Try again later.",
        ),
        (
            {"status": 200, "json": {"ico": "27082440", "sidlo": {}}},
            errors.MALFORMED,
            "ARES sent an answer we cannot read. Try again later.",
        ),
    ],
    ids=["5xx", "timeout", "connection", "html", "no-name"],
)
def test_it_turns_every_ares_failure_into_one_transient_error(
    real_registries, answer, code, message
):
    real_registries.get(ALZA_URL, **answer)

    with pytest.raises(AresError) as caught:
        ares.get_subject("27082440")

    assert (caught.value.code, caught.value.transient, caught.value.message) == (
        code,
        True,
        message,
    )


# --- Through the stand-in ---------------------------------------------------------------------


def test_it_reads_a_demo_company_from_the_stand_in(standins):
    subject = ares.get_subject("26148731")

    assert subject.name == "Kávovar Hrubý s.r.o."
    assert (subject.street, subject.zip, subject.city) == ("Lidická 700/42", "602 00", "Brno")
    assert subject.vat_no == "CZ26148731"


def test_it_hears_not_found_from_the_stand_in(standins):
    with pytest.raises(AresError) as caught:
        ares.get_subject("12345679")

    assert (caught.value.code, caught.value.status) == (errors.NOT_FOUND, 404)


@pytest.mark.parametrize(
    ("switches", "code"),
    [
        ({"fail_next": {"status": 503, "count": 1}}, errors.UNAVAILABLE),
        ({"malformed_next": 1}, errors.MALFORMED),
        ({"delay_ms": 1500}, errors.TIMEOUT),
    ],
    ids=["5xx", "malformed", "slow"],
)
def test_it_hears_each_failure_mode_of_the_stand_in(standins, switches, code):
    update_switches("ares", **switches)

    with pytest.raises(AresError) as caught:
        ares.get_subject("26148731")

    assert caught.value.code == code
    assert caught.value.transient


def test_it_proposes_only_what_differs_from_the_typed_details(standins):
    typed = {
        "name": "Kavovar hruby s.r.o.",  # typed without accents: ARES's spelling is proposed
        "vat_no": "",
        "street": "Lidická 42",  # the same place as ARES's "Lidická 700/42"
        "city": "Brno",
        "zip": "60200",
        "country": "CZ",
    }

    proposal = prefill_from_ares(ico="26148731", current=typed)

    assert [(c.field, c.current, c.proposed) for c in proposal.changes] == [
        ("name", "Kavovar hruby s.r.o.", "Kávovar Hrubý s.r.o."),
        ("vat_no", "", "CZ26148731"),
    ]
    assert proposal.values == {"name": "Kávovar Hrubý s.r.o.", "vat_no": "CZ26148731"}


def test_it_lists_moved_renamed_and_dissolved_clients(standins, agency, make_client):
    def seeded(name, ico, street, city, zip_):
        return make_client(
            agency, name, registration_no=ico, vat_no=f"CZ{ico}", street=street, city=city, zip=zip_
        )

    seeded("Kávovar Hrubý s.r.o.", "26148731", "Lidická 42", "Brno", "602 00")
    bakery = seeded("Pekárna U Mlýna s.r.o.", "06712541", "Mlýnská 7", "Tábor", "390 01")
    parts = seeded("Autodíly Procházka s.r.o.", "06392750", "Hradecká 2210", "Pardubice", "530 02")
    builder = seeded(
        "Stavebniny Kratochvíl s.r.o.", "25739409", "Ostravská 405", "Ostrava", "702 00"
    )
    make_client(agency, "Unknown s.r.o.", registration_no="12345679")
    make_client(agency, "No IČO", registration_no="")

    report = check_all_clients_against_ares(agency=agency)

    by_client = {finding.client.pk: finding for finding in report.findings}
    assert by_client[bakery.pk].moved and not by_client[bakery.pk].renamed
    assert [c.field for c in by_client[bakery.pk].changes] == ["street", "zip"]
    assert by_client[parts.pk].renamed and not by_client[parts.pk].moved
    assert by_client[builder.pk].dissolved_on == date(2026, 9, 30)
    unknown = next(f for f in report.findings if f.client.name == "Unknown s.r.o.")
    assert unknown.error.code == errors.NOT_FOUND
    assert len(report.findings) == 4
    assert (report.checked, report.skipped, report.stopped) == (4, 1, None)


def test_it_stops_checking_all_clients_when_ares_is_down(standins, agency, make_client):
    for ico in ("26148731", "06712541", "06392750"):
        make_client(agency, f"Client {ico}", registration_no=ico)
    update_switches("ares", fail_next={"status": 500, "count": 10})

    report = check_all_clients_against_ares(agency=agency)

    assert report.stopped is not None and report.stopped.code == errors.UNAVAILABLE
    assert report.findings == () and report.checked == 0
    # One request, not one per client: the rest were not asked.
    assert update_switches("ares")["fail_next"] == {"status": 500, "count": 9}


def test_it_leaves_clients_unchanged_when_checking_against_ares(standins, agency, make_client):
    client = make_client(agency, "Pekárna U Mlýna s.r.o.", registration_no="06712541")

    check_all_clients_against_ares(agency=agency)

    assert Client.objects.get(pk=client.pk).name == "Pekárna U Mlýna s.r.o."


def test_it_sends_no_request_for_clients_without_a_czech_ico(real_registries, agency, make_client):
    make_client(agency, "No IČO", registration_no="")
    make_client(agency, "Zelený obchod s.r.o.", registration_no="36408123", country="SK")

    report = check_all_clients_against_ares(agency=agency)

    assert (report.checked, report.skipped) == (0, 2)
    assert len(real_registries.calls) == 0


def test_it_needs_no_network_for_an_empty_agency(agency):
    with responses.RequestsMock():
        report = check_all_clients_against_ares(agency=agency)
    assert report.findings == ()
