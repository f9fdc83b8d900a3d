"""The screens at a phone's size and the client form's rows added on demand, in Debian's
chromium against the live server (issue 14: phones, a light client form).

With SQLite the live server shares the test's database connection: the database is read only
after the browser context is closed.
"""

from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from agencies.models import FakturoidSettings
from clients.models import BillingItem, Client
from tests.support import PASSWORD
from tests.support.live_server import (
    TIMEOUT_MS,
    client_row,
    log_in,
    step,
)

PHONE = {"width": 390, "height": 844}
AXE = Path(__file__).parent / "support" / "axe" / "axe.min.js"
# What axe reports, reduced to what a failure message needs.
AXE_RUN = """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
  .filter(v => v.impact === "serious" || v.impact === "critical")
  .map(v => `${v.impact} ${v.id}: ${v.help} — ${v.nodes.slice(0, 3).map(n => n.target)}`)"""

pytestmark = pytest.mark.e2e


def open_page(browser: Browser, live_server, viewport: dict) -> Page:  # noqa: ANN001
    context = browser.new_context(base_url=live_server.url, locale="en-US", viewport=viewport)
    context.set_default_timeout(TIMEOUT_MS)
    context.route("**/favicon.ico", lambda route: route.fulfill(status=204))
    return context.new_page()


@pytest.fixture
def shop(transactional_db, agency, make_client, make_project, make_item) -> Client:
    """A linked client with a long name, a project and two items, and Fakturoid set up."""
    FakturoidSettings.objects.create(
        agency=agency,
        account_slug="acme",
        api_client_id="id",
        api_client_secret="secret",
        vat_mode=FakturoidSettings.VatMode.VAT_PAYER,
        currency="CZK",
        account_name="Acme Agency s.r.o.",
        verified_at=timezone.now(),
    )
    client = make_client(
        agency,
        "Mazlíček – potřeby pro zvířata s.r.o.",
        registration_no="08541264",
        email="fakturace-velmi-dlouha-adresa@mazlicek-potreby.cz",
        fakturoid_subject_id=16,
    )
    project = make_project(client, "mazlicek-potreby-pro-zvirata.cz")
    make_item(project, "Google Ads management", "14500")
    make_item(project, "Sklik management", "6500")
    return client


def assert_fits(page: Page) -> None:
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"the page is {width[0]} px wide at {width[1]} px"


def test_it_fits_a_phone_without_sideways_scrolling(browser, live_server, owner, shop):
    page = open_page(browser, live_server, PHONE)
    log_in(page, username=owner.username, password=PASSWORD)

    with step(page, "the clients list"):
        assert_fits(page)
        header = page.locator("header").bounding_box()
        assert header["height"] <= PHONE["height"] / 6
        row = client_row(page, shop.name)
        for needed in (
            row.get_by_role("link", name=shop.name),
            row.get_by_role("link", name="Edit client"),
            row.get_by_role("button", name=f"Create invoice for {_month(page)} in Fakturoid"),
        ):
            expect(needed).to_be_in_viewport()
    for name, path in (
        ("the client form", f"/clients/{shop.pk}/edit/"),
        ("a new client", "/clients/new/"),
        ("the client's page", f"/clients/{shop.pk}/"),
    ):
        with step(page, name):
            page.goto(path)
            assert_fits(page)
    with step(page, "a menu opened on a phone stays on the screen"):
        page.get_by_role("navigation", name="Main").get_by_text("Settings", exact=True).click()
        expect(page.get_by_role("link", name="Integration log")).to_be_in_viewport(ratio=1)
        assert_fits(page)
    page.context.close()


def _month(page: Page) -> str:
    value = page.get_by_label("Billing month").input_value()  # YYYY-MM
    return f"{value[5:]}/{value[:4]}"


def test_the_client_form_adds_rows_on_demand(browser, live_server, owner, shop):
    page = open_page(browser, live_server, {"width": 1280, "height": 900})
    log_in(page, username=owner.username, password=PASSWORD)
    page.goto(f"/clients/{shop.pk}/edit/")

    with step(page, "an item for the existing project"):
        project = page.locator("fieldset.project").first
        project.get_by_role("button", name="Add item").click()
        page.locator("[name=projects-0-items-2-description]").fill("Audit")
        page.locator("[name=projects-0-items-2-amount]").fill("3000")
    with step(page, "a new project with two items"):
        page.get_by_role("button", name="Add project").click()
        page.locator("[name=projects-1-name]").fill("Blog")
        page.locator("[name=projects-1-items-0-description]").fill("Articles")
        page.locator("[name=projects-1-items-0-amount]").fill("4000")
        page.locator("fieldset.project").nth(1).get_by_role("button", name="Add item").click()
        page.locator("[name=projects-1-items-1-description]").fill("Photos")
        page.locator("[name=projects-1-items-1-amount]").fill("500")
        page.get_by_role("button", name="Save", exact=True).click()
        expect(page.get_by_text(f"{shop.name} was saved.")).to_be_visible()
    page.context.close()

    items = BillingItem.objects.filter(project__client=shop)
    assert sorted((item.project.name, item.description, item.amount) for item in items) == [
        ("Blog", "Articles", Decimal("4000")),
        ("Blog", "Photos", Decimal("500")),
        ("mazlicek-potreby-pro-zvirata.cz", "Audit", Decimal("3000")),
        ("mazlicek-potreby-pro-zvirata.cz", "Google Ads management", Decimal("14500")),
        ("mazlicek-potreby-pro-zvirata.cz", "Sklik management", Decimal("6500")),
    ]


def serious_violations(page: Page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    return page.evaluate(AXE_RUN)


@pytest.mark.parametrize("language", ["en-US", "cs-CZ"])
@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, PHONE], ids=["wide", "phone"])
def test_the_pages_have_no_serious_accessibility_violations(
    browser, live_server, owner, shop, language, viewport
):
    context = browser.new_context(base_url=live_server.url, locale=language, viewport=viewport)
    context.set_default_timeout(TIMEOUT_MS)
    context.route("**/favicon.ico", lambda route: route.fulfill(status=204))
    page = context.new_page()
    page.goto("/login/")
    page.locator("#id_username").fill(owner.username)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(f"{live_server.url}/")
    month = timezone.localdate().replace(day=1)
    found = {}
    for path in (
        "/",
        f"/clients/{shop.pk}/edit/",
        "/clients/new/",
        f"/clients/{shop.pk}/",
        f"/fakturoid/clients/{shop.pk}/invoice/{month:%Y-%m}/",
        "/agency/settings/fakturoid/",
        "/fakturoid/invoices/",
        "/dashboard/",
    ):
        with step(page, f"axe on {path}"):
            page.goto(path)
            found[path] = serious_violations(page)
    context.close()

    assert {path: issues for path, issues in found.items() if issues} == {}
