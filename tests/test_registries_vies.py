"""VIES: the client module against the real API's shapes, the stand-in, and the check stored on
the client (with what a VIES outage may and may not change)."""

from datetime import timedelta

import pytest
import requests
from django.utils import timezone
from responses import matchers

from clients.models import Client
from registries import errors, vies
from registries.services import check_vat_number
from registries.vies import ViesError
from registries_sandbox.control import update_switches
from tests.support.registries import VIES

CHECK_URL = f"{VIES}/check-vat-number"
VALID_ANSWER = {
    "countryCode": "SK",
    "vatNumber": "2020345678",
    "requestDate": "2026-11-30T09:15:02.123Z",
    "valid": True,
    "requestIdentifier": "",
    "name": "Dobrý obchod s.r.o.",
    "address": "Obchodná 12\n811 06 Bratislava",
    "traderName": "---",
    "traderNameMatch": "NOT_PROCESSED",
}


def test_it_sends_country_and_number_apart_and_reads_a_valid_answer(real_registries):
    real_registries.post(
        CHECK_URL,
        json=VALID_ANSWER,
        match=[matchers.json_params_matcher({"countryCode": "SK", "vatNumber": "2020345678"})],
    )

    result = vies.check_vat_number("SK 2020345678")

    assert result.valid is True
    assert result.name == "Dobrý obchod s.r.o."
    assert result.checked_at.isoformat() == "2026-11-30T09:15:02.123000+00:00"


def test_it_sends_greece_as_el_and_reads_an_invalid_answer_without_name(real_registries):
    real_registries.post(
        CHECK_URL,
        json={**VALID_ANSWER, "countryCode": "EL", "valid": False, "name": "---"},
        match=[matchers.json_params_matcher({"countryCode": "EL", "vatNumber": "123456789"})],
    )

    result = vies.check_vat_number("GR123456789")

    assert result.valid is False
    assert result.name == ""


@pytest.mark.parametrize(
    ("answer", "code", "transient"),
    [
        (
            {
                "status": 500,
                "json": {
                    "actionSucceed": False,
                    "errorWrappers": [{"error": "MS_UNAVAILABLE", "message": None}],
                },
            },
            errors.UNAVAILABLE,
            True,
        ),
        (
            {
                "status": 200,
                "json": {
                    "actionSucceed": False,
                    "errorWrappers": [{"error": "MS_MAX_CONCURRENT_REQ"}],
                },
            },
            errors.UNAVAILABLE,
            True,
        ),
        (
            {
                "status": 400,
                "json": {"actionSucceed": False, "errorWrappers": [{"error": "INVALID_INPUT"}]},
            },
            errors.REFUSED,
            False,
        ),
        (
            {"status": 500, "json": {"actionSucceed": False, "errorWrappers": "MS_UNAVAILABLE"}},
            errors.UNAVAILABLE,
            True,
        ),
        ({"body": requests.ReadTimeout("slow")}, errors.TIMEOUT, True),
        ({"status": 502, "body": "<html>Bad gateway</html>"}, errors.UNAVAILABLE, True),
        ({"status": 200, "json": {"countryCode": "SK"}}, errors.MALFORMED, True),
    ],
    ids=[
        "ms-unavailable",
        "busy-200",
        "invalid-input",
        "odd-wrappers",
        "timeout",
        "502",
        "malformed",
    ],
)
def test_it_turns_every_vies_failure_into_one_error(real_registries, answer, code, transient):
    real_registries.post(CHECK_URL, **answer)

    with pytest.raises(ViesError) as caught:
        vies.check_vat_number("SK2020345678")

    assert (caught.value.code, caught.value.transient) == (code, transient)


def test_it_refuses_a_vat_number_without_country_code_without_asking(real_registries):
    with pytest.raises(ViesError) as caught:
        vies.check_vat_number("12345678")
    assert caught.value.code == errors.REFUSED


# --- The stand-in and the stored result -------------------------------------------------------


def test_it_stores_a_valid_result_with_its_date(standins, agency, make_client):
    client = make_client(agency, "Kávovar Hrubý s.r.o.", vat_no="CZ26148731")

    status = check_vat_number(client=client)

    client.refresh_from_db()
    assert status == Client.ViesStatus.VALID
    assert client.vies_status == "valid" and client.vies_vat_no == "CZ26148731"
    assert timezone.now() - client.vies_checked_at < timedelta(minutes=1)
    assert client.vies_valid


def test_it_stores_an_invalid_result_for_an_unknown_number(standins, agency, make_client):
    client = make_client(agency, "Nobody", vat_no="DE999999999")

    assert check_vat_number(client=client) == Client.ViesStatus.INVALID
    client.refresh_from_db()
    assert client.vies_status == "invalid" and not client.vies_valid


def test_it_stores_unavailable_when_vies_is_down_and_nothing_was_known(
    standins, agency, make_client
):
    client = make_client(agency, "Kávovar Hrubý s.r.o.", vat_no="CZ26148731")
    update_switches("vies", fail_next={"status": 503, "count": 1})

    with pytest.raises(ViesError) as caught:
        check_vat_number(client=client)

    assert caught.value.message.startswith("VIES cannot check VAT numbers right now")
    client.refresh_from_db()
    assert client.vies_status == "unavailable" and client.vies_checked_at is not None


def test_it_keeps_a_confirmed_result_when_vies_is_down_later(standins, agency, make_client):
    client = make_client(agency, "Kávovar Hrubý s.r.o.", vat_no="CZ26148731")
    check_vat_number(client=client)
    update_switches("vies", malformed_next=1)

    with pytest.raises(ViesError):
        check_vat_number(client=client)

    client.refresh_from_db()
    assert client.vies_valid


def test_it_forgets_a_valid_check_once_the_dic_changes(agency, make_client):
    client = make_client(
        agency,
        "Kávovar Hrubý s.r.o.",
        vat_no="CZ26148731",
        vies_status="valid",
        vies_vat_no="CZ26148731",
        vies_checked_at=timezone.now(),
    )
    assert client.vies_valid

    client.vat_no = "CZ04725191"

    assert not client.vies_valid and not client.vies_current


def test_it_refuses_to_check_a_client_without_dic(agency, make_client):
    client = make_client(agency, "No DIČ", vat_no="")

    with pytest.raises(ViesError) as caught:
        check_vat_number(client=client)

    assert caught.value.message == "No DIČ has no DIČ to check."
