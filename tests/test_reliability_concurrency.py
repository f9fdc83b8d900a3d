"""Reliability, proven: simultaneous clicks and simultaneous token refreshes.

Everything runs over real sockets against pytest-django's (threaded) live server, with the
sandbox standing in for Fakturoid, and on PostgreSQL only: SQLite's in-memory test database
is one connection shared by every thread, so concurrent writers are impossible there.
"""

import threading
from collections import Counter
from datetime import date, timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from agencies.models import FakturoidSettings
from fakturoid import client as client_module
from fakturoid.client import FakturoidClient
from fakturoid.models import ApiCall, Invoice
from fakturoid_sandbox.control import update_state
from fakturoid_sandbox.models import Account, Token
from fakturoid_sandbox.models import Invoice as SandboxInvoice
from fakturoid_sandbox.services import create_invoice as create_sandbox_invoice
from tests.support.live_server import (
    PERIOD,
    TIMEOUT,
    Scene,
    connect_to_live_sandbox,
    logged_in_session,
    run_at_once,
    wait_for_live_server_threads,
)

pytestmark = [
    pytest.mark.usefixtures("sandbox_on"),
    pytest.mark.skipif(
        connection.vendor == "sqlite",
        reason="SQLite's in-memory test database is one connection shared by every thread: "
        "concurrent writers are impossible there (CI runs these on PostgreSQL)",
    ),
]

CALLERS = 10
SLOW_MS = 300  # the sandbox sleeps this long before each request, so the callers overlap
OUTCOMES = {
    "created": "was created in Fakturoid",
    "already": "is already invoiced for 10/2026",
    "in progress": "is being created right now",
}


@pytest.fixture
def slow_scene(live_server, settings, monkeypatch, agency, owner_http):
    """The live slow_scene with every sandbox request slowed down, so calls overlap."""
    scene = connect_to_live_sandbox(
        live_url=live_server.url,
        settings=settings,
        monkeypatch=monkeypatch,
        agency=agency,
        http=owner_http,
    )
    # Ten overlapping requests, each slowed down: no timeout may cut one short here.
    settings.FAKTUROID_CONNECT_TIMEOUT = settings.FAKTUROID_READ_TIMEOUT = TIMEOUT
    update_state("acme", delay_ms=SLOW_MS)
    yield scene
    wait_for_live_server_threads()


def lose_the_answer_of_a_first_click(slow_scene: Scene) -> None:
    """What a timed-out first click leaves: the invoice in Fakturoid, our row `unknown`."""
    create_sandbox_invoice(
        account=Account.objects.get(slug="acme"),
        data={
            "custom_id": slow_scene.custom_id,
            "subject_id": slow_scene.subject_id,
            "lines": [{"name": "nakup.cz – PPC management (10/2026)", "unit_price": "15000"}],
        },
    )
    Invoice.objects.create(
        agency=slow_scene.client.agency,
        client=slow_scene.client,
        period=date(2026, 10, 1),
        custom_id=slow_scene.custom_id,
        state=Invoice.State.UNKNOWN,
    )


@pytest.mark.parametrize("before", ["nothing", "a lost answer"])
def test_ten_simultaneous_clicks_make_one_invoice(slow_scene, owner, before):
    if before == "a lost answer":
        lose_the_answer_of_a_first_click(slow_scene)
    browsers = [logged_in_session(slow_scene.live_url, owner.username) for _ in range(CALLERS)]
    url = slow_scene.live_url + reverse("fakturoid:invoice_create", args=[slow_scene.client.pk])

    def click(i: int) -> tuple[int, int, str]:
        browser = browsers[i]
        try:
            response = browser.post(
                url,
                data={"period": PERIOD},
                headers={"X-CSRFToken": browser.cookies["csrftoken"]},
                allow_redirects=False,
                timeout=TIMEOUT,
            )
            page = browser.get(slow_scene.live_url + response.headers["Location"], timeout=TIMEOUT)
            return response.status_code, page.status_code, page.text
        finally:
            browser.close()

    results = run_at_once(click)

    assert not [r for r in results if isinstance(r, Exception)], results
    assert [(status, page_status) for status, page_status, _ in results] == [(302, 200)] * CALLERS
    said = Counter()
    for _status, _page_status, html in results:
        [outcome] = [name for name, text in OUTCOMES.items() if text in html]
        said[outcome] += 1
    assert said["created"] == 1, said
    assert sum(said.values()) == CALLERS
    [document] = SandboxInvoice.objects.filter(custom_id=slow_scene.custom_id)
    [record] = Invoice.objects.filter(client=slow_scene.client)
    assert record.state == Invoice.State.CREATED
    assert (record.fakturoid_id, record.number) == (document.pk, document.number)
    assert SandboxInvoice.objects.count() == 1


class _LockPerCaller(dict):
    """Stands in for the per-process token locks: every caller gets its own, as if each ran
    in its own process, so only the database row lock keeps them apart."""

    def setdefault(self, key, default=None):
        return threading.Lock()


@pytest.mark.parametrize("processes", ["one process", "a process each"])
def test_ten_callers_needing_a_fresh_token_make_one_token_request(
    slow_scene, monkeypatch, processes
):
    if processes == "a process each":
        monkeypatch.setattr(client_module, "_process_locks", _LockPerCaller())
    FakturoidSettings.objects.filter(pk=slow_scene.fakturoid.pk).update(
        token_expires_at=timezone.now() - timedelta(minutes=1)
    )
    tokens_before = Token.objects.count()
    token_requests_before = ApiCall.objects.filter(path="/oauth/token").count()

    def call(i: int) -> str:
        fakturoid = FakturoidSettings.objects.get(pk=slow_scene.fakturoid.pk)
        return FakturoidClient(fakturoid).get_account().slug

    results = run_at_once(call)

    assert results == ["acme"] * CALLERS
    assert Token.objects.count() == tokens_before + 1
    assert ApiCall.objects.filter(path="/oauth/token").count() == token_requests_before + 1
    stored = FakturoidSettings.objects.get(pk=slow_scene.fakturoid.pk)
    assert stored.token_is_fresh()
    assert Token.objects.filter(token=stored.access_token, revoked=False).exists()
