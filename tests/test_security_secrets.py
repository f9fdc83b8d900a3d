"""The Fakturoid Secret ID and the access token: encrypted at rest, never shown or logged.

They must not appear in the database columns (only ciphertext), in any page, in the logs (at
DEBUG, for every logger) when verification fails, in the FakturoidError raised, in the
ApiCall log, in cookies or the session, or in the Django admin.
"""

import logging
import traceback
from datetime import timedelta

import pytest
import requests
import responses
from cryptography.fernet import Fernet, InvalidToken
from django.db import connection
from django.utils import timezone

from agencies import fields
from agencies.models import FakturoidSettings
from fakturoid import errors
from fakturoid.errors import FakturoidError
from fakturoid.models import ApiCall
from fakturoid.services import connection as connection_service
from tests.support import FAKTUROID_API as API
from tests.support import login
from tests.support.fakturoid_mocks import payload

SECRET = "s3cret-7d1e0c9b8a-never-shown"
STORED_TOKEN = "stored-token-4f3e2d1c0b9a-never-shown"
NEW_TOKEN = "new-token-a1b2c3d4e5f6-never-shown"

pytestmark = pytest.mark.usefixtures("fakturoid_config")


@pytest.fixture
def use_keys(settings):  # noqa: ANN201
    """Set FIELD_ENCRYPTION_KEYS (first encrypts, all decrypt) and drop the cached Fernet."""

    def use(*keys: str) -> None:
        settings.FIELD_ENCRYPTION_KEYS = list(keys)
        fields._fernet.cache_clear()

    fields._fernet.cache_clear()
    yield use
    fields._fernet.cache_clear()


@pytest.fixture
def stored_secrets(agency) -> FakturoidSettings:
    """Saved, verified settings holding the Secret ID and a token good for another hour."""
    return FakturoidSettings.objects.create(
        agency=agency,
        account_slug="applecorp",
        api_client_id="client-id-123",
        api_client_secret=SECRET,
        contact_email="billing@acme.example",
        account_name="Apple Corp",
        verified_at=timezone.now(),
        access_token=STORED_TOKEN,
        token_expires_at=timezone.now() + timedelta(hours=1),
    )


def raw_columns(pk: int) -> tuple[str, str]:
    table = connection.ops.quote_name(FakturoidSettings._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT api_client_secret, access_token FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()


# --- At rest --------------------------------------------------------------------------------


def test_it_stores_the_secret_and_token_encrypted_with_the_configured_key(use_keys, agency):
    key = Fernet.generate_key().decode()
    use_keys(key)

    fakturoid = FakturoidSettings.objects.create(
        agency=agency, api_client_secret=SECRET, access_token=STORED_TOKEN
    )

    raw_secret, raw_token = raw_columns(fakturoid.pk)
    assert SECRET not in raw_secret and STORED_TOKEN not in raw_token
    assert Fernet(key).decrypt(raw_secret.encode()).decode() == SECRET
    assert Fernet(key).decrypt(raw_token.encode()).decode() == STORED_TOKEN
    fakturoid.refresh_from_db()
    assert (fakturoid.api_client_secret, fakturoid.access_token) == (SECRET, STORED_TOKEN)


def test_it_encrypts_the_same_secret_differently_each_time(use_keys, agency, other_agency):
    use_keys(Fernet.generate_key().decode())
    first = FakturoidSettings.objects.create(agency=agency, api_client_secret=SECRET)
    second = FakturoidSettings.objects.create(agency=other_agency, api_client_secret=SECRET)

    assert raw_columns(first.pk)[0] != raw_columns(second.pk)[0]


def test_it_encrypts_with_a_key_derived_from_secret_key_in_development(use_keys, agency):
    use_keys()

    fakturoid = FakturoidSettings.objects.create(agency=agency, api_client_secret=SECRET)

    raw_secret, _token = raw_columns(fakturoid.pk)
    assert SECRET not in raw_secret
    assert fields.decrypt(raw_secret) == SECRET


def test_it_rotates_keys(use_keys, agency):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    use_keys(old)
    fakturoid = FakturoidSettings.objects.create(
        agency=agency, api_client_secret=SECRET, access_token=STORED_TOKEN
    )

    use_keys(new, old)
    fakturoid = FakturoidSettings.objects.get(pk=fakturoid.pk)
    assert (fakturoid.api_client_secret, fakturoid.access_token) == (SECRET, STORED_TOKEN)
    assert Fernet(old).decrypt(raw_columns(fakturoid.pk)[0].encode()).decode() == SECRET

    fakturoid.save()  # every write encrypts with the first key
    raw_secret, raw_token = raw_columns(fakturoid.pk)
    assert Fernet(new).decrypt(raw_secret.encode()).decode() == SECRET
    assert Fernet(new).decrypt(raw_token.encode()).decode() == STORED_TOKEN
    with pytest.raises(InvalidToken):
        Fernet(old).decrypt(raw_secret.encode())

    use_keys(new)  # the old key retired
    assert FakturoidSettings.objects.get(pk=fakturoid.pk).api_client_secret == SECRET


def test_it_reads_a_secret_no_key_can_decrypt_as_not_set(use_keys, owner_http, agency):
    use_keys(Fernet.generate_key().decode())
    fakturoid = FakturoidSettings.objects.create(
        agency=agency, account_slug="acme", api_client_id="id", api_client_secret=SECRET
    )

    use_keys(Fernet.generate_key().decode())  # the old key was lost

    fakturoid = FakturoidSettings.objects.get(pk=fakturoid.pk)
    assert fakturoid.api_client_secret == "" and not fakturoid.is_configured
    assert owner_http.get("/agency/settings/fakturoid/").status_code == 200


# --- Pages ----------------------------------------------------------------------------------


def assert_hidden(text: str, *secrets: str) -> None:
    shown = [secret for secret in secrets if secret in text]
    assert not shown, f"secrets shown: {shown}"


def pages_of(http) -> str:  # noqa: ANN001
    urls = [
        "/",
        "/agency/settings/fakturoid/",
        "/agency/members/",
        "/agency/settings/integration-log/",
    ]
    return "".join(http.get(url).content.decode() for url in urls)


def form_data(**changes: str) -> dict:
    data = {
        "account_slug": "applecorp",
        "due_days": "14",
        "api_client_id": "client-id-123",
        "api_client_secret": SECRET,
        "contact_email": "billing@acme.example",
        "default_period": "previous",
    }
    return data | changes


def test_it_never_shows_the_secret_or_token_after_a_successful_save(owner_http, agency):
    with responses.RequestsMock() as mock:
        mock.post(f"{API}/oauth/token", json={"access_token": NEW_TOKEN, "expires_in": 7200})
        mock.get(f"{API}/user.json", json=payload("user.json"))
        mock.get(f"{API}/accounts/applecorp/account.json", json=payload("account.json"))

        response = owner_http.post("/agency/settings/fakturoid/", form_data(), follow=True)

    fakturoid = FakturoidSettings.objects.get(agency=agency)
    assert fakturoid.is_verified and fakturoid.access_token == NEW_TOKEN
    assert "Connected to Fakturoid" in response.content.decode()
    assert_hidden(response.content.decode(), SECRET, NEW_TOKEN)
    assert_hidden(pages_of(owner_http), SECRET, NEW_TOKEN)
    assert_hidden(str(owner_http.cookies) + str(dict(owner_http.session)), SECRET, NEW_TOKEN)


@pytest.mark.parametrize("status", [401, 500])
def test_it_never_shows_the_secret_after_a_failed_save(owner_http, agency, status):
    body = payload("invalid_client.json") if status == 401 else {"error": "Internal error"}
    with responses.RequestsMock() as mock:
        mock.post(f"{API}/oauth/token", status=status, json=body)

        response = owner_http.post("/agency/settings/fakturoid/", form_data(), follow=True)

    assert response.status_code == 200
    assert_hidden(response.content.decode(), SECRET)
    assert_hidden(pages_of(owner_http), SECRET)
    assert_hidden(str(owner_http.cookies) + str(dict(owner_http.session)), SECRET)


# --- Logs, errors and the ApiCall log when verification fails -------------------------------


FAILURES = {
    "token refused": lambda mock: mock.post(
        f"{API}/oauth/token", status=401, json=payload("invalid_client.json")
    ),
    "server error": lambda mock: mock.get(
        f"{API}/user.json", status=500, json={"error": "Internal error"}
    ),
    "timeout": lambda mock: mock.get(
        f"{API}/user.json", body=requests.ReadTimeout("Read timed out. (read timeout=20.0)")
    ),
}


def log_everything(caplog) -> None:  # noqa: ANN001
    caplog.set_level(logging.DEBUG)
    for name in list(logging.root.manager.loggerDict):
        caplog.set_level(logging.DEBUG, logger=name)


def arm(mock: responses.RequestsMock, failure: str) -> None:
    """The token endpoint hands out NEW_TOKEN (unless it is what fails), then `failure`."""
    if failure != "token refused":
        mock.post(f"{API}/oauth/token", json={"access_token": NEW_TOKEN, "expires_in": 7200})
    FAILURES[failure](mock)


def everything_recorded(caplog, *responses_) -> str:  # noqa: ANN001
    api_calls = " ".join(str(row) for row in ApiCall.objects.values_list())
    pages = " ".join(response.content.decode() for response in responses_)
    return "\n".join([caplog.text, api_calls, pages])


@pytest.mark.parametrize("failure", list(FAILURES))
def test_it_keeps_credentials_out_of_logs_when_saving_fails(owner_http, agency, caplog, failure):
    log_everything(caplog)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        arm(mock, failure)

        response = owner_http.post("/agency/settings/fakturoid/", form_data(), follow=True)

    assert response.status_code == 200
    assert caplog.records, "nothing was logged: the check would prove nothing"
    assert_hidden(everything_recorded(caplog, response), SECRET, NEW_TOKEN)


@pytest.mark.parametrize("failure", list(FAILURES))
def test_it_keeps_credentials_out_of_logs_when_verifying_fails(
    owner, stored_secrets, caplog, failure
):
    """ "Verify now" with a stored token: a 401 makes it fetch a new one, which also fails."""
    http = login(owner)
    log_everything(caplog)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        if failure == "token refused":
            mock.get(f"{API}/user.json", status=401, json=payload("invalid_token.json"))
        arm(mock, failure)

        response = http.post("/agency/settings/fakturoid/verify/", follow=True)

    assert response.status_code == 200
    assert ApiCall.objects.filter(agency=stored_secrets.agency).exists()
    assert_hidden(everything_recorded(caplog, response), SECRET, STORED_TOKEN, NEW_TOKEN)


@pytest.mark.parametrize("failure", list(FAILURES))
def test_it_keeps_credentials_out_of_the_error_raised(stored_secrets, failure):
    stored_secrets.access_token = ""  # start with a token request, so both credentials are used
    stored_secrets.save()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        arm(mock, failure)

        with pytest.raises(FakturoidError) as raised:
            connection_service.verify_connection(fakturoid=stored_secrets)

    error = raised.value
    described = [
        str(error),
        repr(error),
        error.message,
        str(error.errors),
        errors.explain(error),
        "".join(traceback.format_exception(error)),  # the chained requests errors too
        repr(stored_secrets),
        str(stored_secrets),
    ]
    assert_hidden("\n".join(described), SECRET, NEW_TOKEN)


# --- The Django admin -----------------------------------------------------------------------


def test_it_keeps_credentials_out_of_the_admin(make_user, stored_secrets):
    admin = make_user("admin", is_staff=True, is_superuser=True)
    http = login(admin)
    ApiCall.objects.create(
        agency=stored_secrets.agency,
        method="GET",
        path="/accounts/applecorp/subjects.json?custom_id=abc-c1",
        status=200,
        duration_ms=5,
    )
    call = ApiCall.objects.get()
    pages = [
        "/admin/agencies/fakturoidsettings/",
        f"/admin/agencies/fakturoidsettings/{stored_secrets.pk}/change/",
        f"/admin/agencies/fakturoidsettings/{stored_secrets.pk}/history/",
        "/admin/fakturoid/apicall/",
        f"/admin/fakturoid/apicall/{call.pk}/change/",
        f"/admin/agencies/agency/{stored_secrets.agency.pk}/change/",
    ]

    responses_ = [http.get(page) for page in pages]

    assert [response.status_code for response in responses_] == [200] * len(pages)
    text = "".join(response.content.decode() for response in responses_)
    assert "client-id-123" in text and "custom_id=abc-c1" in text  # the pages do show data
    assert_hidden(text, SECRET, STORED_TOKEN)
