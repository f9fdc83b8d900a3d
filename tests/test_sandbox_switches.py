"""Fakturoid sandbox: rate limiting and the test switches (control API and endpoint)."""

import re
import threading
import time
from datetime import timedelta

import pytest
import requests
from django.db import connection
from django.utils import timezone

from fakturoid_sandbox.control import (
    SwitchError,
    ensure_account,
    ensure_subject,
    get_state,
    reset_state,
    update_state,
)
from fakturoid_sandbox.models import Account, Invoice, Token
from fakturoid_sandbox.services import create_invoice
from fakturoid_sandbox.testing import USER_AGENT, SandboxClient, basic_auth
from tests.support.live_server import wait_for_live_server_threads

DEFAULT_STATE = {
    "rate_limit": {"quota": 400, "window": 60},
    "fail_next": None,
    "delay_ms": 0,
    "delay_after_ms": 0,
    "blocked": False,
    "bank_account": True,
    "vat_mode": "vat_payer",
    "token_invalidates_previous": True,
    "email_delivery": "enabled",
    "email_daily_quota": None,
    "webhooks": "enabled",
    "webhook_backoff": [1, 2, 4, 8, 16],
}
LINES = [{"name": "PPC management", "unit_price": "1000", "vat_rate": 21}]
RATE_LIMIT = re.compile(r"default;r=(\d+);t=(\d+)")


pytestmark = pytest.mark.usefixtures("sandbox_on")


def remaining(response) -> int:
    return int(RATE_LIMIT.fullmatch(response["X-RateLimit"])[1])


# Rate limiting


def test_it_sends_rate_limit_headers_on_every_answer(sandbox_api):
    responses = [
        sandbox_api.get("account.json"),
        sandbox_api.get("subjects/404.json"),
        sandbox_api.post("subjects.json", {}),
        sandbox_api.request_token(),
    ]
    assert [r.status_code for r in responses] == [200, 404, 422, 200]
    for response in responses:
        assert response["X-RateLimit-Policy"] == "default;q=400;w=60"
        match = RATE_LIMIT.fullmatch(response["X-RateLimit"])
        assert match and 0 < int(match[2]) <= 60
    # authenticate() used one request of the window already
    assert [remaining(r) for r in responses] == [398, 397, 396, 395]


def test_it_answers_429_past_the_quota_until_the_window_ends(sandbox_api):
    update_state("acme", rate_limit={"quota": 3, "window": 30})
    answers = [sandbox_api.get("account.json") for _ in range(5)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429, 429]
    assert [remaining(r) for r in answers] == [2, 1, 0, 0, 0]
    assert answers[3].json() == {
        "error": "too_many_requests",
        "error_description": "Rate limit exceeded",
    }
    assert answers[3]["X-RateLimit-Policy"] == "default;q=3;w=30"
    # The token endpoint counts too once the client is known.
    assert sandbox_api.request_token().status_code == 429

    Account.objects.filter(slug="acme").update(
        rate_window_started_at=timezone.now() - timedelta(seconds=30)
    )
    fresh = sandbox_api.get("account.json")
    assert fresh.status_code == 200
    assert fresh["X-RateLimit"] == "default;r=2;t=30"


def test_it_counts_each_account_separately(sandbox_api):
    update_state("acme", rate_limit={"quota": 1, "window": 60})
    other = SandboxClient(ensure_account("other", name="Other"))
    other.authenticate()
    assert sandbox_api.get("account.json").status_code == 200
    assert sandbox_api.get("account.json").status_code == 429
    assert other.get("account.json").status_code == 200


@pytest.mark.skipif(
    connection.vendor == "sqlite",
    reason="SQLite's in-memory test database cannot take concurrent writers (CI runs PostgreSQL)",
)
@pytest.mark.django_db(transaction=True)
def test_it_counts_concurrent_requests_exactly():
    account = ensure_account("acme", name="Acme s.r.o.").account
    update_state("acme", rate_limit={"quota": 25, "window": 60})
    results: list[bool] = []
    lock = threading.Lock()

    def hit() -> None:
        try:
            for _ in range(10):
                admission = Account.admit(account.pk)
                with lock:
                    results.append(admission.limited)
        finally:
            connection.close()

    threads = [threading.Thread(target=hit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 40
    assert results.count(False) == 25
    assert Account.objects.get(pk=account.pk).rate_window_count == 40


@pytest.mark.skipif(
    connection.vendor == "sqlite",
    reason="SQLite's in-memory test database cannot take concurrent writers (CI runs PostgreSQL)",
)
@pytest.mark.django_db(transaction=True)
def test_it_numbers_concurrently_created_invoices_without_duplicates():
    account = ensure_account("acme", name="Acme s.r.o.").account
    subject = ensure_subject("acme", name="Alza.cz a.s.")
    errors: list[Exception] = []

    def create() -> None:
        try:
            for _ in range(5):
                create_invoice(
                    account=account,
                    data={"subject_id": subject.pk, "issued_on": "2025-06-01", "lines": LINES},
                )
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=create) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    numbers = sorted(Invoice.objects.values_list("number", flat=True))
    assert numbers == [f"2025-{n:04d}" for n in range(1, 21)]


# Switches: Python API and control endpoint


def test_it_reads_and_changes_only_the_named_switches(db):
    ensure_account("acme", name="Acme s.r.o.")
    assert get_state("acme") == DEFAULT_STATE
    state = update_state("acme", delay_ms=250, fail_next={"status": 503})
    assert state == {
        **DEFAULT_STATE,
        "delay_ms": 250,
        "fail_next": {"status": 503, "after_processing": False, "count": 1},
    }
    assert get_state("acme") == state
    assert reset_state("acme") == DEFAULT_STATE


@pytest.mark.parametrize(
    "changes",
    [
        {"speed": 1},
        {"delay_ms": 30001},
        {"delay_ms": -1},
        {"delay_after_ms": "100"},
        {"blocked": "yes"},
        {"vat_mode": "sometimes"},
        {"rate_limit": {"quota": 0}},
        {"rate_limit": 5},
        {"fail_next": {"status": 200}},
        {"fail_next": {"status": 500, "forever": True}},
        {"email_delivery": "sometimes"},
        {"email_daily_quota": -1},
        {"webhooks": True},
        {"webhook_backoff": [1, 2, 3]},
        {"webhook_backoff": [0, 0, 0, 0, "1"]},
        {"webhook_backoff": [0, 0, 0, 0, 3601]},
    ],
)
def test_it_refuses_unknown_switches_and_bad_values(db, changes):
    ensure_account("acme", name="Acme s.r.o.")
    with pytest.raises(SwitchError):
        update_state("acme", **changes)
    assert get_state("acme") == DEFAULT_STATE


def test_it_serves_the_switches_over_http(client, db):
    ensure_account("acme", name="Acme s.r.o.")
    url = "/sandbox/fakturoid/control/acme.json"
    assert client.get(url).json() == DEFAULT_STATE

    response = client.post(
        url, {"blocked": True, "rate_limit": {"quota": 5}}, content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json() == {
        **DEFAULT_STATE,
        "blocked": True,
        "rate_limit": {"quota": 5, "window": 60},
    }
    assert client.get(url).json() == response.json()

    response = client.post(url, {"delay_ms": 10**6}, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert client.get("/sandbox/fakturoid/control/nobody.json").status_code == 404


def test_it_does_not_count_control_requests_against_the_rate_limit(sandbox_api, client):
    update_state("acme", rate_limit={"quota": 1, "window": 60})
    for _ in range(3):
        assert client.get("/sandbox/fakturoid/control/acme.json").status_code == 200
    assert sandbox_api.get("account.json").status_code == 200


def test_it_answers_402_for_a_blocked_account(sandbox_api):
    update_state("acme", blocked=True)
    response = sandbox_api.get("subjects.json")
    assert response.status_code == 402
    assert response.json()["error"] == "payment_required"
    assert response.json()["error_description"].startswith("Account blocked")
    assert "X-RateLimit" in response
    assert sandbox_api.get("/user.json").status_code == 200  # not account-scoped
    update_state("acme", blocked=False)
    assert sandbox_api.get("subjects.json").status_code == 200


def test_it_fails_the_next_requests_without_carrying_them_out(sandbox_api):
    subject = ensure_subject("acme", name="Alza.cz a.s.")
    update_state("acme", fail_next={"status": 503, "count": 2})
    payload = {"subject_id": subject.pk, "lines": LINES, "custom_id": "x-1"}
    first = sandbox_api.post("invoices.json", payload)
    assert first.status_code == 503
    assert first.json() == {"error": "server_error", "error_description": "Temporarily Unavailable"}
    second = sandbox_api.get("invoices.json")
    assert second.status_code == 503
    assert "X-RateLimit" in second
    assert not Invoice.objects.exists()
    assert get_state("acme")["fail_next"] is None
    assert sandbox_api.post("invoices.json", payload).status_code == 201


def test_it_carries_out_a_request_and_then_loses_the_response(sandbox_api):
    subject = ensure_subject("acme", name="Alza.cz a.s.")
    update_state("acme", fail_next={"status": 500, "after_processing": True})
    response = sandbox_api.post(
        "invoices.json", {"subject_id": subject.pk, "lines": LINES, "custom_id": "x-1"}
    )
    assert response.status_code == 500
    assert response.json()["error"] == "server_error"
    invoice = Invoice.objects.get(custom_id="x-1")
    found = sandbox_api.get("invoices.json", custom_id="x-1").json()
    assert [item["id"] for item in found] == [invoice.pk]


def test_it_can_fail_the_token_request(sandbox_api):
    update_state("acme", fail_next={"status": 502, "after_processing": True})
    tokens_before = Token.objects.count()
    response = sandbox_api.request_token()
    assert response.status_code == 502
    assert response.json()["error"] == "server_error"
    assert Token.objects.count() == tokens_before + 1  # issued, but the answer was lost
    assert sandbox_api.get("account.json").status_code == 401  # and the old token is revoked


def test_it_fails_with_the_error_body_of_the_status(sandbox_api):
    update_state("acme", fail_next={"status": 429})
    response = sandbox_api.get("account.json")
    assert response.status_code == 429
    assert response.json() == {
        "error": "too_many_requests",
        "error_description": "Rate limit exceeded",
    }


def test_it_delays_before_and_after_processing(sandbox_api):
    update_state("acme", delay_ms=150)
    started = time.monotonic()
    assert sandbox_api.get("account.json").status_code == 200
    assert time.monotonic() - started >= 0.15
    update_state("acme", delay_ms=0, delay_after_ms=150)
    started = time.monotonic()
    assert sandbox_api.get("account.json").status_code == 200
    assert time.monotonic() - started >= 0.15


# Over a real socket


class LiveApi:
    """The sandbox over HTTP with `requests`, one connection per request, waiting for the
    server to finish each request."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.headers = {
            "User-Agent": USER_AGENT,
            "Authorization": f"Bearer {token}",
            "Connection": "close",  # else the server thread waits on the idle socket
        }

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        url = path if path.startswith("http") else f"{self.base}/{path}"
        kwargs.setdefault("timeout", 5)
        try:
            return requests.request(method, url, headers=self.headers, **kwargs)
        finally:
            wait_for_live_server_threads()


@pytest.fixture
def live_api(live_server) -> LiveApi:
    credential = ensure_account("acme", name="Acme s.r.o.")
    base = f"{live_server.url}/sandbox/fakturoid/api/v3"
    response = requests.post(
        f"{base}/oauth/token",
        json={"grant_type": "client_credentials"},
        headers={
            "User-Agent": USER_AGENT,
            "Authorization": basic_auth(credential.client_id, credential.client_secret),
            "Connection": "close",
        },
        timeout=5,
    )
    wait_for_live_server_threads()
    return LiveApi(f"{base}/accounts/acme", response.json()["access_token"])


@pytest.fixture
def live_subject(live_api):
    return ensure_subject("acme", name="Alza.cz a.s.", email="billing@alza.cz")


def test_it_works_over_a_real_socket_with_absolute_urls(live_api, live_subject, live_server):
    response = live_api.request(
        "POST", "invoices.json", json={"subject_id": live_subject.pk, "lines": LINES}
    )
    assert response.status_code == 201
    assert response.headers["Location"].startswith(f"{live_server.url}/sandbox/fakturoid/api/v3/")
    assert response.headers["X-RateLimit"].startswith("default;r=")
    html = live_api.request("GET", response.json()["html_url"])
    assert html.status_code == 200
    assert "Fakturoid sandbox — not the real Fakturoid" in html.text


def test_it_lets_a_client_time_out_before_the_request_is_carried_out(live_api, live_subject):
    update_state("acme", delay_ms=1500)
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.post(
            f"{live_api.base}/invoices.json",
            json={"subject_id": live_subject.pk, "lines": LINES, "custom_id": "slow-1"},
            headers=live_api.headers,
            timeout=0.5,
        )
    # The server is still sleeping before doing the work (no database use meanwhile).
    assert not Invoice.objects.filter(custom_id="slow-1").exists()
    wait_for_live_server_threads()
    assert time.monotonic() - started >= 1.5
    update_state("acme", delay_ms=0)
    found = live_api.request("GET", "invoices.json", params={"custom_id": "slow-1"})
    assert len(found.json()) == 1  # the slow server did the work all the same


def test_it_lets_a_client_time_out_after_the_request_was_carried_out(live_api, live_subject):
    update_state("acme", delay_after_ms=1500)
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.post(
            f"{live_api.base}/invoices.json",
            json={"subject_id": live_subject.pk, "lines": LINES, "custom_id": "lost-1"},
            headers=live_api.headers,
            timeout=0.5,
        )
    # Already created while the server is still sleeping before it answers.
    assert Invoice.objects.filter(custom_id="lost-1").exists()
    wait_for_live_server_threads()
    update_state("acme", delay_after_ms=0)
    found = live_api.request("GET", "invoices.json", params={"custom_id": "lost-1"})
    assert [invoice["custom_id"] for invoice in found.json()] == ["lost-1"]
