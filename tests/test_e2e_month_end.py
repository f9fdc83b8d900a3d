"""End to end: Invoicing → Month-end run in Debian's chromium, worked by a real `db_worker`
against the sandbox on the live server. The review, leaving a client out, e-mail sending, the
live progress view (also after a reload), the runs list; and the pages at 1280 and 390 px in
English and Czech, never scrolling sideways on a phone.

PostgreSQL only: the worker is another process (SQLite's in-memory test database lives in this
one). Set SCREENSHOTS_DIR to keep the screenshots.
"""

import os
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection
from playwright.sync_api import Browser, Page, expect

from clients.models import Client, Project
from fakturoid.models import InvoiceRun
from fakturoid_sandbox.control import ensure_subject, update_state
from fakturoid_sandbox.models import Invoice as SandboxInvoice
from tests.support import PASSWORD
from tests.support import live_server as live_server_support
from tests.support.live_server import (
    TIMEOUT_MS,
    connect_to_live_sandbox,
    log_in,
    step,
    wait_for_live_server_threads,
)
from tests.support.workers import start_worker, stop_worker

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.usefixtures("sandbox_on"),
    pytest.mark.skipif(
        connection.vendor == "sqlite",
        reason="The run is worked by a db_worker process: SQLite's in-memory test database "
        "cannot be shared with it (CI runs this on PostgreSQL)",
    ),
]

NAMES = ["Alfa s.r.o.", "Beta s.r.o.", "Gama s.r.o.", "Delta s.r.o."]
LEFT_OUT = "Gama s.r.o."
INVOICED = len(NAMES) - 1


@pytest.fixture
def scene(live_server, settings, monkeypatch, agency, owner_http):
    # The app's own timeouts: these tests fault the workers, not the test's set-up (on a busy
    # machine the first token request can take longer than the fault tests' half second).
    monkeypatch.setattr(live_server_support, "READ_TIMEOUT", 5)
    scene = connect_to_live_sandbox(
        live_url=live_server.url,
        settings=settings,
        monkeypatch=monkeypatch,
        agency=agency,
        http=owner_http,
    )
    for index, name in enumerate(NAMES):
        subject = ensure_subject(
            "acme",
            name=name,
            registration_no=f"{20000000 + index}",
            email=f"billing{index}@example.com",
        )
        client = Client.objects.create(
            agency=agency,
            name=name,
            registration_no=f"{20000000 + index}",
            email=f"billing{index}@example.com",
            fakturoid_subject_id=subject.pk,
        )
        Project.objects.create(client=client, name="shop").billing_items.create(
            description="PPC management", amount=Decimal(5000 + 1000 * index), vat_rate=21
        )
    update_state("acme", delay_ms=400)  # slow enough to watch the rows fill in
    scene.worker = start_worker(api_url=scene.api_url)
    yield scene
    stop_worker(scene.worker)
    wait_for_live_server_threads()


def open_page(browser: Browser, base_url: str, *, width: int, locale: str) -> Page:
    context = browser.new_context(
        base_url=base_url,
        locale=locale,
        viewport={"width": width, "height": 900},
        extra_http_headers={"Accept-Language": locale},
    )
    context.set_default_timeout(TIMEOUT_MS)
    context.route("**/favicon.ico", lambda route: route.fulfill(status=204))
    return context.new_page()


def look_at(page: Page, name: str) -> None:
    """No sideways scrolling; a screenshot when SCREENSHOTS_DIR is set."""
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{name}: the page scrolls sideways by {overflow} px"
    folder = os.environ.get("SCREENSHOTS_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=f"{folder}/{name}.png", full_page=True)


def test_it_runs_the_month_from_review_to_live_progress(browser, scene, owner, live_server):
    page = open_page(browser, live_server.url, width=1280, locale="en-US")
    log_in(page, username=owner.username, password=PASSWORD)
    with step(page, "review"):
        page.get_by_text("Invoicing", exact=True).click()
        page.get_by_role("link", name="Month-end run").click()
        page.get_by_label("Billing month").fill("2026-10")
        page.get_by_role("button", name="Review").click()
        rows = page.locator("table.run-review tbody tr")
        expect(rows).to_have_count(len(NAMES) + 1)
        expect(rows.filter(has_text="will be invoiced")).to_have_count(len(NAMES))
        # The scene's first client has no IČO: shown, but left out unless ticked.
        expect(rows.filter(has_text="needs attention")).to_contain_text("no IČO")
        expect(page.locator("table.run-totals")).to_contain_text("CZK")
        look_at(page, "review-en-1280")
    with step(page, "leave a client out, send by e-mail, start"):
        page.get_by_label(LEFT_OUT).uncheck()
        page.get_by_label("Also send each invoice to the client by e-mail", exact=False).check()
        page.get_by_role("button", name="Start the run").click()
        expect(page.get_by_role("heading", name="Month-end run 10/2026")).to_be_visible()
        expect(page.locator("#count-total")).to_have_text(str(INVOICED))
    with step(page, "the rows fill in while the worker works"):
        expect(page.locator("#count-created")).to_have_text(str(INVOICED), timeout=30_000)
        expect(page.locator("#run-state")).to_have_text("finished")
        numbers = page.locator("table.run-items td.invoice a")
        expect(numbers).to_have_count(INVOICED)
        expect(page.locator("table.run-items")).not_to_contain_text(LEFT_OUT)
        expect(page.locator("table.run-items .email").first).to_have_text("sent")
        look_at(page, "progress-en-1280")
    with step(page, "a reload and another browser show the same"):
        url = page.url
        page.reload()
        expect(page.locator("#count-created")).to_have_text(str(INVOICED))
        other = open_page(browser, live_server.url, width=390, locale="cs")
        log_in_czech(other, owner.username)
        other.goto(url)
        expect(other.locator("#run-state")).to_have_text("dokončen")
        look_at(other, "progress-cs-390")
        other.goto("/invoicing/month-end/?month=2026-10")
        expect(other.locator("table.run-review")).to_contain_text("už vyfakturován")
        look_at(other, "review-cs-390")
        other.goto("/invoicing/runs/")
        expect(other.locator("table.run-list")).to_contain_text(owner.username)
        look_at(other, "runs-cs-390")
        other.context.close()
    page.context.close()
    wait_for_live_server_threads()
    run = InvoiceRun.objects.get()
    assert run.started_by == owner and run.send_email
    invoices = SandboxInvoice.objects.filter(account__slug="acme")
    assert invoices.count() == INVOICED
    assert set(invoices.values_list("status", flat=True)) == {"sent"}


def log_in_czech(page: Page, username: str) -> None:
    page.goto("/login/")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form button[type=submit]").last.click()
    expect(page).not_to_have_url(re.compile(r"/login/"))
