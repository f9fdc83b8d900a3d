"""End to end: "Mark as paid" on the invoice's page in the sandbox (Fakturoid's screen) makes
the invoice paid in our invoices list, by the webhook Settings → Fakturoid registered.

The sandbox delivers the webhook from its background thread to our receiver on the live
server; a task applies it (run at once here). The browser reloads our list until it shows it.
"""

import time
from collections.abc import Iterator
from datetime import date

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from agencies.models import FakturoidSettings
from clients.models import Client
from fakturoid.client import FakturoidClient
from fakturoid.models import Invoice
from fakturoid_sandbox.control import ensure_account, ensure_subject
from fakturoid_sandbox.testing import sandbox_mounted
from tests.support import PASSWORD
from tests.support.live_server import (
    log_in,
    step,
)

SLUG = "acme-paid"


@pytest.fixture
def open_invoice(live_server, settings, transactional_db, agency) -> Iterator[Invoice]:
    """The agency connected to the sandbox, updates switched on, one open invoice."""
    with sandbox_mounted(True):
        settings.FAKTUROID_API_URL = f"{live_server.url}/sandbox/fakturoid/api/v3"
        settings.FAKTUROID_CONTACT_EMAIL = "ops@backoffice.example"
        settings.SITE_URL = live_server.url
        settings.TASKS = {
            "default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}
        }
        credential = ensure_account(SLUG, name="Acme s.r.o.")
        subject = ensure_subject(SLUG, name="Nakup s.r.o.", registration_no="12345678")
        fakturoid = FakturoidSettings.objects.create(
            agency=agency,
            account_slug=SLUG,
            api_client_id=credential.client_id,
            api_client_secret=credential.client_secret,
            verified_at=timezone.now(),
        )
        client = Client.objects.create(
            agency=agency, name="Nakup s.r.o.", fakturoid_subject_id=subject.pk
        )
        api = FakturoidClient(fakturoid)
        document = api.create_invoice(
            {
                "subject_id": subject.pk,
                "lines": [{"name": "PPC", "unit_price": "1000", "vat_rate": 21}],
            }
        )
        invoice = Invoice.objects.create(
            agency=agency,
            client=client,
            period=date(2026, 10, 1),
            custom_id=f"{agency.key}-c{client.pk}-2026-10",
            state=Invoice.State.CREATED,
            fakturoid_id=document.id,
            number=document.number,
            status=document.status,
            html_url=document.html_url,
            total=document.total,
            currency="CZK",
            due_on=document.due_on,
        )
        yield invoice


@pytest.mark.e2e
def test_mark_as_paid_in_fakturoid_shows_paid_in_our_list(page: Page, open_invoice, owner):
    log_in(page, username=owner.username, password=PASSWORD)
    row = page.locator(f"#invoice-{open_invoice.pk}")

    with step(page, "switch on updates in Settings → Fakturoid"):
        page.goto("/agency/settings/fakturoid/")
        page.get_by_role("button", name="Receive updates from Fakturoid").click()
        expect(page.locator("#updates")).to_contain_text("Receiving updates")

    with step(page, "the invoice is open in our list"):
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Invoices").click()
        expect(row).to_contain_text("open")

    with step(page, "Mark as paid on Fakturoid's page of the invoice"):
        page.goto(open_invoice.html_url)
        page.get_by_role("button", name="Mark as paid").click()

    with step(page, "our list shows it paid"):
        deadline = time.monotonic() + 10
        page.goto("/fakturoid/invoices/")
        while "paid" not in row.inner_text() and time.monotonic() < deadline:
            page.wait_for_timeout(200)
            page.reload()
        expect(row.locator(".badge.status-paid")).to_have_text("paid")
