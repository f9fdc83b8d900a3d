"""fakturoid/client.py against Fakturoid API v3 mocked at the `requests` boundary.

Payloads are the reference examples, stored in tests/fixtures/fakturoid/.
"""

import base64
import json
import logging
import threading
import time
from datetime import date, timedelta
from decimal import Decimal

import pytest
import requests
import responses
from django.db import DatabaseError, connection
from django.utils import timezone
from responses import matchers
from urllib3.exceptions import MaxRetryError, NewConnectionError

from agencies.models import FakturoidSettings
from fakturoid.client import FakturoidClient, log_calls
from fakturoid.documents import RateLimit, parse_rate_limit
from fakturoid.errors import (
    AccountBlocked,
    AuthenticationError,
    ConfigurationError,
    FakturoidError,
    Forbidden,
    InvalidResponse,
    NetworkError,
    NotFound,
    RateLimited,
    Unavailable,
    ValidationFailed,
)
from fakturoid.models import ApiCall, RequestBudget
from tests.support import FAKTUROID_API as API
from tests.support import STORED_TOKEN
from tests.support.fakturoid_mocks import FIXTURES

ACCOUNT = f"{API}/accounts/acme"
SECRET = "secret-456"  # the fakturoid_settings fixture's Secret ID
NEW_TOKEN = json.loads((FIXTURES / "token.json").read_text())["access_token"]
RATE_HEADERS = {"X-RateLimit-Policy": "default;q=400;w=60", "X-RateLimit": "default;r=398;t=55"}
USER_AGENT = "AgencyBackoffice (billing@acme.example)"

pytestmark = pytest.mark.usefixtures("fakturoid_config")


def payload(name: str) -> dict | list:
    return json.loads((FIXTURES / name).read_text())


def bearer(token: str) -> list:
    return [matchers.header_matcher({"Authorization": f"Bearer {token}"})]


def page(number: int, **params: str) -> list:
    return [matchers.query_param_matcher({**params, "page": str(number)})]


def add_token(api: responses.RequestsMock, token: str = NEW_TOKEN) -> None:
    basic = base64.b64encode(b"client-id-123:secret-456").decode()
    api.post(
        f"{API}/oauth/token",
        json={"access_token": token, "token_type": "Bearer", "expires_in": 7200},
        headers=RATE_HEADERS,
        match=[
            matchers.header_matcher(
                {
                    "Authorization": f"Basic {basic}",
                    "User-Agent": USER_AGENT,
                    "Accept": "application/json",
                    "Content-Type": "application/json",
                }
            ),
            matchers.json_params_matcher({"grant_type": "client_credentials"}),
        ],
    )


def calls_to(api: responses.RequestsMock, url: str) -> int:
    return sum(1 for call in api.calls if call.request.url.split("?")[0] == url)


# --- Configuration --------------------------------------------------------------------------


def test_it_gets_a_token_and_sends_the_mandatory_headers(api, fakturoid_settings):
    add_token(api)
    api.get(
        f"{API}/user.json",
        json=payload("user.json"),
        headers=RATE_HEADERS,
        match=[
            matchers.header_matcher(
                {
                    "Authorization": f"Bearer {NEW_TOKEN}",
                    "User-Agent": USER_AGENT,
                    "Accept": "application/json",
                }
            )
        ],
    )

    user = FakturoidClient(fakturoid_settings).get_user()

    assert user.id == 5
    assert user.full_name == "Alexandr Hejsek"
    assert user.email == "applecorp@applecorp.cz"
    assert [(a.slug, a.name, a.permission) for a in user.accounts] == [
        ("applecorp", "Alexandr Hejsek", "owner")
    ]
    stored = FakturoidSettings.objects.get(pk=fakturoid_settings.pk)
    assert stored.access_token == NEW_TOKEN
    assert (
        timedelta(seconds=7190)
        < stored.token_expires_at - timezone.now()
        <= timedelta(seconds=7200)
    )


def test_it_uses_the_configured_timeouts(api, connected, settings):
    settings.FAKTUROID_CONNECT_TIMEOUT = 3.0
    settings.FAKTUROID_READ_TIMEOUT = 12.0
    api.get(f"{API}/user.json", json=payload("user.json"))

    FakturoidClient(connected).get_user()

    assert api.calls[0].request.req_kwargs["timeout"] == (3.0, 12.0)


def test_it_falls_back_to_the_global_contact_email(api, connected):
    connected.contact_email = ""
    api.get(
        f"{API}/user.json",
        json=payload("user.json"),
        match=[
            matchers.header_matcher({"User-Agent": "AgencyBackoffice (ops@backoffice.example)"})
        ],
    )

    FakturoidClient(connected).get_user()


def test_it_refuses_to_start_without_a_contact_email(api, fakturoid_settings, settings):
    settings.FAKTUROID_CONTACT_EMAIL = ""
    fakturoid_settings.contact_email = ""

    with pytest.raises(ConfigurationError) as error:
        FakturoidClient(fakturoid_settings)

    assert "contact e-mail" in error.value.message
    assert isinstance(error.value, FakturoidError)
    assert len(api.calls) == 0


@pytest.mark.parametrize("field", ["account_slug", "api_client_id", "api_client_secret"])
def test_it_refuses_to_start_without_credentials(api, fakturoid_settings, field):
    setattr(fakturoid_settings, field, "")

    with pytest.raises(ConfigurationError):
        FakturoidClient(fakturoid_settings)

    assert len(api.calls) == 0


def test_it_refuses_an_api_url_that_is_not_http(fakturoid_settings, settings):
    settings.FAKTUROID_API_URL = "app.fakturoid.cz/api/v3"

    with pytest.raises(ConfigurationError, match="FAKTUROID_API_URL"):
        FakturoidClient(fakturoid_settings)


# --- Token ----------------------------------------------------------------------------------


def test_it_reuses_the_stored_token(api, connected):
    api.get(f"{API}/user.json", json=payload("user.json"), match=bearer(STORED_TOKEN))

    FakturoidClient(connected).get_user()

    assert calls_to(api, f"{API}/oauth/token") == 0


def test_it_replaces_a_token_a_minute_before_it_expires(api, connected):
    connected.token_expires_at = timezone.now() + timedelta(seconds=50)
    connected.save()
    add_token(api)
    api.get(f"{API}/user.json", json=payload("user.json"), match=bearer(NEW_TOKEN))

    FakturoidClient(connected).get_user()

    connected.refresh_from_db()
    assert connected.access_token == NEW_TOKEN


def test_it_requests_the_token_with_the_stored_credentials(api, fakturoid_settings):
    stale = FakturoidSettings.objects.get(pk=fakturoid_settings.pk)
    stale.api_client_id = "id-before-the-owner-changed-it"
    add_token(api)  # matches client-id-123:secret-456, the stored pair
    api.get(f"{API}/user.json", json=payload("user.json"), match=bearer(NEW_TOKEN))

    FakturoidClient(stale).get_user()


def test_it_shares_one_token_between_two_clients_of_the_same_agency(api, fakturoid_settings):
    # Two processes: each loaded the settings (no token yet) before either asked for one.
    first = FakturoidSettings.objects.get(pk=fakturoid_settings.pk)
    second = FakturoidSettings.objects.get(pk=fakturoid_settings.pk)
    add_token(api)
    api.get(f"{API}/user.json", json=payload("user.json"), match=bearer(NEW_TOKEN))

    FakturoidClient(first).get_user()
    FakturoidClient(second).get_user()

    assert calls_to(api, f"{API}/oauth/token") == 1
    assert calls_to(api, f"{API}/user.json") == 2
    assert second.access_token == NEW_TOKEN


def test_it_keeps_the_token_of_unsaved_settings_in_memory_only(api, agency):
    probe = FakturoidSettings(
        agency=agency,
        account_slug="acme",
        api_client_id="client-id-123",
        api_client_secret=SECRET,
        contact_email="billing@acme.example",
    )
    add_token(api)
    api.get(f"{API}/user.json", json=payload("user.json"), match=bearer(NEW_TOKEN))

    FakturoidClient(probe).get_user()

    assert probe.pk is None
    assert probe.access_token == NEW_TOKEN
    assert probe.token_is_fresh()
    assert not FakturoidSettings.objects.exists()
    assert not ApiCall.objects.exists()


def test_it_gets_a_new_token_once_when_the_api_answers_401(api, connected):
    api.get(
        f"{API}/user.json",
        status=401,
        json=payload("invalid_token.json"),
        match=bearer(STORED_TOKEN),
    )
    add_token(api)
    api.get(f"{API}/user.json", json=payload("user.json"), match=bearer(NEW_TOKEN))

    user = FakturoidClient(connected).get_user()

    assert user.id == 5
    connected.refresh_from_db()
    assert connected.access_token == NEW_TOKEN


def test_it_repeats_a_post_after_the_401_token_refresh(api, connected):
    api.post(
        f"{ACCOUNT}/invoices.json",
        status=401,
        json=payload("invalid_token.json"),
        match=bearer(STORED_TOKEN),
    )
    add_token(api)
    api.post(
        f"{ACCOUNT}/invoices.json",
        status=201,
        json=payload("invoice_created.json"),
        match=bearer(NEW_TOKEN),
    )

    assert FakturoidClient(connected).create_invoice({"subject_id": 16}).id == 529


def test_it_reuses_a_token_another_process_stored_after_a_401(api, connected):
    stale = FakturoidSettings.objects.get(pk=connected.pk)  # holds STORED_TOKEN
    # Meanwhile another process got a new token, which invalidated ours.
    connected.access_token = "newer-token-from-process-b"
    connected.save()
    api.get(
        f"{API}/user.json",
        status=401,
        json=payload("invalid_token.json"),
        match=bearer(STORED_TOKEN),
    )
    api.get(
        f"{API}/user.json",
        json=payload("user.json"),
        match=bearer("newer-token-from-process-b"),
    )

    FakturoidClient(stale).get_user()

    assert calls_to(api, f"{API}/oauth/token") == 0


def test_it_gives_up_when_even_a_new_token_is_refused(api, connected):
    api.get(f"{API}/user.json", status=401, json=payload("invalid_token.json"))
    add_token(api)

    with pytest.raises(AuthenticationError) as error:
        FakturoidClient(connected).get_user()

    assert error.value.status == 401
    assert "Client ID and Secret ID" in error.value.message
    assert calls_to(api, f"{API}/user.json") == 2
    assert calls_to(api, f"{API}/oauth/token") == 1


def test_it_says_the_credentials_are_wrong_when_the_token_is_refused(api, fakturoid_settings):
    api.post(f"{API}/oauth/token", status=401, json=payload("invalid_client.json"))

    with pytest.raises(AuthenticationError) as error:
        FakturoidClient(fakturoid_settings).get_user()

    assert error.value.status == 401
    assert "Client ID and Secret ID" in str(error.value)
    # The failed attempt is in the log although the token refresh did not succeed.
    call = ApiCall.objects.get()
    assert (call.method, call.path, call.status) == ("POST", "/oauth/token", 401)
    assert call.error.startswith("AuthenticationError: ")


def test_it_treats_invalid_client_at_the_token_endpoint_as_wrong_credentials(
    api, fakturoid_settings
):
    api.post(f"{API}/oauth/token", status=400, json=payload("invalid_client.json"))

    with pytest.raises(AuthenticationError):
        FakturoidClient(fakturoid_settings).get_user()


def test_it_reports_a_token_answer_without_a_token(api, fakturoid_settings):
    api.post(f"{API}/oauth/token", json={"token_type": "Bearer", "expires_in": 7200})

    with pytest.raises(InvalidResponse, match="no access token"):
        FakturoidClient(fakturoid_settings).get_user()


@pytest.mark.django_db(transaction=True)
def test_it_requests_one_token_for_threads_that_need_one_at_once(fakturoid_settings):
    def slow_token(request: requests.PreparedRequest) -> tuple[int, dict, str]:
        time.sleep(0.2)  # the other threads arrive while this one holds the lock
        return 200, RATE_HEADERS, json.dumps(payload("token.json"))

    threads_count = 4
    barrier = threading.Barrier(threads_count)
    seen_tokens: list[str] = []
    errors: list[Exception] = []

    def work() -> None:
        try:
            # Each thread is a process of its own: own settings instance, own client.
            client = FakturoidClient(FakturoidSettings.objects.get(pk=fakturoid_settings.pk))
            barrier.wait()
            client.get_user()
            seen_tokens.append(client.fakturoid.access_token)
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)
        finally:
            connection.close()

    with responses.RequestsMock(assert_all_requests_are_fired=True) as api:
        api.add_callback("POST", f"{API}/oauth/token", callback=slow_token)
        api.get(f"{API}/user.json", json=payload("user.json"), match=bearer(NEW_TOKEN))
        threads = [threading.Thread(target=work) for _ in range(threads_count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

        assert errors == []
        assert seen_tokens == [NEW_TOKEN] * threads_count
        assert calls_to(api, f"{API}/oauth/token") == 1
        assert calls_to(api, f"{API}/user.json") == threads_count


# --- Endpoints ------------------------------------------------------------------------------


def test_it_reads_the_account(api, connected):
    api.get(f"{ACCOUNT}/account.json", json=payload("account.json"), headers=RATE_HEADERS)

    account = FakturoidClient(connected).get_account()

    assert account.slug == "applecorp"
    assert account.name == "Alexandr Hejsek"
    assert account.vat_mode == "vat_payer"
    assert account.currency == "CZK"
    assert account.due == 14
    assert account.full_name is None


def test_it_searches_subjects_and_stops_at_a_page_shorter_than_40(api, connected):
    api.get(
        f"{ACCOUNT}/subjects/search.json",
        json=payload("subjects_search.json"),
        match=page(1, query="Apple"),
    )

    [subject] = FakturoidClient(connected).search_subjects("Apple")

    assert subject.id == 16
    assert subject.name == "Apple Czech s.r.o."
    assert subject.registration_no == "28897501"
    assert subject.vat_no == "CZ28897501"
    assert subject.email == "pokus@test.cz"
    assert subject.custom_id is None
    assert subject.html_url == "https://app.fakturoid.cz/applecorp/subjects/16"


def test_it_returns_nothing_for_an_empty_search(api, connected):
    api.get(f"{ACCOUNT}/subjects/search.json", json=[], match=page(1, query="Nobody"))

    assert FakturoidClient(connected).search_subjects("Nobody") == []


def test_it_reads_every_page_until_an_empty_one(api, connected):
    subject = payload("subject.json")
    for number in (1, 2):
        items = [{**subject, "id": number * 100 + i} for i in range(40)]
        api.get(f"{ACCOUNT}/subjects.json", json=items, match=page(number))
    api.get(f"{ACCOUNT}/subjects.json", json=[], match=page(3))

    subjects = FakturoidClient(connected).list_subjects()

    assert len(subjects) == 80
    assert len(api.calls) == 3
    assert subjects[0].id == 100
    assert subjects[-1].id == 239


def test_it_filters_subjects_by_custom_id(api, connected):
    found = {**payload("subject.json"), "custom_id": "ab12cd34-c7"}
    api.get(f"{ACCOUNT}/subjects.json", json=[found], match=page(1, custom_id="ab12cd34-c7"))

    [subject] = FakturoidClient(connected).list_subjects(custom_id="ab12cd34-c7")

    assert subject.custom_id == "ab12cd34-c7"


def test_it_gets_a_subject(api, connected):
    api.get(f"{ACCOUNT}/subjects/16.json", json=payload("subject.json"))

    subject = FakturoidClient(connected).get_subject(16)

    assert (subject.id, subject.city, subject.zip, subject.country) == (16, "Praha", "11000", "CZ")


def test_it_reports_an_unknown_subject(api, connected):
    api.get(f"{ACCOUNT}/subjects/999.json", status=404, json=payload("not_found.json"))

    with pytest.raises(NotFound) as error:
        FakturoidClient(connected).get_subject(999)

    assert error.value.status == 404
    assert error.value.message == "Record not found"


def test_it_creates_a_subject(api, connected):
    data = {"name": "MICROSOFT s.r.o.", "registration_no": "47123737", "vat_no": "CZ47123737"}
    created = {**payload("subject.json"), **data, "id": 41}
    api.post(
        f"{ACCOUNT}/subjects.json",
        status=201,
        json=created,
        headers={"Location": f"{ACCOUNT}/subjects/41.json", **RATE_HEADERS},
        match=[
            matchers.json_params_matcher(data),
            matchers.header_matcher({"Content-Type": "application/json"}),
        ],
    )

    subject = FakturoidClient(connected).create_subject(data)

    assert (subject.id, subject.name) == (41, "MICROSOFT s.r.o.")


def test_it_reports_validation_errors_with_fakturoids_messages(api, connected):
    api.post(f"{ACCOUNT}/subjects.json", status=422, json=payload("subject_invalid.json"))

    with pytest.raises(ValidationFailed) as error:
        FakturoidClient(connected).create_subject({"name": ""})

    assert error.value.status == 422
    assert error.value.errors == {
        "name": ["je povinná položka", "je příliš krátký/á/é (min. 2 znaků)"]
    }
    assert "je povinná položka" in error.value.message
    assert "je příliš krátký/á/é (min. 2 znaků)" in error.value.message
    assert error.value.maybe_processed is False


def test_it_creates_an_invoice(api, connected):
    data = {
        "custom_id": "1234",
        "subject_id": 16,
        "due": 21,
        "issued_on": "2023-11-19",
        "taxable_fulfillment_due": "2023-11-19",
        "lines": [
            {"name": "Hard work", "quantity": "1.0", "unit_price": "40000", "vat_rate": "21"}
        ],
    }
    api.post(
        f"{ACCOUNT}/invoices.json",
        status=201,
        json=payload("invoice_created.json"),
        headers={"Location": f"{ACCOUNT}/invoices/529.json", **RATE_HEADERS},
        match=[matchers.json_params_matcher(data), *bearer(STORED_TOKEN)],
    )

    invoice = FakturoidClient(connected).create_invoice(data)

    assert invoice.id == 529
    assert invoice.custom_id == "1234"
    assert invoice.number == "2023-0024"
    assert invoice.status == "open"
    assert invoice.subject_id == 16
    assert invoice.issued_on == date(2023, 11, 19)
    assert invoice.due_on == date(2023, 12, 10)
    assert invoice.subtotal == Decimal("40000.0")
    assert invoice.total == Decimal("48400.0")
    assert isinstance(invoice.total, Decimal)
    assert invoice.html_url == "https://app.fakturoid.cz/applecorp/invoices/529"
    assert invoice.pdf_url == f"{API}/accounts/applecorp/invoices/529/download.pdf"
    [line] = invoice.lines
    assert line.name == "Hard work"
    assert line.quantity == Decimal("1.0")
    assert line.unit_price == Decimal("40000.0")
    assert line.vat_rate == Decimal("21")


def test_it_reads_invoices_with_nulls_and_unknown_fields(api, connected):
    api.get(
        f"{ACCOUNT}/invoices/7.json",
        json={"id": 7, "total": None, "issued_on": None, "lines": None, "brand_new_field": {}},
    )

    invoice = FakturoidClient(connected).get_invoice(7)

    assert (invoice.id, invoice.total, invoice.issued_on, invoice.lines) == (7, None, None, ())


def test_it_finds_invoices_by_custom_id(api, connected):
    api.get(
        f"{ACCOUNT}/invoices.json",
        json=[payload("invoice_created.json")],
        match=page(1, custom_id="1234"),
    )

    [invoice] = FakturoidClient(connected).find_invoices(custom_id="1234")

    assert invoice.id == 529


# --- API errors -----------------------------------------------------------------------------


def test_it_reports_a_missing_bank_account_as_forbidden(api, connected):
    api.post(f"{ACCOUNT}/invoices.json", status=403, json=payload("no_bank_account.json"))

    with pytest.raises(Forbidden) as error:
        FakturoidClient(connected).create_invoice({"subject_id": 16})

    assert error.value.status == 403
    assert "Please set up a bank account" in error.value.errors["bank_account"][0]
    assert "Please set up a bank account" in error.value.message
    assert error.value.maybe_processed is False


def test_it_keeps_fakturoids_message_of_a_forbidden_action(api, connected):
    api.post(f"{ACCOUNT}/invoices.json", status=403, json=payload("document_locked.json"))

    with pytest.raises(Forbidden) as error:
        FakturoidClient(connected).create_invoice({"subject_id": 16})

    assert error.value.message == "Document first needs to be unlocked to perform the action"
    assert error.value.errors == {}


def test_it_reports_a_blocked_account(api, connected):
    api.get(f"{ACCOUNT}/account.json", status=402, json=payload("account_blocked.json"))

    with pytest.raises(AccountBlocked) as error:
        FakturoidClient(connected).get_account()

    assert error.value.status == 402
    assert error.value.message == "Account blocked"


def test_it_reports_other_statuses_with_fakturoids_message(api, connected):
    api.get(
        f"{API}/user.json",
        status=400,
        json={"error": "invalid_request", "error_description": "Invalid since parameter"},
    )

    with pytest.raises(FakturoidError) as error:
        FakturoidClient(connected).get_user()

    assert type(error.value) is FakturoidError
    assert (error.value.status, error.value.message) == (400, "Invalid since parameter")


# --- Rate limits ----------------------------------------------------------------------------


def test_it_raises_rate_limited_when_the_reset_is_too_far(api, connected, sleeps):
    api.get(
        f"{API}/user.json",
        status=429,
        json=payload("rate_limited.json"),
        headers={"X-RateLimit-Policy": "default;q=400;w=60", "X-RateLimit": "default;r=0;t=55"},
    )

    with pytest.raises(RateLimited) as error:
        FakturoidClient(connected).get_user()

    assert error.value.status == 429
    assert error.value.retry_after == 55
    assert error.value.message == "Rate limit exceeded"
    assert sleeps == []


def test_it_waits_out_a_short_rate_limit_and_repeats_even_a_post(api, connected, sleeps):
    api.post(
        f"{ACCOUNT}/invoices.json",
        status=429,
        json=payload("rate_limited.json"),
        headers={"X-RateLimit-Policy": "default;q=400;w=60", "X-RateLimit": "default;r=0;t=3"},
    )
    api.post(f"{ACCOUNT}/invoices.json", status=201, json=payload("invoice_created.json"))

    invoice = FakturoidClient(connected).create_invoice({"subject_id": 16})

    assert invoice.id == 529
    assert sleeps == [3.25]  # t is whole seconds: a margin past it, so the repeat is not early


def test_it_waits_out_a_rate_limit_at_most_once_per_request(api, connected, sleeps):
    headers = {"X-RateLimit": "default;r=0;t=2"}
    api.get(f"{API}/user.json", status=429, json=payload("rate_limited.json"), headers=headers)
    api.get(f"{API}/user.json", status=429, json=payload("rate_limited.json"), headers=headers)

    with pytest.raises(RateLimited) as error:
        FakturoidClient(connected).get_user()

    assert error.value.retry_after == 2
    assert sleeps == [2.25]


def test_it_does_not_wait_for_a_429_without_rate_limit_headers(api, connected, sleeps):
    api.get(f"{API}/user.json", status=429, json=payload("rate_limited.json"))

    with pytest.raises(RateLimited) as error:
        FakturoidClient(connected).get_user()

    assert error.value.retry_after is None
    assert sleeps == []


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (RATE_HEADERS, RateLimit(quota=400, window=60, remaining=398, reset_seconds=55)),
        ({"X-RateLimit": "default;r=12;t=7"}, RateLimit(None, None, 12, 7)),
        ({"X-RateLimit-Policy": "default;q=400;w=60"}, RateLimit(400, 60, None, None)),
        ({"X-RateLimit": "default; r=5 ;t=abc;junk"}, RateLimit(None, None, 5, None)),
        ({"X-RateLimit": "r=-1;t=1.5"}, RateLimit(None, None, None, None)),
        ({"X-RateLimit": ""}, RateLimit(None, None, None, None)),
        ({}, None),
    ],
)
def test_it_parses_rate_limit_headers(headers, expected):
    assert parse_rate_limit(requests.structures.CaseInsensitiveDict(headers)) == expected


def test_it_exposes_the_last_rate_limit_seen(api, connected):
    api.get(f"{API}/user.json", json=payload("user.json"), headers=RATE_HEADERS)
    api.get(f"{ACCOUNT}/account.json", json=payload("account.json"))
    client = FakturoidClient(connected)
    assert client.rate_limit is None

    client.get_user()
    client.get_account()  # no headers: the last seen values stay

    assert client.rate_limit == RateLimit(quota=400, window=60, remaining=398, reset_seconds=55)
    with pytest.raises(AttributeError):
        client.rate_limit.remaining = 1


# --- Network failures and retries -----------------------------------------------------------


def test_it_retries_a_get_after_a_timeout(api, connected, sleeps):
    api.get(f"{API}/user.json", body=requests.ReadTimeout("read timed out"))
    api.get(f"{API}/user.json", json=payload("user.json"))

    assert FakturoidClient(connected).get_user().id == 5
    assert sleeps == [0.5]


def test_it_gives_up_a_get_after_three_tries(api, connected, sleeps):
    api.get(f"{API}/user.json", status=503, json={"error": "maintenance"})
    api.get(f"{API}/user.json", body=requests.ConnectionError("connection refused"))
    api.get(
        f"{API}/user.json",
        status=503,
        json={"error": "maintenance", "error_description": "Temporarily Unavailable"},
    )

    with pytest.raises(Unavailable) as error:
        FakturoidClient(connected).get_user()

    assert error.value.status == 503
    assert "Temporarily Unavailable" in error.value.message
    assert error.value.maybe_processed is False
    assert len(api.calls) == 3
    assert len(sleeps) == 2


def test_it_never_repeats_a_post_that_timed_out(api, connected, sleeps):
    api.post(f"{ACCOUNT}/invoices.json", body=requests.ReadTimeout("read timed out"))

    with pytest.raises(NetworkError) as error:
        FakturoidClient(connected).create_invoice({"subject_id": 16})

    assert error.value.maybe_processed is True
    assert error.value.status is None
    assert "did not answer in time" in error.value.message
    assert len(api.calls) == 1
    assert sleeps == []


def test_it_flags_a_post_answered_with_500_as_maybe_processed(api, connected):
    api.post(f"{ACCOUNT}/invoices.json", status=500, json={"error": "internal_server_error"})

    with pytest.raises(Unavailable) as error:
        FakturoidClient(connected).create_invoice({"subject_id": 16})

    assert error.value.maybe_processed is True
    assert error.value.status == 500
    assert len(api.calls) == 1


@pytest.mark.parametrize(
    "failure",
    [
        requests.ConnectTimeout("connect timed out"),
        requests.ConnectionError(
            MaxRetryError(None, "/", reason=NewConnectionError(None, "Connection refused"))
        ),
    ],
)
def test_it_knows_a_post_that_never_connected_was_not_processed(api, connected, failure):
    api.post(f"{ACCOUNT}/invoices.json", body=failure)

    with pytest.raises(NetworkError) as error:
        FakturoidClient(connected).create_invoice({"subject_id": 16})

    assert error.value.maybe_processed is False


def test_it_flags_a_post_whose_connection_dropped_as_maybe_processed(api, connected):
    api.post(f"{ACCOUNT}/subjects.json", body=requests.ConnectionError("Connection aborted."))

    with pytest.raises(NetworkError) as error:
        FakturoidClient(connected).create_subject({"name": "Alza.cz a.s."})

    assert error.value.maybe_processed is True


# --- Garbage --------------------------------------------------------------------------------

HTML_PAGE = (
    "<!DOCTYPE html><html><body><h1>We're sorry, but something went wrong.</h1></body></html>"
)


@pytest.mark.parametrize(
    ("status", "body", "content_type", "expected"),
    [
        (200, HTML_PAGE, "text/html", "an HTML page"),
        (200, '{"id": 5, "full_name": ', "application/json", "invalid JSON"),
        (200, "", "application/json", "an empty body"),
        (404, HTML_PAGE, "text/html", "an HTML page"),
    ],
)
def test_it_reports_garbage_as_invalid_response(
    api, connected, status, body, content_type, expected
):
    api.get(f"{API}/user.json", status=status, body=body, content_type=content_type)

    with pytest.raises(InvalidResponse) as error:
        FakturoidClient(connected).get_user()

    assert error.value.status == status
    assert error.value.message == (f"Fakturoid answered {status} with {expected} instead of JSON.")


def test_it_reports_an_html_502_as_unavailable(api, connected):
    for _ in range(3):
        api.get(f"{API}/user.json", status=502, body=HTML_PAGE, content_type="text/html")

    with pytest.raises(Unavailable) as error:
        FakturoidClient(connected).get_user()

    assert error.value.status == 502
    assert "an HTML page instead of JSON" in error.value.message


def test_it_flags_an_unreadable_answer_to_a_post_as_maybe_processed(api, connected):
    api.post(f"{ACCOUNT}/invoices.json", status=201, body=HTML_PAGE, content_type="text/html")

    with pytest.raises(InvalidResponse) as error:
        FakturoidClient(connected).create_invoice({"subject_id": 16})

    assert error.value.maybe_processed is True


def test_it_reports_json_of_the_wrong_shape_as_invalid_response(api, connected):
    api.get(f"{ACCOUNT}/subjects/16.json", json={"name": "no id"})
    api.get(f"{ACCOUNT}/invoices/529.json", json={**payload("invoice_created.json"), "total": "x"})
    api.get(f"{ACCOUNT}/subjects.json", json={"not": "a list"}, match=page(1))
    client = FakturoidClient(connected)

    with pytest.raises(InvalidResponse, match="unexpected shape"):
        client.get_subject(16)
    with pytest.raises(InvalidResponse, match="unexpected shape"):
        client.get_invoice(529)
    with pytest.raises(InvalidResponse, match="without a list"):
        client.list_subjects()


def test_it_does_not_follow_redirects(api, connected):
    api.get(f"{API}/user.json", status=301, headers={"Location": "https://elsewhere.example/"})

    with pytest.raises(InvalidResponse, match="FAKTUROID_API_URL"):
        FakturoidClient(connected).get_user()


# --- The integration log and secrets --------------------------------------------------------


def test_it_logs_every_http_attempt(api, connected):
    connected.access_token = ""
    connected.save()
    add_token(api)
    api.get(f"{API}/user.json", status=503, json={"error": "busy"}, headers=RATE_HEADERS)
    api.get(f"{API}/user.json", json=payload("user.json"), headers=RATE_HEADERS)
    api.get(
        f"{ACCOUNT}/invoices.json",
        json=[],
        headers={"X-RateLimit": "default;r=395;t=50"},
        match=page(1, custom_id="ab12-c7-2024-05"),
    )
    client = FakturoidClient(connected)

    client.get_user()
    client.find_invoices(custom_id="ab12-c7-2024-05")

    rows = list(
        ApiCall.objects.order_by("pk").values_list(
            "agency", "method", "path", "status", "rate_limit_remaining", "error"
        )
    )
    agency = connected.agency_id
    assert rows == [
        (agency, "POST", "/oauth/token", 200, 398, ""),
        (
            agency,
            "GET",
            "/user.json",
            503,
            398,
            "Unavailable: Fakturoid is unavailable (HTTP 503): busy",
        ),
        (agency, "GET", "/user.json", 200, 398, ""),
        (
            agency,
            "GET",
            "/accounts/acme/invoices.json?custom_id=ab12-c7-2024-05&page=1",
            200,
            395,
            "",
        ),
    ]
    assert all(call.duration_ms >= 0 for call in ApiCall.objects.all())


def test_it_logs_network_errors_without_a_status(api, connected):
    api.post(f"{ACCOUNT}/invoices.json", body=requests.ReadTimeout("read timed out"))

    with pytest.raises(NetworkError):
        FakturoidClient(connected).create_invoice({"subject_id": 16})

    call = ApiCall.objects.get()
    assert (call.status, call.rate_limit_remaining) == (None, None)
    assert call.error == "NetworkError: Fakturoid did not answer in time (ReadTimeout)."


def test_it_calls_the_on_call_hook_instead_of_the_log(api, connected):
    api.get(f"{API}/user.json", json=payload("user.json"), headers=RATE_HEADERS)
    calls = []

    FakturoidClient(connected, on_call=calls.append).get_user()

    [call] = calls
    assert (call.method, call.path, call.status, call.rate_limit_remaining) == (
        "GET",
        "/user.json",
        200,
        398,
    )
    assert not ApiCall.objects.exists()


def test_it_keeps_working_when_the_log_cannot_be_written(api, connected, monkeypatch, caplog):
    def broken_write(*args, **kwargs) -> None:
        raise DatabaseError("disk I/O error")

    monkeypatch.setattr(ApiCall.objects, "bulk_create", broken_write)
    api.get(f"{API}/user.json", json=payload("user.json"))

    assert FakturoidClient(connected).get_user().id == 5
    assert "Could not write the Fakturoid API call log" in caplog.text
    assert FakturoidSettings.objects.filter(pk=connected.pk).exists()  # the transaction lives


def test_it_never_puts_secrets_or_tokens_in_errors_logs_or_the_log_table(
    api, fakturoid_settings, caplog
):
    caplog.set_level(logging.DEBUG)
    secret_token = NEW_TOKEN
    raised: list[FakturoidError] = []
    client = FakturoidClient(fakturoid_settings)

    # Wrong credentials; the token endpoint even echoes the secret in an HTML page.
    api.post(f"{API}/oauth/token", status=401, json=payload("invalid_client.json"))
    api.post(f"{API}/oauth/token", status=200, body=f"<html>{SECRET} {secret_token}</html>")
    # A token that works once, then is refused even when brand new.
    add_token(api)
    api.get(f"{API}/user.json", status=401, json=payload("invalid_token.json"))
    add_token(api)
    api.get(f"{API}/user.json", status=401, json=payload("invalid_token.json"))
    api.get(f"{ACCOUNT}/account.json", status=500, body="oops", content_type="text/plain")
    api.get(f"{ACCOUNT}/account.json", body=requests.ReadTimeout(f"timed out {secret_token}"))
    api.get(f"{ACCOUNT}/account.json", body=requests.ConnectionError("reset"))

    for action in (client.get_user, client.get_user, client.get_user, client.get_account):
        with pytest.raises(FakturoidError) as error:
            action()
        raised.append(error.value)

    assert [type(error) for error in raised] == [
        AuthenticationError,
        InvalidResponse,
        AuthenticationError,
        NetworkError,
    ]
    logged = " ".join(str(value) for row in ApiCall.objects.values_list() for value in row)
    texts = [caplog.text, logged] + [str(e) for e in raised] + [repr(e) for e in raised]
    for text in texts:
        for secret in (SECRET, secret_token, "Bearer", "Basic "):
            assert secret not in text


def test_it_refuses_credentials_that_cannot_travel_in_a_header(fakturoid_settings):
    """The settings form refuses them; values stored another way (admin) must not crash."""
    fakturoid_settings.contact_email = "účetní@firma.cz"

    with pytest.raises(ConfigurationError, match="without diacritics"):
        FakturoidClient(fakturoid_settings)


# --- Pacing: the shared request budget, one connection per account --------------------------


def test_it_keeps_one_http_session_per_account_for_every_client(connected):
    assert FakturoidClient(connected).session is FakturoidClient(connected).session


def test_it_waits_for_the_shared_budget_instead_of_meeting_429(api, connected, sleeps):
    RequestBudget.objects.create(
        account=f"{API}#acme",
        quota=400,
        window=60,
        remaining=0,
        resets_at=timezone.now() + timedelta(seconds=4),
    )
    api.get(f"{API}/user.json", json=payload("user.json"), headers=RATE_HEADERS)

    FakturoidClient(connected).get_user()

    assert 4 <= sum(sleeps) <= 4.5  # waited for the reset; nothing was sent before


def test_it_refuses_without_sending_when_the_budget_is_far_off(api, connected, sleeps):
    RequestBudget.objects.create(
        account=f"{API}#acme",
        quota=400,
        window=60,
        remaining=0,
        resets_at=timezone.now() + timedelta(seconds=40),
    )

    with pytest.raises(RateLimited) as error:
        FakturoidClient(connected).get_user()

    assert 40 <= error.value.retry_after <= 41
    assert error.value.maybe_processed is False
    assert sleeps == []


def test_a_background_client_leaves_the_reserve_to_people(api, connected, sleeps, settings):
    settings.FAKTUROID_RATE_LIMIT_RESERVE = 5
    settings.FAKTUROID_BACKGROUND_MAX_WAIT = 10
    RequestBudget.objects.create(
        account=f"{API}#acme",
        quota=400,
        window=60,
        remaining=5,
        resets_at=timezone.now() + timedelta(seconds=30),
    )
    api.get(f"{API}/user.json", json=payload("user.json"), headers=RATE_HEADERS)

    with pytest.raises(RateLimited):
        FakturoidClient(connected, background=True).get_user()
    FakturoidClient(connected).get_user()  # a person still gets through

    assert len(api.calls) == 1


def test_every_answer_corrects_the_shared_budget(api, connected):
    api.get(
        f"{API}/user.json",
        json=payload("user.json"),
        headers={"X-RateLimit-Policy": "default;q=100;w=15", "X-RateLimit": "default;r=42;t=9"},
    )

    FakturoidClient(connected).get_user()

    row = RequestBudget.objects.get(account=f"{API}#acme")
    assert (row.quota, row.window, row.remaining) == (100, 15, 42)


def test_its_session_reads_proxies_and_the_ca_bundle_from_the_environment_once(
    api, connected, monkeypatch, settings
):
    """requests would scan the whole environment on every request; the session reads it when
    it is made, for the one address it talks to, and honours NO_PROXY."""
    settings.FAKTUROID_API_URL = "https://proxied.example/api/v3"
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ours.pem")
    client = FakturoidClient(connected)
    assert client.session.proxies["https"] == "http://proxy.internal:3128"
    assert client.session.verify == "/etc/ssl/certs/ours.pem" and not client.session.trust_env

    def read_again(*args, **kwargs):
        raise AssertionError("the environment was read for a request")

    monkeypatch.setattr(requests.utils, "get_environ_proxies", read_again)
    monkeypatch.setattr(requests.utils, "should_bypass_proxies", read_again)
    api.get("https://proxied.example/api/v3/user.json", json=payload("user.json"))
    assert client.get_user().id == 5

    monkeypatch.undo()  # requests may read the environment again: a new session does
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "direct.example")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "")
    monkeypatch.setenv("CURL_CA_BUNDLE", "")
    settings.FAKTUROID_API_URL = "https://direct.example/api/v3"
    direct = FakturoidClient(connected).session
    assert "https" not in direct.proxies
    assert direct.verify is True  # empty variables never switch certificate checks off


def test_it_logs_each_call_at_the_time_it_was_made(api, connected):
    """A worker writes its calls in batches, later: each row keeps the time of its call."""
    api.get(f"{API}/user.json", json=payload("user.json"), headers=RATE_HEADERS)
    calls = []
    before = timezone.now()
    FakturoidClient(connected, on_call=calls.append).get_user()
    time.sleep(0.05)
    log_calls(connected.agency_id, calls)
    row = ApiCall.objects.get()
    assert (
        before <= row.created_at == calls[0].created_at < timezone.now() - timedelta(seconds=0.04)
    )
