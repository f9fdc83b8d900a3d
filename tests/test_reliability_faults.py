"""Reliability, proven: faults while an invoice is created, and the click after they clear.

Every case drives the real invoice view. The sandbox cases run the sandbox on pytest-django's
live server, so the app really talks HTTP to it and its switches produce the fault; the
garbage cases mock Fakturoid with `responses`, because the sandbox always answers properly.
After each fault the test clears it, clicks again, and checks that Fakturoid holds exactly one
invoice for the client and month and that our record matches it.

FAULTS and GARBAGE also make the table of docs/reliability.md: a test below checks that the
committed table is the one these cases produce (see the doc for how to regenerate it).
"""

import copy
import json
import os
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from django.db import connection
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from responses import matchers

from agencies.models import FakturoidSettings
from fakturoid.client import FakturoidClient
from fakturoid.models import ApiCall, Invoice, RequestBudget
from fakturoid.services import connection as connection_service
from fakturoid.timeouts import settle_time
from fakturoid_sandbox.control import update_state
from fakturoid_sandbox.models import Invoice as SandboxInvoice
from fakturoid_sandbox.models import Token
from fakturoid_sandbox.testing import USER_AGENT, basic_auth
from tests.support import FAKTUROID_API as API
from tests.support import STORED_TOKEN as TOKEN
from tests.support.fakturoid_mocks import FIXTURES, add_lookup
from tests.support.live_server import (
    CLIENT_NAME,
    READ_TIMEOUT,
    Scene,
    connect_to_live_sandbox,
    wait_for_live_server_threads,
)

DOC = Path(__file__).resolve().parent.parent / "docs" / "reliability.md"
DELAY_MS = 1000
CREATED = f"for {CLIENT_NAME} (10/2026) was created in Fakturoid"
ALREADY = f"{CLIENT_NAME} is already invoiced for 10/2026"
SQLITE_SHARED_CONNECTION = (
    "on SQLite the live server shares the test's one in-memory connection, and here the "
    "sandbox works on after the client gave up, alongside the test; CI runs it on PostgreSQL"
)

pytestmark = pytest.mark.usefixtures("sandbox_on")


def not_created(reason: str) -> str:
    """The error message of a click that certainly created nothing."""
    return f"The invoice of {CLIENT_NAME} for 10/2026 was not created: {reason}"


def unconfirmed(reason: str) -> str:
    """The warning of a click whose invoice may exist in Fakturoid."""
    return (
        f"Fakturoid did not confirm the invoice of {CLIENT_NAME} for 10/2026: {reason} It may "
        "have been created all the same: clicking again looks it up in Fakturoid first and "
        "never creates it twice."
    )


NOT_SETTLED = (
    f"{CLIENT_NAME}, 10/2026: Fakturoid may still be creating this invoice; check again at"
)


def let_it_settle(scene: Scene) -> None:
    """The settle time of the uncertain attempt passes (as if the user came back later)."""
    Invoice.objects.filter(custom_id=scene.custom_id).update(
        uncertain_since=F("uncertain_since") - settle_time()
    )


def nonsense(details: str) -> str:
    return (
        f"Fakturoid could not be reached or answered nonsense ({details.rstrip('.')}). Try again."
    )


# --- The scene: an agency connected to a sandbox account over a real socket -----------------


@pytest.fixture
def scene(live_server, settings, monkeypatch, agency, owner_http):
    yield connect_to_live_sandbox(
        live_url=live_server.url,
        settings=settings,
        monkeypatch=monkeypatch,
        agency=agency,
        http=owner_http,
    )
    wait_for_live_server_threads()


def sandbox_invoices(scene: Scene) -> list[SandboxInvoice]:
    return list(SandboxInvoice.objects.filter(account__slug="acme", custom_id=scene.custom_id))


def assert_one_invoice_matching_our_record(scene: Scene) -> None:
    [document] = sandbox_invoices(scene)
    record = Invoice.objects.get(custom_id=scene.custom_id)
    assert record.state == Invoice.State.CREATED
    assert record.error == ""
    assert record.fakturoid_id == document.pk
    assert record.number == document.number
    assert record.total == document.total
    page = reverse("sandbox:invoice_page", args=["acme", document.pk])
    assert record.html_url == f"{scene.live_url}{page}"


# --- How each fault is produced and cleared ---------------------------------------------------


def no_change(scene: Scene) -> None:
    pass


def point_at_a_closed_port(scene: Scene) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Closed again: nothing listens there, the connection is refused at once.
    scene.settings.FAKTUROID_API_URL = f"http://127.0.0.1:{port}/sandbox/fakturoid/api/v3"


def point_at_the_sandbox(scene: Scene) -> None:
    scene.settings.FAKTUROID_API_URL = scene.api_url


def switches(**changes) -> Callable[[Scene], None]:
    def apply(scene: Scene) -> None:
        update_state("acme", **changes)

    return apply


def expire_our_token_and(**changes) -> Callable[[Scene], None]:
    def apply(scene: Scene) -> None:
        FakturoidSettings.objects.filter(pk=scene.fakturoid.pk).update(
            token_expires_at=timezone.now() - timedelta(minutes=1)
        )
        update_state("acme", **changes)

    return apply


def use_up_the_rate_limit(scene: Scene) -> None:
    update_state("acme", rate_limit={"quota": 1, "window": 60})
    FakturoidClient(scene.fakturoid).get_account()  # the one request the window allows
    wait_for_live_server_threads()


def start_a_new_rate_limit_window(scene: Scene) -> None:
    """What the reset does: Fakturoid counts anew, and so does our shared budget."""
    update_state("acme", rate_limit={"quota": 400, "window": 60})
    RequestBudget.objects.all().delete()


def expire_the_token_in_fakturoid(scene: Scene) -> None:
    Token.objects.update(expires_at=timezone.now() - timedelta(seconds=1))


def link_an_unknown_contact(scene: Scene) -> None:
    scene.client.fakturoid_subject_id = scene.subject_id + 1000
    scene.client.save()


def link_the_real_contact(scene: Scene) -> None:
    scene.client.fakturoid_subject_id = scene.subject_id
    scene.client.save()


@dataclass(frozen=True)
class Fault:
    """One row of the table in docs/reliability.md, and how the test produces it."""

    name: str
    fault: str
    produced_by: str
    level: str  # of the flashed message: success, info, warning, error
    sees: str  # a fragment of the flashed message
    state: str  # our Invoice row right after the fault
    again: str  # a fragment of the message when the user clicks again after it cleared
    start: Callable[[Scene], None] = no_change
    clear: Callable[[Scene], None] = no_change
    new_tokens: int = 0  # token requests the first click makes
    sqlite: bool = True  # False: only on a database with real concurrent connections

    @property
    def at_once(self) -> str:
        """What clicking again at once (within the settle time) shows; "" when it just works."""
        return NOT_SETTLED if self.state == Invoice.State.UNKNOWN else ""

    def row(self) -> str:
        at_once = f'warning: "{self.at_once}"; nothing sent' if self.at_once else "as on the right"
        cells = [
            self.fault,
            self.produced_by,
            f'{self.level}: "{self.sees}"',
            f"`{self.state}`",
            at_once,
            f'"{self.again}"; 1 invoice in Fakturoid, our record matches it',
        ]
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


FAULTS = [
    Fault(
        name="unreachable",
        fault="Fakturoid unreachable: the request never arrives",
        produced_by="FAKTUROID_API_URL pointed at a closed port (connection refused)",
        level="error",
        sees=not_created(nonsense("Could not connect to Fakturoid (ConnectionError).")),
        state=Invoice.State.FAILED,
        again=CREATED,
        start=point_at_a_closed_port,
        clear=point_at_the_sandbox,
    ),
    Fault(
        name="timeout-before",
        fault="Timeout before the request is carried out (carried out later all the same)",
        produced_by=f"`delay_ms: {DELAY_MS}` with a read timeout of {READ_TIMEOUT} s",
        level="warning",
        sees=unconfirmed(nonsense("Fakturoid did not answer in time (ReadTimeout).")),
        state=Invoice.State.UNKNOWN,
        again=CREATED,
        start=switches(delay_ms=DELAY_MS),
        clear=switches(delay_ms=0),
        sqlite=False,
    ),
    Fault(
        name="timeout-after",
        fault="Timeout after the request was carried out (lost response)",
        produced_by=f"`delay_after_ms: {DELAY_MS}` with a read timeout of {READ_TIMEOUT} s",
        level="warning",
        sees=unconfirmed(nonsense("Fakturoid did not answer in time (ReadTimeout).")),
        state=Invoice.State.UNKNOWN,
        again=CREATED,
        start=switches(delay_after_ms=DELAY_MS),
        clear=switches(delay_after_ms=0),
    ),
    Fault(
        name="500-after",
        fault="500 after the invoice was created",
        produced_by='`fail_next: {"status": 500, "after_processing": true}`',
        level="success",
        sees=CREATED,
        state=Invoice.State.CREATED,
        again=ALREADY,
        start=switches(fail_next={"status": 500, "after_processing": True}),
        clear=switches(fail_next=None),
    ),
    Fault(
        name="503",
        fault="503 maintenance, nothing carried out",
        produced_by='`fail_next: {"status": 503}`',
        level="warning",
        sees=unconfirmed(nonsense("Fakturoid is unavailable (HTTP 503): Temporarily Unavailable")),
        state=Invoice.State.UNKNOWN,
        again=CREATED,
        start=switches(fail_next={"status": 503}),
        clear=switches(fail_next=None),
    ),
    Fault(
        name="503-token",
        fault="503 on the token request: the invoice is never sent",
        produced_by='our stored token expired and `fail_next: {"status": 503}`',
        level="error",
        sees=not_created(nonsense("Fakturoid is unavailable (HTTP 503): Temporarily Unavailable")),
        state=Invoice.State.FAILED,
        again=CREATED,
        start=expire_our_token_and(fail_next={"status": 503}),
        clear=switches(fail_next=None),
    ),
    Fault(
        name="429",
        fault="429 rate limit used up",
        produced_by='`rate_limit: {"quota": 1}` and one request before; '
        "FAKTUROID_MAX_RATE_LIMIT_WAIT=0",
        level="error",
        sees=not_created("Fakturoid's request limit is used up. Try again in"),
        state=Invoice.State.FAILED,
        again=CREATED,
        start=use_up_the_rate_limit,
        clear=start_a_new_rate_limit_window,
    ),
    Fault(
        name="401-expired-token",
        fault="401: the stored token expired early (one new token, the POST repeated)",
        produced_by="the sandbox's Token rows set to expired; ours still looks fresh",
        level="success",
        sees=CREATED,
        state=Invoice.State.CREATED,
        again=ALREADY,
        start=expire_the_token_in_fakturoid,
        new_tokens=1,
    ),
    Fault(
        name="402-blocked",
        fault="402 account blocked",
        produced_by="`blocked: true`",
        level="error",
        sees=not_created(
            "The Fakturoid account is blocked (unpaid Fakturoid subscription). Pay it in "
            "Fakturoid, then try again."
        ),
        state=Invoice.State.FAILED,
        again=CREATED,
        start=switches(blocked=True),
        clear=switches(blocked=False),
    ),
    Fault(
        name="403-no-bank-account",
        fault="403 no bank account on the Fakturoid account",
        produced_by="`bank_account: false`",
        level="error",
        sees=not_created(
            "Fakturoid needs a bank account first: Please set up a bank account in your "
            "Fakturoid account"
        ),
        state=Invoice.State.FAILED,
        again=CREATED,
        start=switches(bank_account=False),
        clear=switches(bank_account=True),
    ),
    Fault(
        name="422-unknown-contact",
        fault="422 the client's contact does not exist in Fakturoid",
        produced_by="the client linked to a subject id the sandbox does not have",
        level="error",
        sees=not_created("Fakturoid refused the data: subject_id: Contact does not exist."),
        state=Invoice.State.FAILED,
        again=CREATED,
        start=link_an_unknown_contact,
        clear=link_the_real_contact,
    ),
]


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(
            fault,
            id=fault.name,
            marks=pytest.mark.skipif(
                not fault.sqlite and connection.vendor == "sqlite",
                reason=SQLITE_SHARED_CONNECTION,
            ),
        )
        for fault in FAULTS
    ],
)
def test_a_fault_is_told_recorded_and_healed_by_the_next_click(scene, fault):
    tokens_before = Token.objects.count()
    fault.start(scene)

    level, text = scene.click()

    assert level == fault.level, text
    assert fault.sees in text
    assert Invoice.objects.get(custom_id=scene.custom_id).state == fault.state
    assert Token.objects.count() == tokens_before + fault.new_tokens

    # The sandbox may still be sleeping on a request the client gave up on.
    wait_for_live_server_threads()
    fault.clear(scene)
    if fault.at_once:
        calls = ApiCall.objects.count()
        level, text = scene.click()
        assert (level, fault.at_once in text) == ("warning", True), text
        assert ApiCall.objects.count() == calls  # nothing looked up or sent
        let_it_settle(scene)
    level, text = scene.click()

    assert fault.again in text, text
    assert_one_invoice_matching_our_record(scene)


# --- Garbage from Fakturoid (mocked: the sandbox always answers properly) ---------------------

ACCOUNT = f"{API}/accounts/acme"
HTML_PAGE = "<!DOCTYPE html><html><body><h1>Something went wrong</h1></body></html>"


@dataclass(frozen=True)
class Garbage(Fault):
    answer: dict | None = None  # the invoice POST's answer, as `responses` keywords
    token_answer: dict | None = None  # the token request's answer (the stored one expired)
    created: bool = True  # whether Fakturoid did create the invoice despite the answer


GARBAGE = [
    Garbage(
        name="201-html",
        fault="Invoice created, answer is an HTML page",
        produced_by="`responses`: POST invoices.json → 201 text/html",
        level="warning",
        sees=unconfirmed(nonsense("Fakturoid answered 201 with an HTML page instead of JSON.")),
        state=Invoice.State.UNKNOWN,
        again=CREATED,
        answer={"status": 201, "body": HTML_PAGE, "content_type": "text/html"},
    ),
    Garbage(
        name="201-invalid-json",
        fault="Invoice created, answer is invalid JSON",
        produced_by='`responses`: POST invoices.json → 201 `{"id": 5` (application/json)',
        level="warning",
        sees=unconfirmed(nonsense("Fakturoid answered 201 with invalid JSON instead of JSON.")),
        state=Invoice.State.UNKNOWN,
        again=CREATED,
        answer={"status": 201, "body": '{"id": 5', "content_type": "application/json"},
    ),
    Garbage(
        name="201-empty",
        fault="Invoice created, answer has an empty body",
        produced_by="`responses`: POST invoices.json → 201 with no body",
        level="warning",
        sees=unconfirmed(nonsense("Fakturoid answered 201 with an empty body instead of JSON.")),
        state=Invoice.State.UNKNOWN,
        again=CREATED,
        answer={"status": 201, "body": ""},
    ),
    Garbage(
        name="201-wrong-shape",
        fault="Invoice created, answer is JSON of the wrong shape",
        produced_by='`responses`: POST invoices.json → 201 `{"invoice": "ok"}`',
        level="warning",
        sees=unconfirmed(
            nonsense("Fakturoid answered with data in an unexpected shape (KeyError: 'id').")
        ),
        state=Invoice.State.UNKNOWN,
        again=CREATED,
        answer={"status": 201, "json": {"invoice": "ok"}},
    ),
    Garbage(
        name="502-html",
        fault="A proxy's HTML error page, nothing carried out",
        produced_by="`responses`: POST invoices.json → 502 text/html",
        level="warning",
        sees=unconfirmed(
            nonsense("Fakturoid is unavailable (HTTP 502, an HTML page instead of JSON).")
        ),
        state=Invoice.State.UNKNOWN,
        again=CREATED,
        answer={"status": 502, "body": HTML_PAGE, "content_type": "text/html"},
        created=False,
    ),
    Garbage(
        name="token-html",
        fault="The token request answered with an HTML page; the invoice is never sent",
        produced_by="`responses`: POST oauth/token → 200 text/html (stored token expired)",
        level="error",
        sees=not_created(nonsense("Fakturoid answered 200 with an HTML page instead of JSON.")),
        state=Invoice.State.FAILED,
        again=CREATED,
        token_answer={"status": 200, "body": HTML_PAGE, "content_type": "text/html"},
        created=False,
    ),
]


def invoice_json(custom_id: str) -> dict:
    data = copy.deepcopy(json.loads((FIXTURES / "invoice_created.json").read_text()))
    data.update(
        {
            "custom_id": custom_id,
            "number": "2026-0007",
            "subtotal": "15000.0",
            "total": "18150.0",
            "html_url": "https://app.fakturoid.cz/acme/invoices/529",
        }
    )
    return data


@pytest.fixture
def mocked_scene(api, settings, agency, connected, owner_http, make_client, make_project):
    client = make_client(agency, CLIENT_NAME, fakturoid_subject_id=16)
    project = make_project(client, "nakup.cz")
    project.billing_items.create(description="PPC management", amount=Decimal("15000"))
    return Scene("", owner_http, connected, client, 16, settings)


def garbled_lookup(answer: dict) -> dict:
    """The look-up right after a garbled answer is garbled the same way (the proxy or the
    service is still broken): the outcome stays unknown until the next click."""
    return {**answer, "status": 200 if answer["status"] < 300 else answer["status"]}


@pytest.mark.parametrize("garbage", [pytest.param(g, id=g.name) for g in GARBAGE])
def test_garbage_from_fakturoid_is_told_recorded_and_healed(api, mocked_scene, garbage):
    scene = mocked_scene
    invoices_url = f"{ACCOUNT}/invoices.json"
    if garbage.token_answer is not None:
        FakturoidSettings.objects.filter(pk=scene.fakturoid.pk).update(
            token_expires_at=timezone.now() - timedelta(minutes=1)
        )
        api.post(f"{API}/oauth/token", **garbage.token_answer)
    else:
        custom_id = matchers.json_params_matcher({"custom_id": scene.custom_id}, strict_match=False)
        api.post(invoices_url, match=[custom_id], **garbage.answer)
        api.get(invoices_url, **garbled_lookup(garbage.answer))

    level, text = scene.click()

    assert level == garbage.level, text
    assert garbage.sees in text
    assert Invoice.objects.get(custom_id=scene.custom_id).state == garbage.state
    if garbage.token_answer is not None:
        assert not [c for c in api.calls if c.request.url.startswith(invoices_url)]

    api.reset()
    if garbage.at_once:
        level, text = scene.click()
        assert (level, garbage.at_once in text) == ("warning", True), text
        assert not api.calls  # nothing looked up or sent
        let_it_settle(scene)
    if garbage.token_answer is not None:
        api.post(f"{API}/oauth/token", json={"access_token": TOKEN, "expires_in": 7200})
    if garbage.created:
        add_lookup(api, scene.custom_id, [invoice_json(scene.custom_id)])
    else:
        add_lookup(api, scene.custom_id, [])
        api.post(invoices_url, status=201, json=invoice_json(scene.custom_id))
    level, text = scene.click()

    assert garbage.again in text, text
    record = Invoice.objects.get(custom_id=scene.custom_id)
    assert (record.state, record.number, record.total) == ("created", "2026-0007", Decimal("18150"))
    assert record.html_url == "https://app.fakturoid.cz/acme/invoices/529"
    posts = [c for c in api.calls if c.request.method == "POST" and c.request.url == invoices_url]
    assert len(posts) == (0 if garbage.created else 1)  # one that exists is found, not repeated


# --- Tokens invalidated by someone else mid-run -----------------------------------------------


def token_requests() -> int:
    """Token requests our client made, from its API call log."""
    return ApiCall.objects.filter(path="/oauth/token").count()


def test_a_token_invalidated_by_another_process_is_replaced_once(scene):
    """Another program with the same credentials (another installation, a script) takes a new
    token, which revokes ours: the next call gets 401, takes one new token and succeeds."""
    ours = FakturoidClient(scene.fakturoid)
    ours.get_account()
    held = scene.fakturoid.access_token
    answer = requests.post(
        f"{scene.api_url}/oauth/token",
        json={"grant_type": "client_credentials"},
        headers={
            "User-Agent": USER_AGENT,
            "Authorization": basic_auth(
                scene.fakturoid.api_client_id, scene.fakturoid.api_client_secret
            ),
            "Connection": "close",
        },
        timeout=5,
    )
    wait_for_live_server_threads()
    assert answer.status_code == 200
    assert Token.objects.get(token=held).revoked
    tokens_before, requests_before = Token.objects.count(), token_requests()

    account = ours.get_account()

    assert account.slug == "acme"
    assert Token.objects.count() == tokens_before + 1
    assert token_requests() == requests_before + 1
    stored = FakturoidSettings.objects.get(pk=scene.fakturoid.pk)
    assert stored.access_token not in (held, answer.json()["access_token"])
    assert not Token.objects.get(token=stored.access_token).revoked
    statuses = list(
        ApiCall.objects.filter(path="/accounts/acme/account.json")
        .order_by("pk")
        .values_list("status", flat=True)
    )
    assert statuses[-2:] == [401, 200]


def test_a_token_our_other_process_stored_is_reused_without_asking(scene):
    """An owner re-verifies Settings → Fakturoid while an invoice run holds the old token:
    the run gets 401, finds the newer token in the database and uses it (no new token)."""
    run = FakturoidClient(scene.fakturoid)
    held = scene.fakturoid.access_token

    connection_service.connect(
        fakturoid=FakturoidSettings.objects.get(pk=scene.fakturoid.pk), credentials_changed=False
    )
    wait_for_live_server_threads()
    stored = FakturoidSettings.objects.get(pk=scene.fakturoid.pk).access_token
    assert stored != held
    assert Token.objects.get(token=held).revoked
    tokens_before, requests_before = Token.objects.count(), token_requests()

    run.get_account()

    assert Token.objects.count() == tokens_before
    assert token_requests() == requests_before
    assert run.fakturoid.access_token == stored


# --- docs/reliability.md is the table of these cases ------------------------------------------

TABLE_HEADER = (
    "| Fault | How it is produced | What the user sees | Local state after the fault "
    "| The user clicks again at once "
    "| After the fault clears and the settle time passed, the user clicks again |\n"
    "| --- | --- | --- | --- | --- | --- |"
)


def fault_table() -> str:
    """The fault table of docs/reliability.md, generated from FAULTS and GARBAGE."""
    return "\n".join([TABLE_HEADER, *(case.row() for case in [*FAULTS, *GARBAGE])])


def test_the_reliability_doc_shows_every_fault_case_as_tested():
    """UPDATE_RELIABILITY_DOC=1 writes the table into the doc instead of comparing."""
    text = DOC.read_text()
    markers = re.compile(r"(<!-- faults:begin -->\n)(.*?)(\n<!-- faults:end -->)", re.S)
    match = markers.search(text)
    assert match, "docs/reliability.md lost its <!-- faults:begin/end --> markers"
    if os.environ.get("UPDATE_RELIABILITY_DOC"):
        DOC.write_text(text[: match.start(2)] + fault_table() + text[match.end(2) :])
        return
    assert match[2] == fault_table(), (
        "docs/reliability.md does not show the cases as tested; regenerate its table with "
        "UPDATE_RELIABILITY_DOC=1 .venv/bin/pytest tests/test_reliability_faults.py -k doc"
    )
