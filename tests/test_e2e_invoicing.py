"""End to end: the user's guide walked in Debian's chromium against the live server, with the app
talking to the Fakturoid sandbox served by that same server.

1. Settings → Fakturoid: a wrong Secret ID is pointed at, the right one connects.
2. Clients → pencil icon → Match automatically: linked on IČO; namesakes make the user pick.
3. Clients list → invoice icon for a month: the invoice is in "Fakturoid" with the right lines
   and total, and a second click (a stale tab, the preview page) never makes a second one.

With SQLite the live server shares the test's database connection: the database is read only
after the browser is closed, never while a page may still be loading.
"""

import re
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from agencies.models import FakturoidSettings
from clients.models import BillingItem, Client
from clients.months import first_day, format_month, iso_month, next_month, previous_month
from fakturoid.models import Invoice, invoice_custom_id
from fakturoid_sandbox.control import ensure_account, ensure_subject
from fakturoid_sandbox.models import Credential
from fakturoid_sandbox.models import Invoice as SandboxInvoice
from fakturoid_sandbox.testing import sandbox_mounted
from tests.support import PASSWORD
from tests.support.live_server import (
    client_row,
    log_in,
    messages,
    show_month,
    step,
)

SLUG = "acme-e2e"
ACCOUNT_NAME = "Acme Agency s.r.o."
CENT = Decimal("0.01")


# --- The browser, the sandbox and the agency --------------------------------------------------


@pytest.fixture
def sandbox(browser, live_server, settings, transactional_db) -> Iterator[Credential]:
    """The app pointed at the sandbox on the live server; returns the account's credential."""
    with sandbox_mounted(True):
        settings.FAKTUROID_API_URL = f"{live_server.url}/sandbox/fakturoid/api/v3"
        settings.FAKTUROID_CONTACT_EMAIL = "ops@backoffice.example"
        yield ensure_account(SLUG, name=ACCOUNT_NAME)


@pytest.fixture
def connected_to_sandbox(sandbox: Credential, agency) -> FakturoidSettings:
    """The agency connected to the sandbox account the way Settings → Fakturoid leaves it."""
    return FakturoidSettings.objects.create(
        agency=agency,
        account_slug=SLUG,
        api_client_id=sandbox.client_id,
        api_client_secret=sandbox.client_secret,
        vat_mode=FakturoidSettings.VatMode.VAT_PAYER,
        currency="CZK",
        account_name=ACCOUNT_NAME,
        verified_at=timezone.now(),
    )


def close_browser(page: Page) -> None:
    """Close the browser's connections: from here on the test may read the database."""
    page.context.close()


# --- 1. Settings → Fakturoid ------------------------------------------------------------------


@pytest.mark.e2e
def test_it_connects_fakturoid_in_settings_after_pointing_at_a_wrong_secret(
    page: Page, sandbox: Credential, agency, owner
):
    log_in(page, username=owner.username, password=PASSWORD)

    with step(page, "open Settings → Fakturoid from the header"):
        nav = page.get_by_role("navigation", name="Main")
        nav.locator("summary", has_text="Settings").click()
        nav.get_by_role("link", name="Fakturoid", exact=True).click()
        expect(page.get_by_role("heading", name="Settings → Fakturoid", level=1)).to_be_visible()
        expect(page.locator("#connection-state")).to_contain_text("Not connected")

    with step(page, "save with a wrong Secret ID"):
        page.get_by_label("Organisation name").fill(f"https://app.fakturoid.cz/{SLUG}/invoices")
        page.get_by_label("Payment due date").fill("21")
        page.get_by_label("Client ID").fill(sandbox.client_id)
        page.get_by_label("Secret ID").fill("not-the-secret-" + sandbox.client_secret[:8])
        page.get_by_role("button", name="Save and verify").click()
        secret_field = page.locator(".field").filter(has=page.locator("#id_api_client_secret"))
        expect(secret_field.locator(".errorlist")).to_contain_text(
            "Fakturoid does not accept this Client ID and Secret ID."
        )
        expect(page.locator(".errorlist")).to_have_count(1)
        expect(page.locator("#connection-state")).to_contain_text("Not connected")
        expect(page.get_by_label("Client ID")).to_have_value(sandbox.client_id)
        expect(page.get_by_label("Secret ID")).to_have_value("")

    with step(page, "save with the right Secret ID"):
        page.get_by_label("Secret ID").fill(sandbox.client_secret)
        page.get_by_role("button", name="Save and verify").click()
        expect(messages(page)).to_contain_text(f"Connected to Fakturoid: {ACCOUNT_NAME}.")
        state = page.locator("#connection-state")
        expect(state.locator(".badge")).to_have_text("Connected")
        expect(state).to_contain_text(f"Fakturoid account {ACCOUNT_NAME} ({SLUG})")
        expect(page.get_by_label("Organisation name")).to_have_value(SLUG)
        expect(page.get_by_label("Payment due date")).to_have_value("21")
        expect(page.get_by_label("Secret ID")).to_have_value("")

    close_browser(page)
    fakturoid = FakturoidSettings.objects.get(agency=agency)
    assert (fakturoid.account_slug, fakturoid.due_days) == (SLUG, 21)
    assert fakturoid.api_client_id == sandbox.client_id
    assert fakturoid.api_client_secret == sandbox.client_secret
    assert fakturoid.account_name == ACCOUNT_NAME
    assert fakturoid.verified_at is not None
    assert fakturoid.access_token


# --- 2. Linking clients to Fakturoid contacts -------------------------------------------------


@pytest.mark.e2e
def test_it_links_a_client_on_its_ico_and_lets_the_user_pick_among_namesakes(
    page: Page, connected_to_sandbox, agency, owner, make_client
):
    alza_contact = ensure_subject(
        SLUG,
        name="Alza.cz a.s.",
        registration_no="27082440",
        vat_no="CZ27082440",
        email="ucetni@alza.cz",
        city="Praha",
    )
    garden_praha = ensure_subject(
        SLUG, name="Green Garden s.r.o.", registration_no="45274649", city="Praha"
    )
    garden_brno = ensure_subject(
        SLUG, name="Green Garden s.r.o.", registration_no="26168685", city="Brno"
    )
    # Found by the name search, but its name is not the client's: never a candidate.
    ensure_subject(SLUG, name="Green Garden Tools s.r.o.", city="Ostrava")
    # Named differently from its contact: only the IČO can find it.
    alza = make_client(agency, "Alza", registration_no="27082440", email="")
    garden = make_client(agency, "Green Garden s.r.o.", registration_no="", email="")

    log_in(page, username=owner.username, password=PASSWORD)

    with step(page, "match a client on its IČO"):
        client_row(page, "Alza").get_by_role("link", name="Edit client").click()
        expect(page.get_by_role("heading", name="Edit Alza", level=1)).to_be_visible()
        card = page.locator("#fakturoid-link")
        expect(card).to_contain_text("Not linked")
        card.get_by_role("button", name="Match automatically").click()
        expect(messages(page)).to_contain_text(
            f"Linked to the Fakturoid contact Alza.cz a.s. (#{alza_contact.pk}), matched on IČO."
        )
        expect(card.locator(".badge")).to_have_text(f"Linked #{alza_contact.pk}")
        expect(card).to_contain_text("matched on IČO")

    with step(page, "pick one of two contacts with the client's name"):
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Clients").click()
        client_row(page, "Green Garden s.r.o.").get_by_role("link", name="Edit client").click()
        page.locator("#fakturoid-link").get_by_role("button", name="Match automatically").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(
            "Fakturoid contact for Green Garden s.r.o."
        )
        expect(page.locator("#candidates tr.ours")).to_contain_text("This client")
        candidates = page.locator("#candidates tr.candidate")
        expect(candidates).to_have_count(2)
        expect(candidates.filter(has_text=f"#{garden_praha.pk}")).to_contain_text("Praha")
        brno_row = candidates.filter(has_text=f"#{garden_brno.pk}")
        expect(brno_row).to_contain_text("Brno")
        brno_row.get_by_role("button", name="Link this contact").click()
        expect(messages(page)).to_contain_text(
            f"Linked to the Fakturoid contact Green Garden s.r.o. (#{garden_brno.pk})."
        )
        expect(page.locator("#fakturoid-link .badge")).to_have_text(f"Linked #{garden_brno.pk}")

    with step(page, "see both linked in the clients list"):
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Clients").click()
        expect(client_row(page, "Alza")).to_contain_text(f"Linked #{alza_contact.pk}")
        expect(client_row(page, "Green Garden s.r.o.")).to_contain_text(f"Linked #{garden_brno.pk}")

    close_browser(page)
    alza.refresh_from_db()
    garden.refresh_from_db()
    assert (alza.fakturoid_subject_id, alza.fakturoid_link_source) == (
        alza_contact.pk,
        Client.LinkSource.REGISTRATION_NO,
    )
    assert (garden.fakturoid_subject_id, garden.fakturoid_link_source) == (
        garden_brno.pk,
        Client.LinkSource.NAME,
    )


# --- 3. The invoice icon -----------------------------------------------------------------------


@pytest.mark.e2e
def test_it_creates_the_months_invoice_once_and_links_to_it_in_fakturoid(
    page: Page, connected_to_sandbox, agency, owner, make_client, make_project, make_item
):
    # Not the month the list shows by default (the previous one): the user picks it.
    period = previous_month(previous_month(first_day(timezone.localdate())))
    month, label = iso_month(period), format_month(period)
    contact = ensure_subject(SLUG, name="Zahradnictví Kvítek s.r.o.", registration_no="49240901")
    client = make_client(
        agency,
        "Zahradnictví Kvítek s.r.o.",
        registration_no="49240901",
        fakturoid_subject_id=contact.pk,
        fakturoid_link_source=Client.LinkSource.REGISTRATION_NO,
    )
    shop = make_project(client, "kvitek.cz")
    newsletter = make_project(client, "Newsletter")
    archived = make_project(client, "Old microsite", active=False)
    billed = [
        make_item(shop, "PPC management", "15000"),
        make_item(shop, "Shop audit", "2500.50", kind=BillingItem.Kind.ONE_OFF, month=period),
        make_item(newsletter, "E-mail campaigns", "3000"),
    ]
    # Not billed in the month: another month's one-off, an ended fee, an inactive project.
    make_item(shop, "Banner set", "999", kind=BillingItem.Kind.ONE_OFF, month=next_month(period))
    make_item(shop, "SEO retainer", "4000", last_month=previous_month(period))
    make_item(archived, "Hosting", "500")
    expected_lines = sorted(
        f"{item.project.name} – {item.description} ({label})" for item in billed
    )
    subtotal = sum((item.amount for item in billed), Decimal("0"))
    expected_total = (subtotal * Decimal("1.21")).quantize(CENT, ROUND_HALF_UP)
    assert expected_total == Decimal("24805.61")  # 20500.50 + 21 % VAT
    total_text = f"{expected_total} CZK"  # as the sandbox's invoice page writes it
    preview_total = f"CZK\N{NO-BREAK SPACE}{expected_total:,}"
    invoice_icon = f"Create invoice for {label} in Fakturoid"

    log_in(page, username=owner.username, password=PASSWORD)
    with step(page, "pick the month above the clients list"):
        show_month(page, month)
        row = client_row(page, client.name)
        expect(row.get_by_title(invoice_icon)).to_be_visible()

    # Two more tabs opened before the click: the list, and the invoice preview.
    list_tab = page.context.new_page()
    list_tab.goto(f"/?month={month}")
    expect(client_row(list_tab, client.name).get_by_title(invoice_icon)).to_be_visible()
    preview_tab = page.context.new_page()
    preview_tab.goto(f"/?month={month}")
    with step(preview_tab, "preview the invoice"):
        client_row(preview_tab, client.name).get_by_role("link", name="Preview").click()
        expect(preview_tab.locator("#preview-total")).to_have_text(preview_total)
        preview_lines = preview_tab.locator("#preview-lines tbody tr td:first-child")
        expect(preview_lines).to_have_count(len(expected_lines))
        assert sorted(preview_lines.all_inner_texts()) == expected_lines

    with step(page, "click the invoice icon"):
        row.get_by_title(invoice_icon).click()
        flash = messages(page)
        expect(flash).to_contain_text(f"for {client.name} ({label}) was created in Fakturoid")
        number = re.search(r"Invoice (\S+) for", flash.inner_text())[1]
        expect(row.get_by_role("link", name=number, exact=True)).to_be_visible()
        expect(row.get_by_title(invoice_icon)).to_have_count(0)

    with step(page, "follow the link to the invoice in Fakturoid"):
        flash.get_by_role("link").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text(f"Invoice {number}")
        expect(page.get_by_role("note")).to_have_text("Fakturoid sandbox — not the real Fakturoid")
        lines = page.locator("main table").first.locator("tbody tr td:first-child")
        expect(lines).to_have_count(len(expected_lines))
        assert sorted(lines.all_inner_texts()) == expected_lines
        total_row = page.locator("main table tfoot tr").filter(
            has=page.locator("th", has_text=re.compile(r"^Total$"))
        )
        expect(total_row).to_contain_text(total_text)

    with step(page, "the invoice icon is no longer offered for the month"):
        page.goto(f"/?month={month}")
        row = client_row(page, client.name)
        expect(row.get_by_role("link", name=number, exact=True)).to_be_visible()
        expect(row.get_by_title(invoice_icon)).to_have_count(0)
        expect(row.get_by_role("link", name="Preview")).to_have_count(0)

    already = f"{client.name} is already invoiced for {label}: invoice {number}."
    with step(list_tab, "click the invoice icon in a tab opened before"):
        client_row(list_tab, client.name).get_by_title(invoice_icon).click()
        expect(messages(list_tab)).to_contain_text(already)
        stale_row = client_row(list_tab, client.name)
        expect(stale_row.get_by_role("link", name=number, exact=True)).to_be_visible()
        expect(stale_row.get_by_title(invoice_icon)).to_have_count(0)

    with step(preview_tab, "create it from a preview opened before"):
        preview_url = preview_tab.url
        preview_tab.get_by_role("button", name="Create invoice in Fakturoid").click()
        expect(messages(preview_tab)).to_contain_text(already)
        preview_tab.goto(preview_url)
        expect(preview_tab.get_by_text(f"Already invoiced: invoice {number}.")).to_be_visible()
        expect(preview_tab.get_by_role("button", name="Create invoice in Fakturoid")).to_have_count(
            0
        )

    close_browser(page)
    custom_id = invoice_custom_id(agency=agency, client_id=client.pk, period=period)
    [document] = SandboxInvoice.objects.filter(account__slug=SLUG)
    assert (document.custom_id, document.number, document.total) == (
        custom_id,
        number,
        expected_total,
    )
    assert sorted(document.lines.values_list("name", flat=True)) == expected_lines
    [record] = Invoice.objects.all()
    assert (record.client_id, record.period, record.state) == (
        client.pk,
        period,
        Invoice.State.CREATED,
    )
    assert (record.number, record.fakturoid_id, record.total) == (
        number,
        document.pk,
        expected_total,
    )
    assert record.created_by == owner
