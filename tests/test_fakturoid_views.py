"""The invoicing flow as people use it: the invoice icon on the clients list, the preview,
matching clients to Fakturoid contacts, and the Fakturoid Client ID typed in the client form.

HTTP to Fakturoid is mocked with `responses`; the agency holds a fresh token, so no token
request is made unless a test says so.
"""

import copy
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
import requests
from django.contrib.messages import get_messages
from django.test import Client as HttpClient
from django.utils import timezone
from django.utils.formats import date_format
from responses import matchers
from urllib3.exceptions import MaxRetryError, NewConnectionError

from agencies.models import FakturoidSettings
from clients.models import BillingItem, Client
from clients.months import first_day, format_month, iso_month, previous_month
from fakturoid.models import Invoice
from fakturoid.services import invoicing
from fakturoid.timeouts import stale_claim
from tests.support import STORED_TOKEN as TOKEN
from tests.support.fakturoid_mocks import (
    ACCOUNT,
    OCTOBER,
    RATE,
    add_search,
    custom_id_of,
    payload,
    subject_json,
)

HTML_URL = "https://app.fakturoid.cz/acme/invoices/529"

pytestmark = pytest.mark.usefixtures("fakturoid_config")


def invoice_json(*, custom_id: str, number: str = "2026-0001") -> dict:
    data = copy.deepcopy(payload("invoice_created.json"))
    data.update(
        {
            "custom_id": custom_id,
            "number": number,
            "subtotal": "20000.0",
            "total": "24200.0",
            "html_url": HTML_URL,
            "pdf_url": f"{ACCOUNT}/invoices/529/download.pdf",
        }
    )
    return data


def flashed(response) -> list[tuple[str, str]]:
    """The messages a response queued, as (level, text)."""
    return [(message.level_tag, str(message)) for message in get_messages(response.wsgi_request)]


def row_of(html: str, name: str) -> str:
    """The table row that shows `name`."""
    rows = [row for row in re.findall(r"<tr>.*?</tr>", html, re.S) if f">{name}</a>" in row]
    assert len(rows) == 1, f"expected one row for {name!r}, found {len(rows)}"
    return rows[0]


def invoice_form(html: str, client: Client) -> str | None:
    """The invoice icon's POST form for `client`, or None when the icon is not shown."""
    action = f'action="/fakturoid/clients/{client.pk}/invoice/"'
    match = re.search(rf"<form[^>]*{re.escape(action)}[^>]*>.*?</form>", html, re.S)
    return match[0] if match else None


@pytest.fixture
def billed_client(agency, connected, make_client, make_project, make_item) -> Client:
    """A linked client with a monthly fee from October 2026 and a one-off in October 2026."""
    client = make_client(agency, "Alza.cz a.s.", fakturoid_subject_id=16)
    shop = make_project(client, "alza.cz")
    make_item(shop, "PPC management", "15000", vat_rate=21, first_month=OCTOBER)
    make_item(shop, "Banner set", "5000", vat_rate=21, kind=BillingItem.Kind.ONE_OFF, month=OCTOBER)
    return client


@pytest.fixture
def make_linked_client(agency, make_client, make_project, make_item):
    """A client linked to a Fakturoid contact, with a monthly fee: billable in any month."""

    def make(name: str, subject_id: int) -> Client:
        client = make_client(agency, name, fakturoid_subject_id=subject_id)
        make_item(make_project(client), "PPC management", "1000")
        return client

    return make


def add_create(api, client: Client, **kwargs) -> None:
    """Fakturoid's answer to the invoice POST (by default: created)."""
    if "body" not in kwargs:
        kwargs.setdefault("json", invoice_json(custom_id=custom_id_of(client)))
        kwargs.setdefault("status", 201)
    api.post(
        f"{ACCOUNT}/invoices.json",
        headers=kwargs.pop("headers", {**RATE, "Location": f"{ACCOUNT}/invoices/529.json"}),
        match=[
            matchers.header_matcher({"Authorization": f"Bearer {TOKEN}"}),
            matchers.json_params_matcher(
                {"custom_id": custom_id_of(client), "subject_id": 16}, strict_match=False
            ),
        ],
        **kwargs,
    )


def post_invoice(http: HttpClient, client: Client, period: str = "2026-10"):
    return http.post(f"/fakturoid/clients/{client.pk}/invoice/", {"period": period})


# --- The invoice icon on the clients list ---------------------------------------------------


def test_it_shows_the_invoice_icon_only_on_linked_clients(
    owner_http, agency, connected, make_client, make_linked_client
):
    linked = make_linked_client("Linked s.r.o.", 16)
    unlinked = make_client(agency, "Unlinked s.r.o.")

    html = owner_http.get("/?month=2026-10").content.decode()

    form = invoice_form(html, linked)
    assert form is not None
    assert 'method="post"' in form
    assert 'name="csrfmiddlewaretoken"' in form
    assert '<input type="hidden" name="period" value="2026-10">' in form
    assert 'aria-label="Create invoice for 10/2026 in Fakturoid"' in form
    assert 'title="Create invoice for 10/2026 in Fakturoid"' in form
    assert invoice_form(html, unlinked) is None


@pytest.mark.parametrize("setup", ["none", "disconnected"])
def test_it_hides_the_invoice_icon_without_fakturoid(
    owner_http, agency, fakturoid_settings, make_client, setup
):
    if setup == "none":
        fakturoid_settings.delete()
    else:
        fakturoid_settings.disconnect()
    linked = make_client(agency, "Linked s.r.o.", fakturoid_subject_id=16)

    html = owner_http.get("/?month=2026-10").content.decode()

    assert "Linked #16" in html
    assert invoice_form(html, linked) is None
    assert "in Fakturoid" not in html


def test_the_month_selector_changes_the_month_the_icon_bills(
    owner_http, agency, connected, make_linked_client
):
    linked = make_linked_client("Linked s.r.o.", 16)

    form = invoice_form(owner_http.get("/?month=2026-03").content.decode(), linked)

    assert 'value="2026-03"' in form
    assert 'title="Create invoice for 03/2026 in Fakturoid"' in form


@pytest.mark.parametrize(
    ("default_period", "month_of"),
    [
        (FakturoidSettings.DefaultPeriod.PREVIOUS, lambda today: previous_month(first_day(today))),
        (FakturoidSettings.DefaultPeriod.CURRENT, lambda today: first_day(today)),
    ],
)
def test_the_icon_bills_the_month_the_settings_choose(
    owner_http, agency, connected, make_linked_client, default_period, month_of
):
    connected.default_period = default_period
    connected.save()
    linked = make_linked_client("Linked s.r.o.", 16)
    month = month_of(timezone.localdate())

    form = invoice_form(owner_http.get("/").content.decode(), linked)

    assert f'value="{iso_month(month)}"' in form
    assert f'title="Create invoice for {format_month(month)} in Fakturoid"' in form


def test_the_list_shows_the_months_invoice_or_its_failure(
    owner_http, agency, connected, make_linked_client
):
    invoiced = make_linked_client("Invoiced s.r.o.", 16)
    failed = make_linked_client("Failed s.r.o.", 17)
    Invoice.objects.create(
        agency=agency,
        client=invoiced,
        period=OCTOBER,
        custom_id=custom_id_of(invoiced),
        state=Invoice.State.CREATED,
        number="2026-0042",
        html_url=HTML_URL,
    )
    Invoice.objects.create(
        agency=agency,
        client=failed,
        period=OCTOBER,
        custom_id=custom_id_of(failed),
        state=Invoice.State.FAILED,
        error="Fakturoid needs a bank account first.",
    )

    html = owner_http.get("/?month=2026-10").content.decode()

    invoiced_row = row_of(html, "Invoiced s.r.o.")
    assert (
        f'<a href="{HTML_URL}" target="_blank" rel="noopener" class="invoice-link">2026-0042</a>'
        in invoiced_row
    )
    assert invoice_form(invoiced_row, invoiced) is None
    failed_row = row_of(html, "Failed s.r.o.")
    assert "Fakturoid needs a bank account first." in failed_row
    retry = invoice_form(failed_row, failed)
    assert 'title="Retry invoice for 10/2026 in Fakturoid"' in retry

    november = owner_http.get("/?month=2026-11").content.decode()
    assert "2026-0042" not in november
    assert "bank account" not in november
    assert 'title="Create invoice for 11/2026 in Fakturoid"' in row_of(november, "Failed s.r.o.")


# --- Creating the invoice -------------------------------------------------------------------


def test_the_icon_creates_the_invoice_and_links_to_it(api, owner_http, owner, billed_client):
    add_create(api, billed_client)

    response = post_invoice(owner_http, billed_client)

    assert response.status_code == 302
    assert response["Location"] == "/?month=2026-10"
    [(level, text)] = flashed(response)
    assert level == "success"
    assert "2026-0001" in text
    assert HTML_URL in text
    invoice = Invoice.objects.get()
    assert (invoice.state, invoice.number, invoice.created_by) == ("created", "2026-0001", owner)

    html = owner_http.get("/?month=2026-10").content.decode()
    assert (
        f'<a href="{HTML_URL}" target="_blank" rel="noopener" class="invoice-link">2026-0001</a>'
        in html
    )
    assert invoice_form(html, billed_client) is None


def test_a_second_click_says_already_invoiced_and_sends_nothing(api, owner_http, billed_client):
    add_create(api, billed_client)
    post_invoice(owner_http, billed_client)

    response = post_invoice(owner_http, billed_client)

    assert response.status_code == 302
    level, text = flashed(response)[-1]  # after the first click's message, never shown
    assert level == "info"
    assert "already invoiced for 10/2026: invoice 2026-0001" in text
    assert HTML_URL in text
    assert [call.request.method for call in api.calls] == ["POST"]
    assert Invoice.objects.count() == 1


UNREACHABLE = requests.ConnectionError(
    MaxRetryError(None, "/", reason=NewConnectionError(None, "Connection refused"))
)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        pytest.param(
            {"status": 422, "json": {"errors": {"subject_id": ["Contact does not exist."]}}},
            "Fakturoid refused the data: subject_id: Contact does not exist.",
            id="422",
        ),
        pytest.param(
            {"status": 403, "json": payload("no_bank_account.json")},
            "https://app.fakturoid.cz/applecorp/settings/bank_accounts",
            id="403-no-bank-account",
        ),
        pytest.param(
            {"status": 402, "json": payload("account_blocked.json")},
            "The Fakturoid account is blocked",
            id="402",
        ),
        pytest.param(
            {
                "status": 429,
                "json": payload("rate_limited.json"),
                "headers": {
                    "X-RateLimit-Policy": "default;q=400;w=60",
                    "X-RateLimit": "default;r=0;t=37",
                },
            },
            "Try again in 37 s",
            id="429",
        ),
        pytest.param({"body": UNREACHABLE}, "could not be reached", id="unreachable"),
    ],
)
def test_a_failed_invoice_says_why(api, owner_http, billed_client, answer, expected):
    add_create(api, billed_client, **answer)

    response = post_invoice(owner_http, billed_client)

    assert response.status_code == 302
    assert response["Location"] == "/?month=2026-10"
    [(level, text)] = flashed(response)
    assert level == "error"
    assert text.startswith("The invoice of Alza.cz a.s. for 10/2026 was not created:")
    assert expected in text
    assert len(api.calls) == 1
    assert Invoice.objects.get().state == Invoice.State.FAILED


def test_a_failed_invoice_shows_on_the_list_with_a_retry_icon(api, owner_http, billed_client):
    add_create(api, billed_client, status=403, json=payload("no_bank_account.json"))
    post_invoice(owner_http, billed_client)

    html = owner_http.get("/?month=2026-10").content.decode()

    row = row_of(html, "Alza.cz a.s.")
    assert "Fakturoid needs a bank account first" in row
    assert 'title="Retry invoice for 10/2026 in Fakturoid"' in invoice_form(row, billed_client)


def test_it_shows_check_and_finish_on_a_claim_left_by_a_dead_request(
    api, owner_http, billed_client
):
    started = timezone.now() - stale_claim() - timedelta(seconds=1)
    invoice = Invoice.objects.create(
        agency=billed_client.agency,
        client=billed_client,
        period=OCTOBER,
        custom_id=custom_id_of(billed_client),
        state=Invoice.State.PENDING,
        uncertain_since=started,
    )

    list_row = row_of(owner_http.get("/?month=2026-10").content.decode(), "Alza.cz a.s.")
    page = owner_http.get(f"/clients/{billed_client.pk}/").content.decode()

    since = f"started {date_format(timezone.localtime(started), 'H:i')}"
    for html in (list_row, page):
        assert "in progress" in html
        assert since in html
        form = invoice_form(html, billed_client)
        assert ">Check and finish</button>" in form
        assert 'name="period" value="2026-10"' in form
    assert 'name="return_to" value="client"' in invoice_form(page, billed_client)
    assert invoice.can_retry


def test_a_fresh_claim_shows_no_invoice_icon(api, owner_http, billed_client):
    Invoice.objects.create(
        agency=billed_client.agency,
        client=billed_client,
        period=OCTOBER,
        custom_id=custom_id_of(billed_client),
        state=Invoice.State.PENDING,
    )

    html = owner_http.get("/?month=2026-10").content.decode()

    row = row_of(html, "Alza.cz a.s.")
    assert "in progress" in row
    assert invoice_form(row, billed_client) is None


def test_a_month_with_nothing_to_bill_sends_nothing(api, owner_http, billed_client):
    response = post_invoice(owner_http, billed_client, "2026-03")

    assert response["Location"] == "/?month=2026-03"
    [(level, text)] = flashed(response)
    assert level == "error"
    assert "Alza.cz a.s. has nothing to bill for 03/2026." in text
    assert len(api.calls) == 0
    assert not Invoice.objects.exists()


def test_the_list_says_nothing_to_bill_instead_of_an_icon_that_can_only_fail(
    api, owner_http, billed_client
):
    html = owner_http.get("/?month=2026-03").content.decode()

    row = row_of(html, "Alza.cz a.s.")
    assert "Nothing to bill" in row
    assert invoice_form(row, billed_client) is None
    assert "/preview/" not in row


def test_the_list_shows_what_the_months_invoice_bills_one_offs_included(
    api, owner_http, billed_client, make_project, make_item
):
    make_item(make_project(billed_client, "Paused", active=False), "Old fee", "999")

    html = owner_http.get("/?month=2026-10").content.decode()

    draft = invoicing.build_invoice(client=billed_client, period=OCTOBER)
    assert draft.subtotal == Decimal("20000.00")
    assert "CZK\N{NO-BREAK SPACE}20,000.00" in row_of(html, "Alza.cz a.s.")


def test_the_list_comes_back_as_it_was_after_an_invoice_click(
    api, owner_http, agency, billed_client
):
    add_create(api, billed_client)
    list_url = "/?q=alza&label=7&sort=-name&page=2&month=2026-10"
    html = owner_http.get(list_url).content.decode()
    assert f'<input type="hidden" name="next" value="{list_url.replace("&", "&amp;")}">' in html

    response = owner_http.post(
        f"/fakturoid/clients/{billed_client.pk}/invoice/",
        {"period": "2026-10", "next": list_url},
    )

    assert response.status_code == 302
    assert response["Location"] == "/?q=alza&label=7&sort=-name&page=2&month=2026-10"


@pytest.mark.parametrize(
    "next_url", ["https://evil.example/?q=x", "//evil.example/", "/settings/fakturoid/", ""]
)
def test_an_invoice_click_never_goes_back_anywhere_but_the_list(
    api, owner_http, billed_client, next_url
):
    add_create(api, billed_client)

    response = owner_http.post(
        f"/fakturoid/clients/{billed_client.pk}/invoice/", {"period": "2026-10", "next": next_url}
    )

    assert response["Location"] == "/?month=2026-10"


@pytest.mark.parametrize("period", ["2026-13", "october", ""])
def test_an_invalid_month_sends_nothing(api, owner_http, billed_client, period):
    response = post_invoice(owner_http, billed_client, period)

    assert response.status_code == 302
    assert flashed(response) == [("error", "Pick a valid month to invoice.")]
    assert len(api.calls) == 0
    assert not Invoice.objects.exists()


def test_the_invoice_icon_only_accepts_post(api, owner_http, billed_client):
    response = owner_http.get(f"/fakturoid/clients/{billed_client.pk}/invoice/")

    assert response.status_code == 405
    assert len(api.calls) == 0


def test_the_invoice_icon_needs_the_csrf_token(api, owner, billed_client):
    http = HttpClient(enforce_csrf_checks=True)
    http.force_login(owner, backend="django.contrib.auth.backends.ModelBackend")

    response = post_invoice(http, billed_client)

    assert response.status_code == 403
    assert len(api.calls) == 0
    assert not Invoice.objects.exists()


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("get", "/fakturoid/clients/{pk}/invoice/2026-10/", {}),
        ("post", "/fakturoid/clients/{pk}/invoice/", {"period": "2026-10"}),
        ("post", "/fakturoid/clients/{pk}/match/", {}),
        ("post", "/fakturoid/clients/{pk}/link/", {"subject_id": "16"}),
        ("post", "/fakturoid/clients/{pk}/create-contact/", {}),
    ],
)
def test_clients_of_another_agency_are_not_found(
    api, owner_http, connected, other_agency, make_client, method, path, data
):
    foreign = make_client(other_agency, "Rival's client", fakturoid_subject_id=16)

    response = getattr(owner_http, method)(path.format(pk=foreign.pk), data)

    assert response.status_code == 404
    assert len(api.calls) == 0
    foreign.refresh_from_db()
    assert foreign.fakturoid_subject_id == 16
    assert not Invoice.objects.exists()


def test_a_member_can_invoice_and_match(api, member_http, agency, billed_client, make_client):
    add_create(api, billed_client)
    unlinked = make_client(agency, "Rohlik", registration_no="27082440")
    add_search(api, "27082440", [subject_json(41, registration_no="27082440")])

    invoiced = post_invoice(member_http, billed_client)
    matched = member_http.post(f"/fakturoid/clients/{unlinked.pk}/match/")

    assert flashed(invoiced)[0][0] == "success"
    assert Invoice.objects.get().state == Invoice.State.CREATED
    assert matched.status_code == 302
    unlinked.refresh_from_db()
    assert unlinked.fakturoid_subject_id == 41


# --- The preview ----------------------------------------------------------------------------


def test_the_preview_shows_what_would_be_sent_without_asking_fakturoid(
    api, owner_http, billed_client
):
    response = owner_http.get(f"/fakturoid/clients/{billed_client.pk}/invoice/2026-10/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "alza.cz – PPC management (10/2026)" in html
    assert "alza.cz – Banner set (10/2026)" in html
    assert "CZK\N{NO-BREAK SPACE}15,000.00" in html
    assert "CZK\N{NO-BREAK SPACE}20,000.00" in html  # without VAT
    assert "CZK\N{NO-BREAK SPACE}4,200.00" in html  # VAT
    assert '<strong id="preview-total">CZK\N{NO-BREAK SPACE}24,200.00</strong>' in html
    assert f'action="/fakturoid/clients/{billed_client.pk}/invoice/"' in html
    assert '<input type="hidden" name="period" value="2026-10">' in html
    assert len(api.calls) == 0
    assert not Invoice.objects.exists()


def test_the_preview_says_when_there_is_nothing_to_bill(api, owner_http, billed_client):
    response = owner_http.get(f"/fakturoid/clients/{billed_client.pk}/invoice/2026-03/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Alza.cz a.s. has nothing to bill for 03/2026." in html
    assert "preview-lines" not in html
    assert "Create invoice in Fakturoid" not in html
    assert len(api.calls) == 0


def test_the_preview_of_an_invalid_month_goes_back_to_the_list(api, owner_http, billed_client):
    response = owner_http.get(f"/fakturoid/clients/{billed_client.pk}/invoice/2026-13/")

    assert response.status_code == 302
    assert flashed(response) == [("error", "Pick a valid month.")]


# --- Matching clients to Fakturoid contacts -------------------------------------------------


def test_one_match_links_the_client_and_says_on_what(
    api, owner_http, agency, connected, make_client
):
    client = make_client(agency, "Alza.cz a.s.", registration_no="27082440")
    add_search(api, "27082440", [subject_json(41, name="Alza.cz a.s.", registration_no="27082440")])

    response = owner_http.post(f"/fakturoid/clients/{client.pk}/match/")

    assert response.status_code == 302
    assert response["Location"] == f"/clients/{client.pk}/edit/"
    assert flashed(response) == [
        ("success", "Linked to the Fakturoid contact Alza.cz a.s. (#41), matched on IČO.")
    ]
    client.refresh_from_db()
    assert (client.fakturoid_subject_id, client.fakturoid_link_source) == (41, "registration_no")


def test_several_matches_are_listed_to_pick_from(api, owner_http, agency, connected, make_client):
    client = make_client(agency, "Kasa", registration_no="", email="")
    add_search(
        api,
        "Kasa",
        [
            subject_json(
                1, name="Kasa", registration_no="11111111", email="a@kasa.cz", city="Brno"
            ),
            subject_json(
                2, name="KASA", registration_no="22222222", email="b@kasa.cz", city="Zlín"
            ),
        ],
    )

    response = owner_http.post(f"/fakturoid/clients/{client.pk}/match/")

    assert response.status_code == 200
    html = response.content.decode()
    for subject_id, ico, email, city in [
        (1, "11111111", "a@kasa.cz", "Brno"),
        (2, "22222222", "b@kasa.cz", "Zlín"),
    ]:
        row = next(
            row
            for row in re.findall(r'<tr class="candidate">.*?</tr>', html, re.S)
            if f"#{subject_id}<" in row
        )
        assert ico in row and email in row and city in row
        assert f'action="/fakturoid/clients/{client.pk}/link/"' in row
        assert 'name="csrfmiddlewaretoken"' in row
        assert f'name="subject_id" value="{subject_id}"' in row
        assert 'name="source" value="name"' in row
        assert "Link this contact" in row
    client.refresh_from_db()
    assert client.fakturoid_subject_id is None


def test_no_match_offers_to_create_the_contact(api, owner_http, agency, connected, make_client):
    client = make_client(agency, "Nikdo s.r.o.", registration_no="27082440", email="f@nikdo.cz")
    add_search(api, "27082440", [])
    add_search(api, "f@nikdo.cz", [])
    add_search(api, "Nikdo s.r.o.", [])

    response = owner_http.post(f"/fakturoid/clients/{client.pk}/match/")

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="no-match"' in html
    assert f'action="/fakturoid/clients/{client.pk}/create-contact/"' in html
    assert "Create contact in Fakturoid" in html


def test_matching_without_fakturoid_says_how_to_set_it_up(api, owner_http, agency, make_client):
    client = make_client(agency)

    response = owner_http.post(f"/fakturoid/clients/{client.pk}/match/")

    assert response["Location"] == f"/clients/{client.pk}/edit/"
    [(level, text)] = flashed(response)
    assert level == "error"
    assert "Settings → Fakturoid" in text
    assert len(api.calls) == 0


def test_picking_a_candidate_links_it(api, owner_http, agency, connected, make_client):
    client = make_client(agency, "Kasa", registration_no="", email="")
    api.get(f"{ACCOUNT}/subjects/2.json", json=subject_json(2, name="KASA"), headers=RATE)

    response = owner_http.post(
        f"/fakturoid/clients/{client.pk}/link/", {"subject_id": "2", "source": "name"}
    )

    assert response["Location"] == f"/clients/{client.pk}/edit/"
    assert flashed(response) == [("success", "Linked to the Fakturoid contact KASA (#2).")]
    client.refresh_from_db()
    assert (client.fakturoid_subject_id, client.fakturoid_link_source) == (2, "name")


def test_linking_an_unknown_contact_says_so(api, owner_http, agency, connected, make_client):
    client = make_client(agency, "Kasa")
    api.get(f"{ACCOUNT}/subjects/404.json", status=404, json=payload("not_found.json"))

    response = owner_http.post(f"/fakturoid/clients/{client.pk}/link/", {"subject_id": "404"})

    [(level, text)] = flashed(response)
    assert level == "error"
    assert "Fakturoid does not know this record" in text
    client.refresh_from_db()
    assert client.fakturoid_subject_id is None


@pytest.mark.parametrize("value", ["", "abc", "-3", "0"])
def test_linking_needs_a_contact_id(api, owner_http, agency, connected, make_client, value):
    client = make_client(agency, "Kasa")

    response = owner_http.post(f"/fakturoid/clients/{client.pk}/link/", {"subject_id": value})

    assert flashed(response) == [("error", "Choose one of the Fakturoid contacts.")]
    assert len(api.calls) == 0


def test_it_creates_the_contact_in_fakturoid(api, owner_http, agency, connected, make_client):
    client = make_client(agency, "Rohlik", registration_no="27082440", city="Praha")
    custom_id = f"{agency.key}-c{client.pk}"
    api.get(
        f"{ACCOUNT}/subjects.json",
        json=[],
        headers=RATE,
        match=[matchers.query_param_matcher({"custom_id": custom_id, "page": "1"})],
    )
    api.post(
        f"{ACCOUNT}/subjects.json",
        status=201,
        json=subject_json(100, name="Rohlik", custom_id=custom_id),
        headers={**RATE, "Location": f"{ACCOUNT}/subjects/100.json"},
        match=[
            matchers.json_params_matcher(
                {"custom_id": custom_id, "name": "Rohlik", "registration_no": "27082440"},
                strict_match=False,
            )
        ],
    )

    response = owner_http.post(f"/fakturoid/clients/{client.pk}/create-contact/")

    assert response["Location"] == f"/clients/{client.pk}/edit/"
    assert flashed(response) == [
        ("success", "The contact Rohlik (#100) is in Fakturoid and linked.")
    ]
    client.refresh_from_db()
    assert (client.fakturoid_subject_id, client.fakturoid_link_source) == (100, "created")


def test_it_reuses_the_contact_it_created_before(api, owner_http, agency, connected, make_client):
    client = make_client(agency, "Rohlik")
    custom_id = f"{agency.key}-c{client.pk}"
    for page, found in [("1", [subject_json(99, name="Rohlik", custom_id=custom_id)])]:
        api.get(
            f"{ACCOUNT}/subjects.json",
            json=found,
            headers=RATE,
            match=[matchers.query_param_matcher({"custom_id": custom_id, "page": page})],
        )

    response = owner_http.post(f"/fakturoid/clients/{client.pk}/create-contact/")

    assert flashed(response) == [
        ("success", "The contact Rohlik (#99) is in Fakturoid and linked.")
    ]
    assert [call.request.method for call in api.calls] == ["GET"]  # one page, shorter than 40
    client.refresh_from_db()
    assert client.fakturoid_subject_id == 99


def test_creating_a_contact_fakturoid_refuses_says_why(
    api, owner_http, agency, connected, make_client
):
    client = make_client(agency, "R")
    api.get(f"{ACCOUNT}/subjects.json", json=[], headers=RATE)
    api.post(f"{ACCOUNT}/subjects.json", status=422, json=payload("subject_invalid.json"))

    response = owner_http.post(f"/fakturoid/clients/{client.pk}/create-contact/")

    [(level, text)] = flashed(response)
    assert level == "error"
    assert "name: je povinná položka" in text
    client.refresh_from_db()
    assert client.fakturoid_subject_id is None


def test_match_all_reports_each_unlinked_client(api, owner_http, agency, connected, make_client):
    make_client(agency, "Alza", registration_no="27082440", email="")
    make_client(agency, "Kasa", registration_no="", email="")
    make_client(agency, "Nikdo", registration_no="", email="f@nikdo.cz")
    make_client(agency, "Already linked", fakturoid_subject_id=5)
    add_search(api, "27082440", [subject_json(41, registration_no="27082440")])
    add_search(api, "Kasa", [subject_json(1, name="Kasa"), subject_json(2, name="KASA")])
    add_search(api, "f@nikdo.cz", [])
    add_search(api, "Nikdo", [])

    response = owner_http.post("/fakturoid/match-all/")

    assert response.status_code == 200
    html = response.content.decode()
    alza = row_of(html, "Alza")
    assert "linked" in alza and "#41 (matched on IČO)" in alza
    kasa = row_of(html, "Kasa")
    assert "to confirm" in kasa and "2 candidates" in kasa
    assert "not found" in row_of(html, "Nikdo")
    assert "Already linked" not in html
    linked = Client.objects.get(name="Alza")
    assert linked.fakturoid_subject_id == 41
    assert Client.objects.get(name="Kasa").fakturoid_subject_id is None


def test_the_pdf_of_another_agency_is_not_found(
    api, owner_http, connected, other_agency, make_client
):
    foreign = make_client(other_agency, "Rival's client", fakturoid_subject_id=16)
    invoice = Invoice.objects.create(
        agency=other_agency,
        client=foreign,
        period=OCTOBER,
        custom_id=custom_id_of(foreign),
        state=Invoice.State.CREATED,
        fakturoid_id=529,
    )

    assert owner_http.get(f"/fakturoid/invoices/{invoice.pk}/pdf/").status_code == 404
    assert len(api.calls) == 0


def test_match_all_only_accepts_post(api, owner_http, connected):
    assert owner_http.get("/fakturoid/match-all/").status_code == 405


# --- The invoice history on the client's page -----------------------------------------------


def test_the_client_page_lists_its_invoices(owner_http, owner, agency, connected, make_client):
    client = make_client(agency, "Alza.cz a.s.", fakturoid_subject_id=16)
    created = Invoice.objects.create(
        agency=agency,
        client=client,
        period=OCTOBER,
        custom_id=custom_id_of(client),
        state=Invoice.State.CREATED,
        status=Invoice.Status.PAID,
        number="2026-0042",
        total=Decimal("24200.00"),
        currency="CZK",
        fakturoid_id=529,
        html_url=HTML_URL,
        pdf_url=f"{ACCOUNT}/invoices/529/download.pdf",
        created_by=owner,
    )
    Invoice.objects.create(
        agency=agency,
        client=client,
        period=date(2026, 11, 1),
        custom_id=custom_id_of(client, date(2026, 11, 1)),
        state=Invoice.State.FAILED,
        error="Fakturoid needs a bank account first.",
        created_by=owner,
    )

    html = owner_http.get(f"/clients/{client.pk}/").content.decode()

    history = html[html.index('id="invoice-history"') :]
    october = row_of_period(history, "10/2026")
    assert "2026-0042" in october
    assert "CZK\N{NO-BREAK SPACE}24,200.00" in october
    assert '<span class="badge status-paid ok">paid</span>' in october  # one badge, not two
    assert ">created<" not in october
    assert "owner" in october
    assert date_format(timezone.localtime(created.created_at), "DATETIME_FORMAT") in october
    assert f'href="{HTML_URL}"' in october
    assert f'href="/fakturoid/invoices/{created.pk}/pdf/"' in october
    november = row_of_period(history, "11/2026")
    assert "failed" in november
    assert "Fakturoid needs a bank account first." in november
    assert history.index("11/2026") < history.index("10/2026")  # newest first


def row_of_period(html: str, period: str) -> str:
    rows = [row for row in re.findall(r"<tr>.*?</tr>", html, re.S) if f"<td>{period}</td>" in row]
    assert len(rows) == 1
    return rows[0]


# --- The Fakturoid Client ID typed in the client form ---------------------------------------


def client_form(**billing) -> dict:
    """POST data of the client form with no contact persons and no projects."""
    data = {
        "name": "Kávovar Hrubý s.r.o.",
        "registration_no": "26148731",
        "vat_no": "",
        "street": "",
        "city": "Brno",
        "zip": "",
        "country": "CZ",
        "email": "",
        "phone": "",
        "currency": "CZK",
        "labels_text": "",
        "fakturoid_subject_id": "",
    }
    for prefix in ("contacts", "projects"):
        data |= {
            f"{prefix}-TOTAL_FORMS": "0",
            f"{prefix}-INITIAL_FORMS": "0",
            f"{prefix}-MIN_NUM_FORMS": "0",
            f"{prefix}-MAX_NUM_FORMS": "1000",
        }
    return data | billing


def test_a_typed_client_id_is_checked_and_the_contact_named(api, owner_http, agency, connected):
    api.get(
        f"{ACCOUNT}/subjects/16.json",
        json=subject_json(16),
        headers=RATE,
        match=[matchers.header_matcher({"Authorization": f"Bearer {TOKEN}"})],
    )

    response = owner_http.post("/clients/new/", client_form(fakturoid_subject_id="16"))

    assert response.status_code == 302
    assert flashed(response) == [
        ("success", "Kávovar Hrubý s.r.o. was saved."),
        ("success", "Linked to the Fakturoid contact Apple Czech s.r.o. (#16)."),
    ]
    client = Client.objects.get()
    assert (client.fakturoid_subject_id, client.fakturoid_link_source) == (16, "manual")
    assert len(api.calls) == 1


def test_a_pasted_contact_address_is_checked_by_its_id(api, owner_http, agency, connected):
    api.get(f"{ACCOUNT}/subjects/77.json", json=subject_json(77, name="Kasa"), headers=RATE)

    url = "https://app.fakturoid.cz/acme/subjects/77"
    response = owner_http.post("/clients/new/", client_form(fakturoid_subject_id=url))

    assert ("success", "Linked to the Fakturoid contact Kasa (#77).") in flashed(response)
    assert Client.objects.get().fakturoid_subject_id == 77


def test_an_unknown_client_id_is_refused(api, owner_http, agency, connected, make_client):
    client = make_client(agency, "Kávovar Hrubý s.r.o.", fakturoid_subject_id=16)
    api.get(f"{ACCOUNT}/subjects/999.json", status=404, json=payload("not_found.json"))

    response = owner_http.post(
        f"/clients/{client.pk}/edit/", client_form(fakturoid_subject_id="999", city="Praha")
    )

    assert response.status_code == 200
    errors = response.context["editor"].form.errors
    assert errors["fakturoid_subject_id"] == ["Fakturoid has no contact with ID 999."]
    assert "Fakturoid has no contact with ID 999." in response.content.decode()
    client.refresh_from_db()
    assert (client.fakturoid_subject_id, client.city) == (16, "")


def test_a_client_id_that_cannot_be_checked_is_not_saved(api, owner_http, agency, connected):
    api.get(f"{ACCOUNT}/subjects/16.json", status=402, json=payload("account_blocked.json"))

    response = owner_http.post("/clients/new/", client_form(fakturoid_subject_id="16"))

    assert response.status_code == 200
    [error] = response.context["editor"].form.errors["fakturoid_subject_id"]
    assert error.startswith("The Fakturoid Client ID could not be checked:")
    assert "The Fakturoid account is blocked" in error
    assert not Client.objects.exists()


def test_an_unreachable_fakturoid_leaves_the_client_id_unchecked_and_unsaved(
    api, owner_http, agency, connected
):
    api.get(f"{ACCOUNT}/subjects/16.json", body=UNREACHABLE)
    api.get(f"{ACCOUNT}/subjects/16.json", body=UNREACHABLE)
    api.get(f"{ACCOUNT}/subjects/16.json", body=UNREACHABLE)

    response = owner_http.post("/clients/new/", client_form(fakturoid_subject_id="16"))

    [error] = response.context["editor"].form.errors["fakturoid_subject_id"]
    assert "could not be reached" in error
    assert not Client.objects.exists()


def test_an_unchanged_client_id_is_not_checked_again(
    api, owner_http, agency, connected, make_client
):
    client = make_client(agency, "Kávovar Hrubý s.r.o.", fakturoid_subject_id=16)

    response = owner_http.post(
        f"/clients/{client.pk}/edit/", client_form(fakturoid_subject_id="16", city="Praha")
    )

    assert response.status_code == 302
    assert flashed(response) == [("success", "Kávovar Hrubý s.r.o. was saved.")]
    assert len(api.calls) == 0
    client.refresh_from_db()
    assert client.city == "Praha"


def test_without_fakturoid_a_typed_client_id_is_taken_as_typed(api, owner_http, agency):
    response = owner_http.post("/clients/new/", client_form(fakturoid_subject_id="16"))

    assert response.status_code == 302
    assert flashed(response) == [("success", "Kávovar Hrubý s.r.o. was saved.")]
    assert Client.objects.get().fakturoid_subject_id == 16
    assert len(api.calls) == 0


def test_unlinking_a_client_forgets_its_contact_and_asks_fakturoid_nothing(
    api, owner_http, agency, connected, make_client
):
    client = make_client(agency, "Rohlik", fakturoid_subject_id=99)

    response = owner_http.post(f"/fakturoid/clients/{client.pk}/unlink/")

    assert response.status_code == 302
    client.refresh_from_db()
    assert (client.fakturoid_subject_id, client.fakturoid_link_source) == (None, "")
    assert "Unlink" not in owner_http.get(f"/clients/{client.pk}/edit/").content.decode()
    assert len(api.calls) == 0


def test_the_linked_badge_opens_the_contact_in_fakturoid(
    owner_http, agency, connected, make_client
):
    client = make_client(agency, "Rohlik", fakturoid_subject_id=99)

    html = owner_http.get(f"/clients/{client.pk}/edit/").content.decode()

    assert (
        '<a class="badge ok" href="https://app.fakturoid.cz/acme/subjects/99" target="_blank"'
        in html
    )
    assert f'action="/fakturoid/clients/{client.pk}/unlink/"' in html
