"""End to end: "Fill from ARES" on the client form in Debian's chromium, with the app asking the
ARES stand-in served by the same live server; with the page's script and without it.

With SQLite the live server shares the test's database connection: the database is read only
after the browser is closed.
"""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from clients.models import Client
from fakturoid_sandbox.testing import sandbox_mounted
from registries_sandbox.control import reset_switches, update_switches
from tests.support import PASSWORD
from tests.support.live_server import (
    TIMEOUT_MS,
    log_in,
    messages,
    step,
    wait_for_live_server_threads,
)


@pytest.fixture
def ares(browser, live_server, settings, transactional_db) -> Iterator[None]:
    """The app asking the ARES stand-in on the live server."""
    with sandbox_mounted(True):
        settings.ARES_API_URL = f"{live_server.url}/sandbox/ares/ekonomicke-subjekty-v-be/rest"
        settings.REGISTRIES_READ_TIMEOUT = 1.0
        yield
        wait_for_live_server_threads()
        reset_switches()


def open_page(browser: Browser, live_server, *, javascript: bool) -> Page:
    context = browser.new_context(
        base_url=live_server.url, locale="en-US", java_script_enabled=javascript
    )
    context.set_default_timeout(TIMEOUT_MS)
    context.route("**/favicon.ico", lambda route: route.fulfill(status=204))
    return context.new_page()


def field(page: Page, name: str) -> Locator:
    """A billing detail's input (labels like "Name" recur in the contacts and projects)."""
    return page.locator(f"#id_{name}")


def close_browser(page: Page) -> None:
    page.context.close()
    wait_for_live_server_threads()


@pytest.mark.e2e
@pytest.mark.parametrize("javascript", [True, False], ids=["script", "no-script"])
def test_it_fills_a_new_client_from_ares_after_showing_the_changes(
    browser, live_server, ares, agency, owner, javascript
):
    page = open_page(browser, live_server, javascript=javascript)
    log_in(page, username=owner.username, password=PASSWORD)

    with step(page, "type an IČO and the e-mail, ask ARES"):
        page.goto("/clients/new/")
        field(page, "registration_no").fill("26148731")
        field(page, "email").fill("fakturace@kavovarhruby.cz")
        page.get_by_role("button", name="Fill from ARES").click()
        proposal = page.locator(".ares-proposal")
        expect(proposal).to_contain_text("ARES: Kávovar Hrubý s.r.o., IČO 26148731")
        changes = proposal.locator("table.ares-changes tbody tr")
        expect(changes).to_have_count(5)  # name, DIČ, street, city, ZIP (country is CZ)
        expect(proposal).to_contain_text("Lidická 700/42")
        # Nothing changed yet, and what was typed is kept.
        expect(field(page, "name")).to_have_value("")
        expect(field(page, "email")).to_have_value("fakturace@kavovarhruby.cz")

    with step(page, "apply the changes"):
        page.get_by_role("button", name="Apply these changes").click()
        expect(field(page, "name")).to_have_value("Kávovar Hrubý s.r.o.")
        expect(field(page, "vat_no")).to_have_value("CZ26148731")
        expect(field(page, "street")).to_have_value("Lidická 700/42")
        expect(field(page, "city")).to_have_value("Brno")
        expect(field(page, "zip")).to_have_value("602 00")
        expect(page.get_by_text("Filled in from ARES. Check the details and save.")).to_be_visible()

    with step(page, "save"):
        page.get_by_role("button", name="Save", exact=True).click()
        expect(messages(page)).to_contain_text("Kávovar Hrubý s.r.o. was saved.")

    close_browser(page)
    client = Client.objects.get(agency=agency)
    assert (client.name, client.vat_no, client.street, client.zip, client.email) == (
        "Kávovar Hrubý s.r.o.",
        "CZ26148731",
        "Lidická 700/42",
        "602 00",
        "fakturace@kavovarhruby.cz",
    )


@pytest.mark.e2e
@pytest.mark.parametrize("javascript", [True, False], ids=["script", "no-script"])
def test_it_says_ares_is_down_and_the_form_still_saves(
    browser, live_server, ares, agency, owner, javascript
):
    update_switches("ares", fail_next={"status": 503, "count": 1})
    page = open_page(browser, live_server, javascript=javascript)
    log_in(page, username=owner.username, password=PASSWORD)

    with step(page, "ask ARES while it is down"):
        page.goto("/clients/new/")
        field(page, "registration_no").fill("26148731")
        field(page, "name").fill("Kávovar Hrubý")
        page.get_by_role("button", name="Fill from ARES").click()
        expect(page.locator("#ares-error")).to_contain_text(
            "ARES is not working right now (error 503). Try again later, or fill in the "
            "details by hand."
        )
        expect(field(page, "name")).to_have_value("Kávovar Hrubý")

    with step(page, "save what was typed"):
        page.get_by_role("button", name="Save", exact=True).click()
        expect(messages(page)).to_contain_text("Kávovar Hrubý was saved.")

    close_browser(page)
    assert Client.objects.get(agency=agency).registration_no == "26148731"
