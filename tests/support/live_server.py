"""Tests against the live server: waiting for its request threads, an agency connected to the
sandbox over a real socket (the reliability tests), and the browser tests' helpers (where
Debian's chromium is, how it is launched, and the steps a user takes).

The browser fixtures live in `test_e2e_invoicing.py`; `conftest.py` skips the e2e tests when
chromium is missing (unless E2E_REQUIRED is set, as in CI: then they fail).
"""

import os
import re
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import requests
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Browser, Locator, Page, expect

from agencies.models import Agency, FakturoidSettings
from clients.models import Client, Project
from fakturoid import client as client_module
from fakturoid.client import FakturoidClient
from fakturoid_sandbox.control import ensure_account, ensure_subject
from tests.support import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
TIMEOUT_MS = 10_000
SKIP_REASON = (
    "Browser tests were not run: Debian's chromium is not installed (apt-get install chromium), "
    "then run `make e2e`."
)
REQUIRED_MESSAGE = (
    f"Browser tests must run here (E2E_REQUIRED is set) but Debian's chromium is not installed "
    f"at {CHROMIUM}: apt-get install chromium."
)


def chromium_installed() -> bool:
    return os.access(CHROMIUM, os.X_OK)


def e2e_required() -> bool:
    return bool(os.environ.get("E2E_REQUIRED"))


@contextmanager
def step(page: Page, name: str) -> Iterator[None]:
    """One step of the user's guide: when it fails, a screenshot is saved in a temp folder and
    its path is added to the error."""
    try:
        yield
    except Exception as error:
        folder = Path(tempfile.mkdtemp(prefix="e2e-"))
        path = folder / (re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") + ".png")
        try:
            page.screenshot(path=str(path), full_page=True)
        except Exception:  # the step's own error is what matters, not the screenshot's
            pass
        else:
            error.add_note(f"Screenshot of the failed step {name!r}: {path}")
        raise


def log_in(page: Page, *, username: str, password: str) -> None:
    """Log in through the login form; lands on the clients list."""
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page.get_by_role("heading", name="Clients", exact=True)).to_be_visible()


def messages(page: Page) -> Locator:
    """The flashed messages of the page."""
    return page.locator("ul.messages")


def client_row(page: Page, name: str) -> Locator:
    """The clients list's row of the client called `name`."""
    link = page.get_by_role("link", name=name, exact=True)
    return page.locator("table.clients tbody tr").filter(has=link)


def show_month(page: Page, month_iso: str) -> None:
    """Pick the billing month above the clients list."""
    page.get_by_label("Billing month").fill(month_iso)
    page.get_by_role("button", name="Filter", exact=True).click()
    expect(page.get_by_label("Billing month")).to_have_value(month_iso)
    expect(page).to_have_url(re.compile(rf"[?&]month={month_iso}\b"))


# --- The live server ------------------------------------------------------------------------

PERIOD = "2026-10"
CLIENT_NAME = "Nakup s.r.o."
READ_TIMEOUT = 0.5  # seconds; the fault tests' delays are twice as long


def wait_for_live_server_threads(limit: float = 30) -> None:
    """Wait until the live server has finished every request it is still handling.

    With SQLite the live server shares the test's database connection, and it closes it after
    each request: a test must neither touch the database nor end while a request thread runs.
    """
    deadline = time.monotonic() + limit
    while any(thread.name.endswith("(process_request_thread)") for thread in threading.enumerate()):
        busy = [t.name for t in threading.enumerate() if t.name.endswith("request_thread)")]
        assert time.monotonic() < deadline, f"the live server did not finish: {busy}"
        time.sleep(0.01)


class ClosingSession(requests.Session):
    """A `requests` session with one connection per request, for the app and the tests.

    An idle kept-alive connection would hold a live-server thread open (the tests wait for
    those threads to end). The server closes the connection after a "Connection: close"
    request without saying so in its answer, so the session drops its connection itself:
    reused, it may be closed under the next request.
    """

    def __init__(self) -> None:
        super().__init__()
        self.headers["Connection"] = "close"

    def request(self, *args, **kwargs) -> requests.Response:
        try:
            return super().request(*args, **kwargs)
        finally:
            self.close()


@dataclass
class Scene:
    live_url: str
    http: HttpClient
    fakturoid: FakturoidSettings
    client: Client
    subject_id: int
    settings: object

    @property
    def api_url(self) -> str:
        return f"{self.live_url}/sandbox/fakturoid/api/v3"

    @property
    def custom_id(self) -> str:
        return f"{self.client.agency.key}-c{self.client.pk}-{PERIOD}"

    def click(self) -> tuple[str, str]:
        """Click the invoice icon; returns the one flashed message as (level, text)."""
        response = self.http.post(
            reverse("fakturoid:invoice_create", args=[self.client.pk]), {"period": PERIOD}
        )
        assert response.status_code == 302
        assert response["Location"] == f"/?month={PERIOD}"
        [message] = get_messages(response.wsgi_request)
        page = self.http.get(response["Location"])  # shows (and so uses up) the message
        assert page.status_code == 200
        assert f'<li class="message {message.level_tag}">' in page.content.decode()
        return message.level_tag, str(message)


def connect_to_live_sandbox(
    *, live_url: str, settings, monkeypatch, agency: Agency, http: HttpClient
) -> Scene:
    """The agency connected to the sandbox account "acme" on the live server (token stored),
    with one linked client billed 15 000 CZK a month."""
    settings.FAKTUROID_API_URL = f"{live_url}/sandbox/fakturoid/api/v3"
    settings.FAKTUROID_READ_TIMEOUT = READ_TIMEOUT
    settings.FAKTUROID_CONNECT_TIMEOUT = READ_TIMEOUT
    settings.FAKTUROID_MAX_RATE_LIMIT_WAIT = 0
    monkeypatch.setattr(client_module, "_sleep", lambda seconds: None)  # GET retry back-off
    monkeypatch.setattr(client_module.requests, "Session", ClosingSession)
    credential = ensure_account("acme", name="Acme s.r.o.")
    subject = ensure_subject("acme", name=CLIENT_NAME, registration_no="12345678")
    fakturoid = FakturoidSettings.objects.create(
        agency=agency,
        account_slug="acme",
        api_client_id=credential.client_id,
        api_client_secret=credential.client_secret,
        contact_email="billing@acme.example",
        vat_mode=FakturoidSettings.VatMode.VAT_PAYER,
        currency="CZK",
        verified_at=timezone.now(),
    )
    client = Client.objects.create(agency=agency, name=CLIENT_NAME, fakturoid_subject_id=subject.pk)
    project = Project.objects.create(client=client, name="nakup.cz")
    project.billing_items.create(description="PPC management", amount=Decimal("15000"))
    FakturoidClient(fakturoid).get_account()  # connected: the token is stored
    wait_for_live_server_threads()
    fakturoid.refresh_from_db()
    return Scene(live_url, http, fakturoid, client, subject.pk, settings)


# --- Simultaneous callers ---------------------------------------------------------------------

TIMEOUT = 30  # seconds: any request, barrier or join that takes longer fails the test


def run_at_once(work, count: int = 10) -> list:
    """Run `work(i)` in `count` threads released together; returns each result or exception."""
    barrier = threading.Barrier(count, timeout=TIMEOUT)
    results: list = [None] * count

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as exc:  # reported by the caller's assertions
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a caller hung"
    return results


def logged_in_session(base_url: str, username: str) -> requests.Session:
    """A browser of its own: logged in through the login form, with its CSRF token."""
    session = ClosingSession()
    form = session.get(f"{base_url}/login/", timeout=TIMEOUT)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)[1]
    answer = session.post(
        f"{base_url}/login/",
        data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert answer.status_code == 302, answer.text
    return session


@contextmanager
def launched_chromium() -> Iterator[Browser]:
    """Debian's chromium under Playwright's sync API (fails when it must run and is missing).

    Use it in a module-scoped fixture: while Playwright runs, its asyncio loop counts as
    running in this thread, which would change how later test modules' Django code behaves.
    """
    import pytest
    from playwright.sync_api import sync_playwright

    if not chromium_installed():
        pytest.fail(REQUIRED_MESSAGE, pytrace=False)
    expect.set_options(timeout=TIMEOUT_MS)
    with pytest.MonkeyPatch.context() as patch:
        # Without this Django refuses the tests' ORM calls (SynchronousOnlyOperation).
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            yield browser
            browser.close()
