"""Fakturoid sandbox: User-Agent, OAuth token endpoint, Bearer tokens, user.json, account.json."""

import base64
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from fakturoid_sandbox.control import ensure_account, update_state
from fakturoid_sandbox.models import Token
from fakturoid_sandbox.testing import (
    API_BASE,
    USER_AGENT,
    SandboxClient,
    basic_auth,
)

TOKEN_URL = f"{API_BASE}/oauth/token"


pytestmark = pytest.mark.usefixtures("sandbox_on")


@pytest.fixture
def credential(db):
    return ensure_account("acme", name="Acme s.r.o.")


def basic(credential) -> str:
    return basic_auth(credential.client_id, credential.client_secret)


def test_it_requires_a_user_agent_before_anything_else(client, credential):
    for url in (TOKEN_URL, f"{API_BASE}/user.json", f"{API_BASE}/accounts/acme/subjects.json"):
        response = client.post(url, {"grant_type": "client_credentials"})
        assert response.status_code == 400
        assert response.json() == {
            "error": "invalid_request",
            "error_description": 'Required header "User-Agent" is missing',
        }


def test_it_issues_a_token_for_basic_auth_and_a_json_body(client, credential):
    response = client.post(
        TOKEN_URL,
        data={"grant_type": "client_credentials"},
        content_type="application/json",
        headers={"User-Agent": USER_AGENT, "Authorization": basic(credential)},
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert re.fullmatch(r"[0-9a-f]{80}", body["access_token"])
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 7200
    token = Token.objects.get(token=body["access_token"])
    expected_expiry = timezone.now() + timedelta(seconds=7200)
    assert abs((token.expires_at - expected_expiry).total_seconds()) < 5


def test_it_issues_a_token_for_a_form_body_and_on_the_json_suffixed_path(client, credential):
    response = client.post(
        f"{TOKEN_URL}.json",
        data="grant_type=client_credentials",
        content_type="application/x-www-form-urlencoded",
        headers={"User-Agent": USER_AGENT, "Authorization": basic(credential)},
    )
    assert response.status_code == 200
    assert response.json()["token_type"] == "Bearer"


def test_it_accepts_url_safe_base64_in_basic_auth(client, credential):
    raw = f"{credential.client_id}:{credential.client_secret}".encode()
    header = "Basic " + base64.urlsafe_b64encode(raw).decode()
    response = client.post(
        TOKEN_URL,
        data={"grant_type": "client_credentials"},
        headers={"User-Agent": USER_AGENT, "Authorization": header},
    )
    assert response.status_code == 200


def test_it_refuses_credentials_sent_in_the_body(client, credential):
    response = client.post(
        TOKEN_URL,
        data={
            "grant_type": "client_credentials",
            "client_id": credential.client_id,
            "client_secret": credential.client_secret,
        },
        content_type="application/json",
        headers={"User-Agent": USER_AGENT},
    )
    assert response.status_code == 401
    assert response.json() == {
        "error": "invalid_request",
        "error_description": (
            "Client ID and Client Secret have to be sent via HTTP Basic Authorization"
        ),
    }


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Basic !!!not-base64",
        basic_auth("unknown", "secret"),
    ],
)
def test_it_refuses_missing_or_wrong_client_credentials(client, credential, authorization):
    headers = {"User-Agent": USER_AGENT}
    if authorization:
        headers["Authorization"] = authorization
    response = client.post(TOKEN_URL, data={"grant_type": "client_credentials"}, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert "X-RateLimit" not in response


def test_it_refuses_a_wrong_secret(client, credential):
    response = client.post(
        TOKEN_URL,
        data={"grant_type": "client_credentials"},
        headers={
            "User-Agent": USER_AGENT,
            "Authorization": basic_auth(credential.client_id, "wrong"),
        },
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_it_refuses_an_unsupported_grant_type(credential):
    sandbox_api = SandboxClient(credential)
    response = sandbox_api.request_token(grant_type="authorization_code")
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"
    assert response["X-RateLimit-Policy"] == "default;q=400;w=60"


def test_it_revokes_the_previous_token_when_a_new_one_is_issued(credential):
    first, second = SandboxClient(credential), SandboxClient(credential)
    first.authenticate()
    assert first.get("account.json").status_code == 200
    second.authenticate()
    response = first.get("account.json")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    assert second.get("account.json").status_code == 200


def test_it_keeps_previous_tokens_valid_when_switched_off(credential):
    update_state("acme", token_invalidates_previous=False)
    first, second = SandboxClient(credential), SandboxClient(credential)
    first.authenticate()
    second.authenticate()
    assert first.get("account.json").status_code == 200
    assert second.get("account.json").status_code == 200


@pytest.mark.parametrize("authorization", [None, "Bearer ", "Bearer " + "0" * 80, "Token abc"])
def test_it_requires_a_valid_bearer_token(credential, authorization):
    sandbox_api = SandboxClient(credential)
    response = sandbox_api.request("GET", "subjects.json", headers={"Authorization": authorization})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    assert response.json()["error_description"]


def test_it_refuses_an_expired_token(sandbox_api):
    Token.objects.filter(token=sandbox_api.access_token).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    response = sandbox_api.get("/user.json")
    assert response.status_code == 401
    assert response.json() == {
        "error": "invalid_token",
        "error_description": "The access token expired",
    }


def test_it_answers_404_for_an_account_the_token_does_not_belong_to(sandbox_api, db):
    ensure_account("rival", name="Rival s.r.o.")
    for slug in ("rival", "nobody"):
        response = sandbox_api.request("GET", f"/accounts/{slug}/account.json")
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"


def test_it_shows_the_user_and_their_accounts(sandbox_api):
    response = sandbox_api.get("/user.json")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"id", "full_name", "email", "avatar_url", "default_account", "accounts"}
    assert body["full_name"] == "Acme s.r.o."
    assert body["accounts"] == [
        {
            "slug": "acme",
            "logo": None,
            "name": "Acme s.r.o.",
            "registration_no": None,
            "permission": "owner",
            "allowed_scope": ["invoices", "expenses", "reports"],
        }
    ]


def test_it_shows_the_account_with_its_vat_mode_and_currency(sandbox_api):
    body = sandbox_api.get("account.json").json()
    assert body["subdomain"] == "acme"
    assert body["name"] == "Acme s.r.o."
    assert body["vat_mode"] == "vat_payer"
    assert body["currency"] == "CZK"
    assert body["due"] == 14
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d", body["created_at"])

    ensure_account("acme", vat_mode="non_vat_payer")
    assert sandbox_api.get("account.json").json()["vat_mode"] == "non_vat_payer"


def test_it_answers_json_404_for_unknown_api_paths(sandbox_api):
    response = sandbox_api.get("/accounts/acme/expenses.json")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_it_answers_405_for_a_wrong_method(sandbox_api):
    response = sandbox_api.request("PUT", "account.json", {})
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"


def test_it_answers_415_when_the_client_wants_something_other_than_json(sandbox_api):
    response = sandbox_api.request("GET", "account.json", headers={"Accept": "application/xml"})
    assert response.status_code == 415
