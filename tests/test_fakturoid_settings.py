"""Settings → Fakturoid: owners enter the credentials, saving verifies them with Fakturoid.

HTTP is mocked with `responses`: token → user.json → account.json, with the reference payloads.
"""

import base64
import copy
import json
from datetime import timedelta

import pytest
import requests
from django.contrib.messages import get_messages
from django.utils import timezone
from responses import matchers

from agencies.models import FakturoidSettings
from fakturoid.errors import AuthenticationError
from fakturoid.services import connection
from tests.support import FAKTUROID_API as API
from tests.support.fakturoid_mocks import FIXTURES

URL = "/agency/settings/fakturoid/"
VERIFY_URL = "/agency/settings/fakturoid/verify/"
DISCONNECT_URL = "/agency/settings/fakturoid/disconnect/"
SECRET = "s3cr3t-Xq9vLm2Rt7"
STORED_TOKEN = "a" * 80
RATE = {"X-RateLimit-Policy": "default;q=400;w=60", "X-RateLimit": "default;r=390;t=40"}

pytestmark = pytest.mark.usefixtures("fakturoid_config")


def payload(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


NEW_TOKEN = payload("token.json")["access_token"]


def flashed(response) -> list[tuple[str, str]]:
    return [(message.level_tag, str(message)) for message in get_messages(response.wsgi_request)]


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def entered(**fields) -> dict:
    """What an owner types into Settings → Fakturoid."""
    return {
        "account_slug": "applecorp",
        "due_days": "14",
        "api_client_id": "client-id-new",
        "api_client_secret": SECRET,
        "contact_email": "billing@acme.example",
        "default_period": "previous",
    } | fields


def add_token(api, *, client_id: str = "client-id-new", secret: str = SECRET, **answer) -> None:
    api.post(
        f"{API}/oauth/token",
        **(answer or {"json": payload("token.json")}),
        headers=RATE,
        match=[
            matchers.header_matcher({"Authorization": basic(client_id, secret)}),
            matchers.json_params_matcher({"grant_type": "client_credentials"}),
        ],
    )


def user_json(*slugs: str) -> dict:
    data = copy.deepcopy(payload("user.json"))
    template = data["accounts"][0]
    data["accounts"] = [template | {"slug": slug, "name": slug.title()} for slug in slugs]
    return data


def add_user(api, *slugs: str, **answer) -> None:
    api.get(
        f"{API}/user.json",
        **(answer or {"json": user_json(*(slugs or ("applecorp",)))}),
        headers=RATE,
        match=[matchers.header_matcher({"Authorization": f"Bearer {NEW_TOKEN}"})],
    )


def add_account(api, slug: str = "applecorp", **answer) -> None:
    api.get(
        f"{API}/accounts/{slug}/account.json",
        **(answer or {"json": payload("account.json") | {"subdomain": slug}}),
        headers=RATE,
        match=[matchers.header_matcher({"Authorization": f"Bearer {NEW_TOKEN}"})],
    )


def add_verification(api, slug: str = "applecorp", **token) -> None:
    add_token(api, **token)
    add_user(api, slug)
    add_account(api, slug)


def field_errors(response, field: str) -> list[str]:
    return response.context["form"].errors.get(field, [])


@pytest.fixture
def working(fakturoid_settings) -> FakturoidSettings:
    """A configuration that works: verified, with a fresh token."""
    fakturoid_settings.access_token = STORED_TOKEN
    fakturoid_settings.token_expires_at = timezone.now() + timedelta(hours=1)
    fakturoid_settings.verified_at = timezone.now() - timedelta(days=3)
    fakturoid_settings.save()
    return fakturoid_settings


def stored_state(agency) -> tuple:
    fakturoid = FakturoidSettings.objects.get(agency=agency)
    return (
        fakturoid.account_slug,
        fakturoid.api_client_id,
        fakturoid.api_client_secret,
        fakturoid.access_token,
        fakturoid.token_expires_at,
        fakturoid.account_name,
        fakturoid.verified_at,
        fakturoid.due_days,
    )


# --- Who may open it ------------------------------------------------------------------------


def test_members_who_are_not_owners_are_told_it_is_for_owners(api, member_http, working):
    page = member_http.get(URL)
    assert page.status_code == 403
    assert "This page is for the owners of" in page.content.decode()
    assert member_http.post(URL, entered()).status_code == 403
    assert member_http.post(VERIFY_URL).status_code == 403
    assert member_http.post(DISCONNECT_URL).status_code == 403
    working.refresh_from_db()
    assert working.api_client_secret == "secret-456"
    assert len(api.calls) == 0


def test_anonymous_visitors_are_sent_to_log_in(client, db):
    response = client.get(URL)

    assert response.status_code == 302
    assert response["Location"].startswith(f"/login/?next={URL}")


def test_it_labels_the_fields_as_fakturoid_does(owner_http):
    html = owner_http.get(URL).content.decode()

    assert '<label for="id_account_slug">Organisation name *</label>' in html
    assert '<label for="id_due_days">Payment due date (days) *</label>' in html
    assert '<label for="id_api_client_id">Client ID *</label>' in html
    assert '<label for="id_api_client_secret">Secret ID *</label>' in html
    assert "Not connected" in html


# --- Saving verifies ------------------------------------------------------------------------


def test_saving_verifies_and_stores_what_fakturoid_says(api, owner_http, agency):
    add_verification(api)

    response = owner_http.post(URL, entered())

    assert response.status_code == 302
    assert flashed(response) == [("success", "Connected to Fakturoid: Alexandr Hejsek.")]
    fakturoid = FakturoidSettings.objects.get(agency=agency)
    assert (fakturoid.account_slug, fakturoid.api_client_id) == ("applecorp", "client-id-new")
    assert fakturoid.api_client_secret == SECRET
    assert (fakturoid.account_name, fakturoid.vat_mode, fakturoid.currency) == (
        "Alexandr Hejsek",
        "vat_payer",
        "CZK",
    )
    assert fakturoid.verified_at is not None
    assert fakturoid.access_token == NEW_TOKEN
    assert [call.request.url.split("?")[0] for call in api.calls] == [
        f"{API}/oauth/token",
        f"{API}/user.json",
        f"{API}/accounts/applecorp/account.json",
    ]

    html = owner_http.get(URL).content.decode()
    assert "Connected" in html
    assert "<strong>Alexandr Hejsek</strong> (applecorp)" in html
    assert "VAT payer" in html
    assert "CZK" in html
    assert "Verify now" in html


def test_a_pasted_fakturoid_address_is_stored_as_the_organisation_name(api, owner_http, agency):
    add_verification(api, "mojefirma")

    response = owner_http.post(
        URL, entered(account_slug="https://app.fakturoid.cz/mojefirma/invoices")
    )

    assert response.status_code == 302
    assert FakturoidSettings.objects.get(agency=agency).account_slug == "mojefirma"


@pytest.mark.parametrize("days", ["-1", "366", "abc"])
def test_due_days_must_be_between_0_and_365(api, owner_http, agency, days):
    response = owner_http.post(URL, entered(due_days=days))

    assert response.status_code == 200
    assert field_errors(response, "due_days")
    assert len(api.calls) == 0
    assert not FakturoidSettings.objects.filter(agency=agency).exists()


@pytest.mark.parametrize("days", ["0", "365"])
def test_due_days_may_be_0_or_365(api, owner_http, agency, days):
    add_verification(api)

    assert owner_http.post(URL, entered(due_days=days)).status_code == 302
    assert FakturoidSettings.objects.get(agency=agency).due_days == int(days)


def test_wrong_credentials_are_shown_at_the_secret_id_and_not_saved(api, owner_http, agency):
    add_token(api, status=401, json=payload("invalid_client.json"))

    response = owner_http.post(URL, entered())

    assert response.status_code == 200
    [error] = field_errors(response, "api_client_secret")
    assert "does not accept this Client ID and Secret ID" in error
    assert error in response.content.decode()
    assert not FakturoidSettings.objects.filter(agency=agency).exists()


def test_wrong_credentials_leave_a_working_configuration_alone(api, owner_http, agency, working):
    before = stored_state(agency)
    add_token(api, status=401, json=payload("invalid_client.json"))

    response = owner_http.post(URL, entered(account_slug="mojefirma", due_days="30"))

    assert response.status_code == 200
    assert field_errors(response, "api_client_secret")
    assert stored_state(agency) == before
    html = response.content.decode()
    assert "(acme)" in html  # the connection card shows what is stored, not what was typed
    assert "(mojefirma)" not in html


def test_a_refused_save_leaves_the_agency_with_its_stored_settings(api, agency, working):
    add_token(api, status=401, json=payload("invalid_client.json"))
    fakturoid = agency.fakturoid_settings
    fakturoid.api_client_id, fakturoid.api_client_secret = "client-id-new", SECRET

    with pytest.raises(AuthenticationError):
        connection.connect(fakturoid=fakturoid, credentials_changed=True)

    assert agency.fakturoid_settings is fakturoid


def test_a_missing_contact_e_mail_is_asked_for_before_any_request(
    api, owner_http, agency, settings
):
    settings.FAKTUROID_CONTACT_EMAIL = ""

    response = owner_http.post(URL, entered(contact_email=""))

    assert response.status_code == 200
    [error] = field_errors(response, "contact_email")
    assert "contact e-mail" in error
    assert len(api.calls) == 0
    assert not FakturoidSettings.objects.filter(agency=agency).exists()


def test_credentials_without_the_organisation_name_those_they_reach(api, owner_http, agency):
    add_token(api)
    add_user(api, "applecorp", "druhafirma")

    response = owner_http.post(URL, entered(account_slug="mojefirma"))

    assert response.status_code == 200
    assert field_errors(response, "account_slug") == [
        'These credentials have no access to "mojefirma". They reach: "applecorp", "druhafirma".'
    ]
    assert not FakturoidSettings.objects.filter(agency=agency).exists()


@pytest.mark.parametrize("blocked_at", ["user", "account"])
def test_a_blocked_account_is_explained(api, owner_http, agency, blocked_at):
    add_token(api)
    if blocked_at == "user":
        add_user(api, status=402, json=payload("account_blocked.json"))
    else:
        add_user(api, "applecorp")
        add_account(api, status=402, json=payload("account_blocked.json"))

    response = owner_http.post(URL, entered())

    assert response.status_code == 200
    [error] = response.context["form"].non_field_errors()
    assert "The Fakturoid account is blocked (unpaid Fakturoid subscription)" in error
    assert error in response.content.decode()
    assert not FakturoidSettings.objects.filter(agency=agency).exists()


def test_unreachable_fakturoid_saves_unverified_and_verify_now_works_later(api, owner_http, agency):
    api.post(f"{API}/oauth/token", body=requests.ConnectionError("Connection refused"))

    response = owner_http.post(URL, entered())

    assert response.status_code == 302
    [(level, text)] = flashed(response)
    assert level == "warning"
    assert text.startswith("Saved, but not verified:")
    fakturoid = FakturoidSettings.objects.get(agency=agency)
    assert (fakturoid.api_client_id, fakturoid.api_client_secret) == ("client-id-new", SECRET)
    assert fakturoid.verified_at is None
    html = owner_http.get(URL).content.decode()
    assert "Not verified" in html
    assert f'action="{VERIFY_URL}"' in html
    assert "Verify now" in html

    api.reset()
    add_verification(api)
    response = owner_http.post(VERIFY_URL)

    assert response.status_code == 302
    assert flashed(response) == [("success", "Connected to Fakturoid: Alexandr Hejsek.")]
    fakturoid.refresh_from_db()
    assert fakturoid.verified_at is not None
    assert fakturoid.account_name == "Alexandr Hejsek"
    assert fakturoid.access_token == NEW_TOKEN
    assert "Not verified" not in owner_http.get(URL).content.decode()


def test_verify_now_says_why_it_failed(api, owner_http, agency, working):
    add_token(
        api,
        client_id="client-id-123",
        secret="secret-456",
        status=401,
        json=payload("invalid_client.json"),
    )
    working.access_token = ""
    working.save()

    response = owner_http.post(VERIFY_URL)

    [(level, text)] = flashed(response)
    assert level == "error"
    assert "does not accept this Client ID and Secret ID" in text


# --- The Secret ID is write-only ------------------------------------------------------------


def test_the_secret_id_is_never_shown_again(api, owner_http, agency):
    add_verification(api)
    owner_http.post(URL, entered())

    html = owner_http.get(URL).content.decode()

    assert SECRET not in html
    assert NEW_TOKEN not in html
    assert "A Secret ID is stored. Leave blank to keep it." in html
    assert '<label for="id_api_client_secret">Secret ID</label>' in html  # no longer required

    response = owner_http.post(URL, entered(due_days="999", api_client_secret=SECRET))
    assert response.status_code == 200
    assert field_errors(response, "due_days")
    assert SECRET not in response.content.decode()


def test_the_secret_id_is_not_shown_when_verification_fails(api, owner_http, agency):
    add_token(api, status=401, json=payload("invalid_client.json"))

    response = owner_http.post(URL, entered())

    assert field_errors(response, "api_client_secret")
    assert SECRET not in response.content.decode()


def test_a_blank_secret_id_keeps_the_stored_one(api, owner_http, agency, working):
    add_token(api, client_id="client-id-123", secret="secret-456")
    add_user(api, "acme")
    add_account(api, "acme")

    response = owner_http.post(
        URL,
        entered(
            account_slug="acme", api_client_id="client-id-123", api_client_secret="", due_days="30"
        ),
    )

    assert response.status_code == 302
    working.refresh_from_db()
    assert working.api_client_secret == "secret-456"
    assert working.due_days == 30


# --- Disconnecting --------------------------------------------------------------------------


def test_disconnect_removes_the_credentials_and_the_token(api, owner_http, agency, working):
    response = owner_http.post(DISCONNECT_URL)

    assert response.status_code == 302
    assert flashed(response)[0][0] == "success"
    working.refresh_from_db()
    assert (working.api_client_id, working.api_client_secret, working.access_token) == ("", "", "")
    assert working.token_expires_at is None
    assert working.verified_at is None
    assert not agency.fakturoid_ready
    assert "Not connected" in owner_http.get(URL).content.decode()
    assert len(api.calls) == 0


def test_verify_and_disconnect_only_accept_post(api, owner_http, working):
    assert owner_http.get(VERIFY_URL).status_code == 405
    assert owner_http.get(DISCONNECT_URL).status_code == 405
    working.refresh_from_db()
    assert working.api_client_secret == "secret-456"
    assert len(api.calls) == 0
