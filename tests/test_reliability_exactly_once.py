"""Exactly once, for real, against the sandbox over a real socket (issue 10): a POST that
completes after the click gave up, an invoice deleted in Fakturoid and issued again (also by
simultaneous confirmations), a duplicate made behind our back, and the PDF Fakturoid is still
generating on the first click.
"""

import pytest
from django.db import connection
from django.db.models import F
from django.urls import reverse

from fakturoid.models import Invoice
from fakturoid.timeouts import settle_time
from fakturoid_sandbox.control import update_state
from fakturoid_sandbox.invoice_actions import delete_invoice, fire_event
from fakturoid_sandbox.models import Account
from fakturoid_sandbox.models import Invoice as SandboxInvoice
from fakturoid_sandbox.services import create_invoice as create_sandbox_invoice
from tests.support.live_server import (
    CLIENT_NAME,
    PERIOD,
    TIMEOUT,
    Scene,
    connect_to_live_sandbox,
    logged_in_session,
    run_at_once,
    wait_for_live_server_threads,
)

pytestmark = pytest.mark.usefixtures("sandbox_on")

POSTGRES_ONLY = pytest.mark.skipif(
    connection.vendor == "sqlite",
    reason="on SQLite the live server shares the test's one in-memory connection: the sandbox "
    "cannot work on after the client gave up, nor can callers write at once (CI: PostgreSQL)",
)
LATE_MS = 3000  # the sandbox carries the first POST out this long after it arrived


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


def invoices_in_fakturoid(custom_id: str) -> list[SandboxInvoice]:
    return list(SandboxInvoice.objects.filter(account__slug="acme", custom_id=custom_id))


def let_it_settle(scene: Scene) -> None:
    Invoice.objects.filter(custom_id=scene.custom_id).update(
        uncertain_since=F("uncertain_since") - settle_time()
    )


def refresh(scene: Scene) -> str:
    """Click \"Refresh statuses\" for the month; returns the page it leads to."""
    response = scene.http.post(reverse("fakturoid:refresh_statuses"), {"period": PERIOD})
    wait_for_live_server_threads()
    page = scene.http.get(response["Location"]).content.decode()
    return page


@POSTGRES_ONLY
def test_a_post_that_completes_late_never_gets_a_second_invoice(scene):
    update_state("acme", delay_ms=LATE_MS)
    level, text = scene.click()  # the POST and its look-ups all time out
    assert (level, Invoice.objects.get().state) == ("warning", Invoice.State.UNKNOWN), text

    update_state("acme", delay_ms=0)  # Fakturoid is fast again, the first POST still runs
    level, text = scene.click()  # at once: before the fix, a look-up found nothing, POST B

    assert level == "warning", text
    assert "Fakturoid may still be creating this invoice; check again at" in text
    wait_for_live_server_threads()  # now the first POST has been carried out: invoice A
    assert len(invoices_in_fakturoid(scene.custom_id)) == 1

    let_it_settle(scene)
    level, text = scene.click()

    assert level == "success", text
    [document] = invoices_in_fakturoid(scene.custom_id)
    record = Invoice.objects.get()
    assert (record.state, record.fakturoid_id) == (Invoice.State.CREATED, document.pk)


def test_an_invoice_deleted_in_fakturoid_is_marked_and_the_month_issued_again(scene):
    scene.click()
    old = Invoice.objects.get()
    delete_invoice(invoice=SandboxInvoice.objects.get(pk=old.fakturoid_id))

    page = refresh(scene)

    assert f"Deleted in Fakturoid: {old.number} ({CLIENT_NAME})." in page
    old.refresh_from_db()
    assert old.status == Invoice.Status.DELETED
    confirm = scene.http.get(reverse("fakturoid:invoice_reissue", args=[old.pk]))
    assert f"Invoice {old.number} is deleted in Fakturoid." in confirm.content.decode()
    scene.http.post(reverse("fakturoid:invoice_reissue", args=[old.pk]))
    wait_for_live_server_threads()

    [document] = invoices_in_fakturoid(f"{scene.custom_id}-2")
    new = Invoice.objects.get(custom_id=f"{scene.custom_id}-2")
    assert (new.state, new.fakturoid_id, new.number) == ("created", document.pk, document.number)
    assert Invoice.objects.count() == 2  # the history keeps both


def test_a_cancelled_invoice_may_be_issued_again(scene):
    scene.click()
    old = Invoice.objects.get()
    fire_event(invoice=SandboxInvoice.objects.get(pk=old.fakturoid_id), event="cancel")

    refresh(scene)

    old.refresh_from_db()
    assert old.status == Invoice.Status.CANCELLED and old.can_reissue
    client_page = scene.http.get(reverse("clients:detail", args=[scene.client.pk]))
    assert reverse("fakturoid:invoice_reissue", args=[old.pk]) in client_page.content.decode()


@POSTGRES_ONLY
def test_ten_simultaneous_confirmations_issue_the_month_again_once(scene, owner):
    scene.click()
    old = Invoice.objects.get()
    delete_invoice(invoice=SandboxInvoice.objects.get(pk=old.fakturoid_id))
    refresh(scene)
    update_state("acme", delay_ms=300)  # the confirmations overlap
    scene.settings.FAKTUROID_CONNECT_TIMEOUT = scene.settings.FAKTUROID_READ_TIMEOUT = TIMEOUT
    browsers = [logged_in_session(scene.live_url, owner.username) for _ in range(10)]
    url = scene.live_url + reverse("fakturoid:invoice_reissue", args=[old.pk])
    forms = [browser.get(url, timeout=TIMEOUT) for browser in browsers]
    tokens = [form.text.split('name="csrfmiddlewaretoken" value="')[1][:64] for form in forms]

    def confirm(i: int) -> int:
        return (
            browsers[i]
            .post(
                url, data={"csrfmiddlewaretoken": tokens[i]}, allow_redirects=False, timeout=TIMEOUT
            )
            .status_code
        )

    statuses = run_at_once(confirm)
    wait_for_live_server_threads()

    assert statuses == [302] * 10
    live = Invoice.objects.live().get(client=scene.client)
    assert live.custom_id == f"{scene.custom_id}-2"
    assert live.state == Invoice.State.CREATED
    assert Invoice.objects.count() == 2
    assert len(invoices_in_fakturoid(f"{scene.custom_id}-2")) == 1


def test_a_second_invoice_with_our_custom_id_shows_as_a_duplicate(scene):
    scene.click()
    ours = Invoice.objects.get()
    wait_for_live_server_threads()
    # Made behind our back (a POST Fakturoid carried out late, or by hand with our custom_id).
    copy = create_sandbox_invoice(
        account=Account.objects.get(slug="acme"),
        data={
            "custom_id": scene.custom_id,
            "subject_id": scene.subject_id,
            "lines": [{"name": "nakup.cz – PPC management (10/2026)", "unit_price": "15000"}],
        },
    )

    page = refresh(scene)

    assert "Fakturoid holds 1 invoice twice: cancel one (see the clients list)." in page
    assert "duplicate in Fakturoid — cancel one" in page
    assert copy.number in page and ours.number in page
    assert len(invoices_in_fakturoid(scene.custom_id)) == 2  # nothing deleted by us


def test_the_pdf_link_works_on_the_first_click(scene):
    # The sandbox answers 204 ("being generated") to the first download of each invoice.
    scene.click()
    invoice = Invoice.objects.get()

    response = scene.http.get(reverse("fakturoid:invoice_pdf", args=[invoice.pk]))
    wait_for_live_server_threads()

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
