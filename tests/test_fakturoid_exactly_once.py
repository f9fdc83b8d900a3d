"""Exactly once, for real (issue 10): the settle time after an unconfirmed POST, a failed
look-up that must not say "not created", stuck claims, invoices deleted or cancelled in
Fakturoid and issued again, duplicates in Fakturoid, and the PDF that is still being generated.

HTTP to Fakturoid is mocked with `responses` (every registered answer must be used, and any
request not registered fails); the agency holds a fresh token.
"""

import copy
import re
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.db import IntegrityError, transaction
from django.utils import timezone
from responses import matchers

from clients.models import BillingItem, Client
from fakturoid.models import Invoice
from fakturoid.services import sync
from fakturoid.timeouts import settle_time, stale_claim
from tests.support.fakturoid_mocks import ACCOUNT, OCTOBER, RATE, custom_id_of, payload

pytestmark = pytest.mark.usefixtures("fakturoid_config")

INVOICES = f"{ACCOUNT}/invoices.json"


def invoice_json(custom_id: str, *, id: int = 529, number: str = "2026-0001", **fields) -> dict:
    data = copy.deepcopy(payload("invoice_created.json"))
    data.update(
        {
            "id": id,
            "custom_id": custom_id,
            "number": number,
            "status": "open",
            "html_url": f"https://app.fakturoid.cz/acme/invoices/{id}",
            **fields,
        }
    )
    return data


def add_lookup(api, custom_id: str, found: list) -> None:
    """The look-up by custom_id: one page (fewer than 40 records: the last)."""
    api.get(
        INVOICES,
        json=found,
        headers=RATE,
        match=[matchers.query_param_matcher({"custom_id": custom_id, "page": "1"})],
    )


def flashed(response) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def billed_client(agency, connected, make_client, make_project, make_item) -> Client:
    client = make_client(agency, "Alza.cz a.s.", fakturoid_subject_id=16)
    shop = make_project(client, "alza.cz")
    make_item(shop, "PPC management", "15000", vat_rate=21, first_month=OCTOBER)
    make_item(shop, "Banner set", "5000", vat_rate=21, kind=BillingItem.Kind.ONE_OFF, month=OCTOBER)
    return client


def our_invoice(client: Client, **fields) -> Invoice:
    fields.setdefault("custom_id", custom_id_of(client))
    return Invoice.objects.create(agency=client.agency, client=client, period=OCTOBER, **fields)


def click(http, client: Client, **extra):
    return http.post(f"/fakturoid/clients/{client.pk}/invoice/", {"period": "2026-10", **extra})


# --- 1. The settle time: no new POST while an earlier one may still be carried out -----------


def test_it_sends_nothing_within_the_settle_time_of_an_unconfirmed_post(
    api, owner_http, billed_client
):
    gave_up = timezone.now()
    our_invoice(billed_client, state=Invoice.State.UNKNOWN, uncertain_since=gave_up)

    response = click(owner_http, billed_client)

    [(level, text)] = flashed(response)
    assert level == "warning"
    assert "Fakturoid may still be creating this invoice; check again at" in text
    assert "(settle time)" in text
    assert not api.calls  # no look-up, no POST
    until = timezone.localtime(gave_up + settle_time())
    assert f"{until + timedelta(minutes=1):%H:%M}" in text or f"{until:%H:%M}" in text


def test_a_stale_claim_within_its_settle_time_is_not_taken_over(api, owner_http, billed_client):
    # The dead request may have POSTed until its worker was killed: Fakturoid may still be at it.
    started = timezone.now() - stale_claim() - timedelta(seconds=1)
    our_invoice(billed_client, state=Invoice.State.PENDING, uncertain_since=started)

    response = click(owner_http, billed_client)

    [(level, text)] = flashed(response)
    assert (level, "Fakturoid may still be creating this invoice" in text) == ("warning", True)
    assert not api.calls
    assert Invoice.objects.get().state == Invoice.State.PENDING


def test_the_settle_time_defaults_to_three_times_the_request_timeouts(settings):
    settings.FAKTUROID_SETTLE_SECONDS = None
    settings.FAKTUROID_CONNECT_TIMEOUT, settings.FAKTUROID_READ_TIMEOUT = 5, 20
    assert settle_time() == timedelta(seconds=75)
    settings.FAKTUROID_SETTLE_SECONDS = 300
    assert settle_time() == timedelta(seconds=300)


# --- 2. A look-up that fails keeps the invoice uncertain ----------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param({"status": 503, "json": {"error": "Temporarily Unavailable"}}, id="503"),
        pytest.param(
            {
                "status": 429,
                "json": {"error": "Too Many Requests"},
                "headers": {"X-RateLimit": "default;r=0;t=42"},
            },
            id="429",
        ),
    ],
)
def test_a_failed_look_up_keeps_the_invoice_unconfirmed(api, owner_http, billed_client, answer):
    our_invoice(billed_client, state=Invoice.State.UNKNOWN)  # its settle time long passed
    attempts = 3 if answer["status"] == 503 else 1  # GETs are retried on 5xx, not on 429
    for _attempt in range(attempts):
        api.get(INVOICES, **answer)

    response = click(owner_http, billed_client)

    [(level, text)] = flashed(response)
    assert level == "warning"
    assert "We could not check in Fakturoid whether the invoice of Alza.cz a.s. for 10/2026" in text
    assert "Nothing was sent; the invoice stays unconfirmed. Try again at" in text
    assert "was not created" not in text
    invoice = Invoice.objects.get()
    assert invoice.state == Invoice.State.UNKNOWN  # never "failed": it may exist
    assert invoice.uncertain_since is None  # the next click may check at once
    assert not [c for c in api.calls if c.request.method == "POST"]


# --- 3. A stuck claim: "Check and finish" ------------------------------------------------------


def test_check_and_finish_looks_a_dead_claim_up_and_finishes_it(api, owner_http, billed_client):
    long_ago = timezone.now() - stale_claim() - settle_time() - timedelta(seconds=1)
    invoice = our_invoice(billed_client, state=Invoice.State.PENDING, uncertain_since=long_ago)
    add_lookup(api, invoice.custom_id, [invoice_json(invoice.custom_id)])

    response = click(owner_http, billed_client, return_to="client")

    assert response["Location"] == f"/clients/{billed_client.pk}/"
    [(level, text)] = flashed(response)
    assert level == "success", text
    invoice.refresh_from_db()
    assert (invoice.state, invoice.number, invoice.uncertain_since) == (
        "created",
        "2026-0001",
        None,
    )
    assert not [c for c in api.calls if c.request.method == "POST"]


def test_a_fresh_claim_is_in_progress_without_a_control(owner_http, billed_client):
    our_invoice(billed_client, state=Invoice.State.PENDING, uncertain_since=timezone.now())

    page = owner_http.get(f"/clients/{billed_client.pk}/").content.decode()

    assert "in progress" in page
    assert "started " in page
    assert "Check and finish" not in page


# --- 5. Deleted or cancelled in Fakturoid ------------------------------------------------------


def add_listing(api, documents: list) -> None:
    """The refresh's listing of every invoice of the account: one page, shorter than 40."""
    api.get(
        INVOICES,
        json=documents,
        headers=RATE,
        match=[matchers.query_param_matcher({"page": "1"})],
    )


def test_a_refresh_marks_a_deleted_invoice_and_goes_on_with_the_others(
    api, owner_http, billed_client, make_client
):
    gone = our_invoice(billed_client, state="created", fakturoid_id=529, number="2026-0001")
    other_client = make_client(billed_client.agency, "Mall.cz", fakturoid_subject_id=17)
    kept = our_invoice(other_client, state="created", fakturoid_id=530, number="2026-0002")
    # Refresh lists every invoice of the account (one short page here): 529 is not among them,
    # and asked for by its id it answers 404.
    add_listing(api, [invoice_json(kept.custom_id, id=530, status="paid")])
    api.get(f"{ACCOUNT}/invoices/529.json", status=404, json=payload("not_found.json"))

    response = owner_http.post("/fakturoid/invoices/refresh/", {"period": "2026-10"})

    texts = [text for _level, text in flashed(response)]
    assert any(text.startswith("Statuses are up to date") for text in texts)
    assert "Deleted in Fakturoid: 2026-0001 (Alza.cz a.s.). The month can be issued again." in texts
    gone.refresh_from_db()
    kept.refresh_from_db()
    assert gone.status == Invoice.Status.DELETED
    assert kept.status == Invoice.Status.PAID
    row = owner_http.get("/?month=2026-10").content.decode()
    assert "deleted in Fakturoid" in row


def test_a_deleted_invoice_is_issued_again_under_a_new_custom_id(api, owner_http, billed_client):
    old = our_invoice(billed_client, state="created", fakturoid_id=529, number="2026-0001")
    old.mark_deleted_in_fakturoid()
    new_custom_id = f"{old.custom_id}-2"
    api.post(
        INVOICES,
        status=201,
        json=invoice_json(new_custom_id, id=600, number="2026-0009"),
        headers=RATE,
        match=[matchers.json_params_matcher({"custom_id": new_custom_id}, strict_match=False)],
    )

    page = owner_http.get(f"/clients/{billed_client.pk}/").content.decode()
    assert f'href="/fakturoid/invoices/{old.pk}/reissue/"' in page
    confirm = owner_http.get(f"/fakturoid/invoices/{old.pk}/reissue/").content.decode()
    assert "Invoice 2026-0001 is deleted in Fakturoid." in confirm
    assert "Create a new invoice instead of 2026-0001" in confirm
    response = owner_http.post(f"/fakturoid/invoices/{old.pk}/reissue/")

    [(level, text)] = flashed(response)
    assert level == "success", text
    assert "2026-0009" in text
    old.refresh_from_db()
    new = Invoice.objects.get(custom_id=new_custom_id)
    assert old.replaced and not new.replaced
    assert (new.state, new.number) == ("created", "2026-0009")
    history = owner_http.get(f"/clients/{billed_client.pk}/").content.decode()
    assert "2026-0001" in history and "2026-0009" in history
    # Once issued again, the old one cannot be issued again a second time.
    again = owner_http.post(f"/fakturoid/invoices/{old.pk}/reissue/")
    assert [level for level, _text in flashed(again)] == ["error"]
    assert Invoice.objects.count() == 2


def test_an_open_invoice_cannot_be_issued_again(api, owner_http, billed_client):
    invoice = our_invoice(billed_client, state="created", fakturoid_id=529, number="2026-0001")

    response = owner_http.post(f"/fakturoid/invoices/{invoice.pk}/reissue/")

    assert [level for level, _text in flashed(response)] == ["error"]
    assert Invoice.objects.count() == 1
    assert not api.calls


def test_the_database_allows_one_live_invoice_per_client_and_month(billed_client):
    first = our_invoice(billed_client, state="created")
    with pytest.raises(IntegrityError), transaction.atomic():
        our_invoice(billed_client, custom_id=f"{first.custom_id}-2")
    Invoice.objects.filter(pk=first.pk).update(replaced=True)
    our_invoice(billed_client, custom_id=f"{first.custom_id}-2")  # the old one is history now


def test_another_agency_cannot_issue_our_invoice_again(billed_client, make_user, other_agency):
    from tests.support import login

    invoice = our_invoice(billed_client, state="created", status="deleted", number="2026-0001")
    rival = login(other_agency.memberships.get().user)

    assert rival.get(f"/fakturoid/invoices/{invoice.pk}/reissue/").status_code == 404
    assert rival.post(f"/fakturoid/invoices/{invoice.pk}/reissue/").status_code == 404


# --- 1. The safety net: duplicates in Fakturoid -----------------------------------------------


def test_a_refresh_shows_a_second_invoice_with_our_custom_id(api, owner_http, billed_client):
    invoice = our_invoice(
        billed_client,
        state="created",
        fakturoid_id=529,
        number="2026-0001",
        html_url="https://app.fakturoid.cz/acme/invoices/529",
    )
    add_listing(
        api,
        [
            invoice_json(invoice.custom_id),
            invoice_json(invoice.custom_id, id=531, number="2026-0003"),
        ],
    )

    response = owner_http.post("/fakturoid/invoices/refresh/", {"period": "2026-10"})

    assert (
        "warning",
        "Fakturoid holds 1 invoice twice: cancel one (see the clients list).",
    ) in flashed(response)
    invoice.refresh_from_db()
    assert invoice.duplicates == [
        {"id": 531, "number": "2026-0003", "html_url": "https://app.fakturoid.cz/acme/invoices/531"}
    ]
    for url in ("/?month=2026-10", f"/clients/{billed_client.pk}/"):
        html = owner_http.get(url).content.decode()
        assert "duplicate in Fakturoid — cancel one" in html
        assert 'href="https://app.fakturoid.cz/acme/invoices/529"' in html
        assert 'href="https://app.fakturoid.cz/acme/invoices/531"' in html
    log = owner_http.get("/agency/settings/integration-log/").content.decode()
    assert re.search(r"Fakturoid holds 1 of our invoices more than once", log)


def test_note_duplicates_counts_per_custom_id_and_forgets_a_cancelled_copy(billed_client):
    from fakturoid.documents import parse_invoice

    invoice = our_invoice(billed_client, state="created", fakturoid_id=529, number="2026-0001")
    ours = parse_invoice(invoice_json(invoice.custom_id))
    copy_open = parse_invoice(invoice_json(invoice.custom_id, id=531, number="2026-0003"))
    other = parse_invoice(invoice_json("someone-else", id=777))

    assert sync.note_duplicates(agency=invoice.agency, documents=[ours, copy_open, other]) == 1
    invoice.refresh_from_db()
    assert [d["number"] for d in invoice.duplicates] == ["2026-0003"]

    cancelled = parse_invoice(
        invoice_json(invoice.custom_id, id=531, number="2026-0003", status="cancelled")
    )
    assert sync.note_duplicates(agency=invoice.agency, documents=[ours, cancelled]) == 0
    invoice.refresh_from_db()
    assert invoice.duplicates == []


# --- 8. The PDF while Fakturoid is still generating it ----------------------------------------


def test_the_pdf_link_waits_for_fakturoid_within_the_request(
    api, owner_http, billed_client, monkeypatch
):
    monkeypatch.setattr(sync, "_sleep", lambda seconds: None)
    invoice = our_invoice(billed_client, state="created", fakturoid_id=529, number="2026-0001")
    url = f"{ACCOUNT}/invoices/529/download.pdf"
    api.get(url, status=204)
    api.get(url, body=b"%PDF-1.4 test", content_type="application/pdf")

    response = owner_http.get(f"/fakturoid/invoices/{invoice.pk}/pdf/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"


def test_the_pdf_page_retries_by_itself_while_fakturoid_is_still_at_it(
    api, owner_http, billed_client, monkeypatch
):
    monkeypatch.setattr(sync, "_sleep", lambda seconds: None)
    invoice = our_invoice(billed_client, state="created", fakturoid_id=529, number="2026-0001")
    for _attempt in range(3):
        api.get(f"{ACCOUNT}/invoices/529/download.pdf", status=204)

    response = owner_http.get(f"/fakturoid/invoices/{invoice.pk}/pdf/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "Fakturoid is still generating the PDF" in html
    refresh = f'content="3;url=/fakturoid/invoices/{invoice.pk}/pdf/?attempt=2"'
    assert f'<meta http-equiv="refresh" {refresh}>' in html
