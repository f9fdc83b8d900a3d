"""Timeouts that agree (issue 10, item 4): gunicorn's worker timeout, the stale-claim time and
the settle time all come from the Fakturoid timeout settings, and the worst case of one click
they are built on is at least what a click really sends."""

import runpy
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.utils import timezone
from responses import matchers

from fakturoid import timeouts
from fakturoid.models import Invoice
from fakturoid.services import invoicing
from tests.support.fakturoid_mocks import ACCOUNT, OCTOBER, custom_id_of, payload

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_SETTINGS = [(5, 20, 5), (3.05, 10, 0), (10, 60, 30), (0.5, 0.5, 0)]


def gunicorn_config() -> dict:
    return runpy.run_path(str(ROOT / "gunicorn.conf.py"))


@pytest.mark.parametrize("connect, read, rate_limit_wait", TIMEOUT_SETTINGS)
def test_the_worker_timeout_stale_claim_and_settle_time_agree(
    settings, connect, read, rate_limit_wait
):
    settings.FAKTUROID_CONNECT_TIMEOUT = connect
    settings.FAKTUROID_READ_TIMEOUT = read
    settings.FAKTUROID_MAX_RATE_LIMIT_WAIT = rate_limit_wait
    settings.FAKTUROID_SETTLE_SECONDS = None
    worst_click = timeouts.click_requests() * (connect + read)

    worker = gunicorn_config()["timeout"]

    assert worker == timeouts.worker_timeout_seconds()
    assert worker > worst_click  # no click within its limits is killed by the web server
    assert timeouts.stale_claim() > timedelta(seconds=worker)  # only dead requests' claims
    assert timeouts.settle_time() >= timedelta(seconds=connect + read)
    # A dead request's POST is awaited for its whole life, then the settle time.
    claim = Invoice(state=Invoice.State.PENDING, uncertain_since=timezone.now())
    assert claim.settles_at - claim.uncertain_since > timedelta(seconds=worker)


def test_the_readme_starts_gunicorn_with_its_config():
    readme = (ROOT / "README.md").read_text()
    assert "gunicorn -c gunicorn.conf.py" in readme
    assert "gunicorn config.wsgi" not in readme


@pytest.fixture
def worst_case_client(agency, connected, make_client, make_project, make_item):
    client = make_client(agency, "Alza.cz a.s.", fakturoid_subject_id=16)
    make_item(make_project(client, "alza.cz"), "PPC management", "15000", first_month=OCTOBER)
    # An attempt whose outcome is unknown and settled: the click looks up before it POSTs.
    Invoice.objects.create(
        agency=agency,
        client=client,
        period=OCTOBER,
        custom_id=custom_id_of(client),
        state=Invoice.State.UNKNOWN,
    )
    return client


def test_the_worst_click_sends_no_more_requests_than_counted(api, worst_case_client, owner):
    """Everything that may be retried is: the token expired mid-way (401, new token, repeat),
    every look-up page fails twice before it answers, the POST times out, and the look-up after
    it finds the invoice."""
    custom_id = custom_id_of(worst_case_client)
    invoices = f"{ACCOUNT}/invoices.json"
    found = payload("invoice_created.json") | {"custom_id": custom_id}

    def page(number: int, answer: list) -> None:
        match = [matchers.query_param_matcher({"custom_id": custom_id, "page": str(number)})]
        for _failure in range(timeouts.GET_ATTEMPTS - 1):
            api.get(invoices, status=503, json={"error": "unavailable"}, match=match)
        api.get(invoices, json=answer, match=match)

    api.get(invoices, status=401, json={"error": "invalid_token"})
    api.post(
        "https://app.fakturoid.cz/api/v3/oauth/token",
        json={"access_token": "fresh", "expires_in": 7200},
    )
    page(1, [])
    api.post(invoices, body=requests.exceptions.ReadTimeout("read timed out"))
    page(1, [found])

    invoice = invoicing.create_invoice(client=worst_case_client, period=OCTOBER, user=owner)

    assert invoice.state == Invoice.State.CREATED
    assert len(api.calls) <= timeouts.click_requests()
