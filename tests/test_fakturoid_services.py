"""fakturoid/services.py: verification, matching, building invoices and creating them once.

HTTP is mocked with `responses` at the requests boundary; payloads come from the reference.
"""

import copy
import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
import requests
from django.db import connection
from django.utils import timezone
from responses import matchers

from agencies.models import FakturoidSettings
from clients import months
from clients.models import BillingItem, Client
from fakturoid import errors
from fakturoid import forms as fakturoid_forms
from fakturoid.errors import (
    AuthenticationError,
    ConfigurationError,
    Forbidden,
    NetworkError,
    RateLimited,
    ValidationFailed,
)
from fakturoid.models import Invoice
from fakturoid.services import connection as connection_service
from fakturoid.services import invoicing, matching, sync
from fakturoid.timeouts import settle_time, stale_claim
from tests.support import FAKTUROID_API as API
from tests.support import STORED_TOKEN as TOKEN
from tests.support.fakturoid_mocks import (
    ACCOUNT,
    OCTOBER,
    RATE,
    add_lookup,
    add_search,
    custom_id_of,
    payload,
    subject_json,
)

pytestmark = pytest.mark.usefixtures("fakturoid_config")


def invoice_json(*, custom_id: str, number: str = "2026-0001", total: str = "24200.0") -> dict:
    data = copy.deepcopy(payload("invoice_created.json"))
    data.update(
        {
            "id": 529,
            "custom_id": custom_id,
            "number": number,
            "subtotal": "20000.0",
            "total": total,
            "currency": "CZK",
            "html_url": "https://app.fakturoid.cz/acme/invoices/529",
            "pdf_url": f"{ACCOUNT}/invoices/529/download.pdf",
        }
    )
    return data


@pytest.fixture
def busy_client(agency, connected, make_client, make_project, make_item) -> Client:
    """A linked client with two monthly fees and a one-off in October 2026, plus noise."""
    client = make_client(agency, "Alza.cz a.s.", fakturoid_subject_id=16)
    shop = make_project(client, "alza.cz")
    make_item(shop, "PPC management", "15000", vat_rate=21)
    make_item(shop, "Old retainer", "999", last_month=date(2026, 9, 1))
    make_item(shop, "Banner set", "5000", kind=BillingItem.Kind.ONE_OFF, month=OCTOBER)
    make_item(
        shop, "Next month's audit", "7000", kind=BillingItem.Kind.ONE_OFF, month=date(2026, 11, 1)
    )
    inactive = make_project(client, "closed.cz", active=False)
    make_item(inactive, "Hosting", "300")
    return client


# --- Building the invoice -------------------------------------------------------------------


def test_it_builds_one_line_per_item_running_in_the_month(busy_client):
    draft = invoicing.build_invoice(client=busy_client, period=OCTOBER, today=date(2026, 11, 2))

    assert [line.name for line in draft.lines] == [
        "alza.cz – PPC management (10/2026)",
        "alza.cz – Banner set (10/2026)",
    ]
    assert draft.subtotal == Decimal("20000.00")
    assert draft.vat == Decimal("4200.00")
    assert draft.total == Decimal("24200.00")
    assert draft.payload == {
        "custom_id": custom_id_of(busy_client),
        "subject_id": 16,
        "issued_on": "2026-11-02",
        "taxable_fulfillment_due": "2026-10-31",
        "due": 14,
        "currency": "CZK",
        "note": "Invoice for services in 10/2026.",
        "lines": [
            {
                "name": "alza.cz – PPC management (10/2026)",
                "quantity": "1",
                "unit_price": "15000.00",
                "vat_rate": 21,
            },
            {
                "name": "alza.cz – Banner set (10/2026)",
                "quantity": "1",
                "unit_price": "5000.00",
                "vat_rate": 21,
            },
        ],
    }


def test_it_sends_no_vat_rates_for_a_non_vat_payer(busy_client, connected):
    connected.vat_mode = FakturoidSettings.VatMode.NON_VAT_PAYER
    connected.save()

    draft = invoicing.build_invoice(client=busy_client, period=OCTOBER)

    assert all("vat_rate" not in line for line in draft.payload["lines"])
    assert draft.total == draft.subtotal == Decimal("20000.00")


def test_it_refuses_a_month_with_nothing_to_bill(
    agency, connected, make_client, make_project, make_item
):
    client = make_client(agency, "Mall", fakturoid_subject_id=17)
    make_item(make_project(client), "Audit", "900", kind=BillingItem.Kind.ONE_OFF, month=OCTOBER)

    with pytest.raises(errors.NothingToBill, match="Mall has nothing to bill for 03/2026"):
        invoicing.build_invoice(client=client, period=date(2026, 3, 1))


def test_it_refuses_an_unlinked_client(agency, connected, make_client):
    client = make_client(agency)
    with pytest.raises(ConfigurationError, match="not linked"):
        invoicing.build_invoice(client=client, period=OCTOBER)


def test_it_refuses_when_fakturoid_is_not_set_up(agency, make_client):
    client = make_client(agency, fakturoid_subject_id=16)
    with pytest.raises(ConfigurationError, match="Settings → Fakturoid"):
        invoicing.build_invoice(client=client, period=OCTOBER)


def test_it_defaults_to_the_previous_month_or_the_current_one_per_setting(agency, connected):
    assert months.default_period(agency, today=date(2026, 1, 15)) == date(2025, 12, 1)
    connected.default_period = FakturoidSettings.DefaultPeriod.CURRENT
    connected.save()
    assert months.default_period(agency, today=date(2026, 1, 15)) == date(2026, 1, 1)


# --- Creating the invoice once --------------------------------------------------------------


def add_create(api, client, **kwargs) -> None:
    api.post(
        f"{ACCOUNT}/invoices.json",
        status=kwargs.pop("status", 201),
        json=None
        if "body" in kwargs
        else kwargs.pop("json", invoice_json(custom_id=custom_id_of(client))),
        headers=kwargs.pop("headers", {**RATE, "Location": f"{ACCOUNT}/invoices/529.json"}),
        match=[
            matchers.header_matcher({"Authorization": f"Bearer {TOKEN}"}),
            matchers.json_params_matcher(
                {"custom_id": custom_id_of(client), "subject_id": 16}, strict_match=False
            ),
        ],
        **kwargs,
    )


def test_it_creates_the_invoice_and_records_it(api, busy_client, owner):
    add_create(api, busy_client)

    invoice = invoicing.create_invoice(client=busy_client, period=OCTOBER, user=owner)

    assert invoice.state == Invoice.State.CREATED
    assert invoice.number == "2026-0001"
    assert invoice.total == Decimal("24200.0")
    assert invoice.html_url == "https://app.fakturoid.cz/acme/invoices/529"
    assert invoice.pdf_url.endswith("/invoices/529/download.pdf")
    assert invoice.created_by == owner
    assert [line["name"] for line in invoice.lines] == [
        "alza.cz – PPC management (10/2026)",
        "alza.cz – Banner set (10/2026)",
    ]


def test_it_never_creates_a_second_invoice_for_the_same_month(api, busy_client, owner):
    add_create(api, busy_client)
    invoicing.create_invoice(client=busy_client, period=OCTOBER, user=owner)

    with pytest.raises(errors.AlreadyInvoiced, match="already invoiced for 10/2026"):
        invoicing.create_invoice(client=busy_client, period=OCTOBER, user=owner)

    assert len(api.calls) == 1
    assert Invoice.objects.count() == 1


def test_it_says_in_progress_while_another_request_holds_the_claim(api, busy_client, owner):
    Invoice.objects.create(
        agency=busy_client.agency,
        client=busy_client,
        period=OCTOBER,
        custom_id=custom_id_of(busy_client),
    )
    with pytest.raises(errors.AlreadyInvoiced, match="being created right now"):
        invoicing.create_invoice(client=busy_client, period=OCTOBER, user=owner)
    assert len(api.calls) == 0


def test_it_takes_over_a_stale_claim_after_looking_it_up(api, busy_client, owner):
    # Its request may have POSTed until its worker was killed, then Fakturoid may have taken
    # the settle time: only then is the look-up conclusive.
    stale = Invoice.objects.create(
        agency=busy_client.agency,
        client=busy_client,
        period=OCTOBER,
        custom_id=custom_id_of(busy_client),
        uncertain_since=timezone.now() - stale_claim() - settle_time() - timedelta(seconds=1),
    )
    add_lookup(api, custom_id_of(busy_client), [invoice_json(custom_id=custom_id_of(busy_client))])

    invoice = invoicing.create_invoice(client=busy_client, period=OCTOBER, user=owner)

    assert invoice.pk == stale.pk
    assert invoice.state == Invoice.State.CREATED
    assert invoice.number == "2026-0001"


def test_a_timed_out_post_that_was_carried_out_is_found_not_repeated(api, busy_client, owner):
    add_create(api, busy_client, body=requests.exceptions.ReadTimeout("read timed out"))
    add_lookup(api, custom_id_of(busy_client), [invoice_json(custom_id=custom_id_of(busy_client))])

    invoice = invoicing.create_invoice(client=busy_client, period=OCTOBER, user=owner)

    assert invoice.state == Invoice.State.CREATED
    assert invoice.number == "2026-0001"
    posts = [call for call in api.calls if call.request.method == "POST"]
    assert len(posts) == 1


def test_an_unknown_outcome_is_looked_up_before_the_next_post(api, busy_client, owner):
    add_create(api, busy_client, body=requests.exceptions.ReadTimeout("read timed out"))
    add_lookup(api, custom_id_of(busy_client), [])

    with pytest.raises(NetworkError) as raised:
        invoicing.create_invoice(client=busy_client, period=OCTOBER, user=owner)
    assert raised.value.maybe_processed
    invoice = Invoice.objects.get()
    assert invoice.state == Invoice.State.UNKNOWN
    assert "could not be reached" in invoice.error

    api.reset()
    with pytest.raises(errors.NotSettled):  # the POST may still be carried out: nothing sent
        invoicing.create_invoice(client=busy_client, period=OCTOBER, user=owner)
    assert not api.calls
    Invoice.objects.update(uncertain_since=timezone.now() - settle_time())
    add_lookup(api, custom_id_of(busy_client), [])
    add_create(api, busy_client)
    invoice = invoicing.create_invoice(client=busy_client, period=OCTOBER, user=owner)

    assert invoice.state == Invoice.State.CREATED
    assert [call.request.method for call in api.calls] == ["GET", "POST"]  # look-up, then POST


def test_a_refused_invoice_is_recorded_as_failed_with_the_reason(api, busy_client, owner):
    add_create(
        api,
        busy_client,
        status=422,
        json={"errors": {"subject_id": ["can't be blank", "Contact does not exist."]}},
    )

    with pytest.raises(ValidationFailed) as raised:
        invoicing.create_invoice(client=busy_client, period=OCTOBER, user=owner)

    message = errors.explain(raised.value)
    assert "subject_id: can't be blank, Contact does not exist." in message
    invoice = Invoice.objects.get()
    assert invoice.state == Invoice.State.FAILED
    assert invoice.error == message


def test_it_explains_a_missing_bank_account_with_the_link(api, busy_client, owner):
    add_create(api, busy_client, status=403, json=payload("no_bank_account.json"))

    with pytest.raises(Forbidden) as raised:
        invoicing.create_invoice(client=busy_client, period=OCTOBER, user=owner)

    message = errors.explain(raised.value)
    assert "bank account" in message
    assert "https://app.fakturoid.cz/applecorp/settings/bank_accounts" in message


def test_it_explains_the_rate_limit_with_the_wait(api, busy_client, owner):
    add_create(
        api,
        busy_client,
        status=429,
        json=payload("rate_limited.json"),
        headers={"X-RateLimit-Policy": "default;q=400;w=60", "X-RateLimit": "default;r=0;t=37"},
    )

    with pytest.raises(RateLimited) as raised:
        invoicing.create_invoice(client=busy_client, period=OCTOBER, user=owner)

    assert "Try again in 37 s" in errors.explain(raised.value)
    assert Invoice.objects.get().state == Invoice.State.FAILED


def test_a_failed_invoice_can_be_retried_once_the_cause_is_fixed(api, busy_client, owner):
    add_create(api, busy_client, status=403, json=payload("no_bank_account.json"))
    with pytest.raises(Forbidden):
        invoicing.create_invoice(client=busy_client, period=OCTOBER, user=owner)

    api.reset()
    add_lookup(api, custom_id_of(busy_client), [])
    add_create(api, busy_client)
    invoice = invoicing.create_invoice(client=busy_client, period=OCTOBER, user=owner)

    assert invoice.state == Invoice.State.CREATED
    assert Invoice.objects.count() == 1


@pytest.mark.skipif(
    connection.vendor == "sqlite",
    reason="the in-memory SQLite test database locks whole tables; CI runs this on PostgreSQL",
)
@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_for_one_month_let_exactly_one_through(busy_client, owner):
    draft = invoicing.build_invoice(client=busy_client, period=OCTOBER)
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def claim() -> None:
        try:
            barrier.wait()
            invoicing.claim_invoice(draft=draft, user=owner)
            outcomes.append("claimed")
        except errors.AlreadyInvoiced:
            outcomes.append("already")
        finally:
            connection.close()

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["already", "already", "already", "claimed"]
    assert Invoice.objects.count() == 1


# --- Verifying the connection ---------------------------------------------------------------


def add_token(api, *, status: int = 200) -> None:
    body = payload("token.json") if status == 200 else payload("invalid_client.json")
    api.post(f"{API}/oauth/token", status=status, json=body, headers=RATE)


def settings_as_entered(agency, **fields) -> FakturoidSettings:
    values = {
        "account_slug": "applecorp",
        "api_client_id": "client-id-123",
        "api_client_secret": "secret-456",
        "contact_email": "billing@acme.example",
    }
    return FakturoidSettings(agency=agency, **(values | fields))


def test_it_connects_and_stores_what_fakturoid_says(api, agency):
    add_token(api)
    api.get(f"{API}/user.json", json=payload("user.json"), headers=RATE)
    api.get(f"{API}/accounts/applecorp/account.json", json=payload("account.json"), headers=RATE)
    fakturoid = settings_as_entered(agency)

    connection_service.connect(fakturoid=fakturoid, credentials_changed=True)

    stored = FakturoidSettings.objects.get(agency=agency)
    assert stored.account_name == "Alexandr Hejsek"
    assert stored.vat_mode == "vat_payer"
    assert stored.currency == "CZK"
    assert stored.verified_at is not None
    assert stored.access_token == payload("token.json")["access_token"]


def test_wrong_credentials_are_not_saved(api, agency):
    add_token(api, status=401)

    with pytest.raises(AuthenticationError):
        connection_service.connect(fakturoid=settings_as_entered(agency), credentials_changed=True)

    assert not FakturoidSettings.objects.filter(agency=agency).exists()


def test_it_names_the_organisations_the_credentials_reach(api, agency):
    add_token(api)
    api.get(f"{API}/user.json", json=payload("user.json"), headers=RATE)

    with pytest.raises(errors.NoAccessToAccount) as raised:
        connection_service.connect(
            fakturoid=settings_as_entered(agency, account_slug="mojefirma"),
            credentials_changed=True,
        )

    assert raised.value.message == (
        'These credentials have no access to "mojefirma". They reach: "applecorp".'
    )


def test_unreachable_fakturoid_saves_the_settings_unverified(api, agency):
    api.post(f"{API}/oauth/token", body=requests.exceptions.ConnectionError("refused"))

    with pytest.raises(connection_service.SavedUnverified):
        connection_service.connect(fakturoid=settings_as_entered(agency), credentials_changed=True)

    stored = FakturoidSettings.objects.get(agency=agency)
    assert stored.api_client_secret == "secret-456"
    assert stored.verified_at is None


@pytest.mark.parametrize(
    ("entered", "slug"),
    [
        ("mojefirma", "mojefirma"),
        ("https://app.fakturoid.cz/mojefirma/invoices", "mojefirma"),
        ("app.fakturoid.cz/MojeFirma/", "mojefirma"),
        ("https://app.fakturoid.cz/api/v3/accounts/mojefirma/invoices.json", "mojefirma"),
        ("  mojefirma  ", "mojefirma"),
    ],
)
def test_it_accepts_the_organisation_name_or_a_pasted_url(entered, slug):
    assert fakturoid_forms.parse_account_slug(entered) == slug


# --- Linking clients to contacts ------------------------------------------------------------


def test_it_matches_on_ico_first(api, agency, connected, make_client):
    client = make_client(agency, "Alza", registration_no="27082440")
    add_search(api, "27082440", [subject_json(41, registration_no="27082440")])

    result = matching.match_client(client=client)

    client.refresh_from_db()
    assert result.matched_on == Client.LinkSource.REGISTRATION_NO
    assert client.fakturoid_subject_id == 41
    assert client.fakturoid_link_source == "registration_no"


def test_a_search_hit_on_another_field_is_not_a_match(api, agency, connected, make_client):
    """Fakturoid searches many fields; an IČO that only appears in a note is no match."""
    client = make_client(agency, "Alza", registration_no="27082440", email="", vat_no="")
    add_search(api, "27082440", [subject_json(41, registration_no="11111111", name="Other")])
    add_search(api, "Alza", [])

    result = matching.match_client(client=client)

    assert result.subjects == ()
    client.refresh_from_db()
    assert client.fakturoid_subject_id is None


def test_it_falls_back_to_email_then_to_the_exact_name(api, agency, connected, make_client):
    client = make_client(
        agency, "Pilulka  Lékárny a.s.", registration_no="", email="Billing@Pilulka.cz"
    )
    add_search(api, "Billing@Pilulka.cz", [])
    add_search(api, "Pilulka Lékárny a.s.", [subject_json(7, name="pilulka lékárny A.S.")])

    result = matching.match_client(client=client)

    assert result.matched_on == Client.LinkSource.NAME
    assert [s.id for s in result.subjects] == [7]


def test_several_matches_are_left_for_the_user_to_pick(api, agency, connected, make_client):
    client = make_client(agency, "Kasa", registration_no="", email="")
    add_search(api, "Kasa", [subject_json(1, name="Kasa"), subject_json(2, name="KASA")])

    result = matching.match_client(client=client)

    assert not result.is_unique
    assert [s.id for s in result.subjects] == [1, 2]
    client.refresh_from_db()
    assert client.fakturoid_subject_id is None


def test_it_reuses_the_contact_it_created_before(api, agency, connected, make_client):
    client = make_client(agency, "Rohlik")
    custom_id = f"{agency.key}-c{client.pk}"
    api.get(
        f"{ACCOUNT}/subjects.json",
        json=[subject_json(99, custom_id=custom_id)],
        headers=RATE,
        match=[matchers.query_param_matcher({"custom_id": custom_id, "page": "1"})],
    )

    subject = matching.create_subject_for(client=client)

    client.refresh_from_db()
    assert subject.id == 99
    assert client.fakturoid_subject_id == 99
    assert client.fakturoid_link_source == Client.LinkSource.CREATED


def test_it_creates_the_contact_from_our_billing_details(api, agency, connected, make_client):
    client = make_client(
        agency, "Rohlik", registration_no="27082440", city="Praha", email="f@rohlik.cz"
    )
    custom_id = f"{agency.key}-c{client.pk}"
    api.get(f"{ACCOUNT}/subjects.json", json=[], headers=RATE)
    api.post(
        f"{ACCOUNT}/subjects.json",
        status=201,
        json=subject_json(100, name="Rohlik", custom_id=custom_id),
        headers={**RATE, "Location": f"{ACCOUNT}/subjects/100.json"},
        match=[
            matchers.json_params_matcher(
                {
                    "custom_id": custom_id,
                    "name": "Rohlik",
                    "registration_no": "27082440",
                    "city": "Praha",
                    "email": "f@rohlik.cz",
                    "country": "CZ",
                    "currency": "CZK",
                }
            )
        ],
    )

    matching.create_subject_for(client=client)

    client.refresh_from_db()
    assert client.fakturoid_subject_id == 100


# --- Status coming back, and the PDF --------------------------------------------------------


def created_invoice(client: Client, *, status: str = "open", fakturoid_id: int = 529) -> Invoice:
    return Invoice.objects.create(
        agency=client.agency,
        client=client,
        period=OCTOBER,
        custom_id=custom_id_of(client),
        state=Invoice.State.CREATED,
        fakturoid_id=fakturoid_id,
        number="2026-0001",
        status=status,
    )


def test_it_waits_for_the_pdf_a_few_times_then_says_it_is_not_ready(api, busy_client, monkeypatch):
    waits = []
    monkeypatch.setattr(sync, "_sleep", waits.append)
    invoice = created_invoice(busy_client)
    url = f"{ACCOUNT}/invoices/529/download.pdf"
    for _attempt in range(3):
        api.get(url, status=204, match=[matchers.header_matcher({"Accept": "application/pdf"})])
    api.get(url, status=204)
    api.get(url, body=b"%PDF-1.4 test", content_type="application/pdf")

    assert sync.invoice_pdf(invoice=invoice) is None  # three 204s: given up, bounded
    assert waits == list(sync.PDF_WAITS)
    assert sync.invoice_pdf(invoice=invoice) == b"%PDF-1.4 test"  # ready on the second try


def test_it_keeps_only_web_links_from_fakturoid(api, busy_client, owner):
    hostile = invoice_json(custom_id=custom_id_of(busy_client))
    hostile["html_url"] = "javascript:alert(1)"
    add_create(api, busy_client, json=hostile)

    invoice = invoicing.create_invoice(client=busy_client, period=OCTOBER, user=owner)

    assert invoice.html_url == ""
    assert invoice.pdf_url.startswith("https://")


def test_the_bank_account_link_points_at_the_sandbox_when_it_stands_in(settings):
    settings.FAKTUROID_API_URL = "http://127.0.0.1:8000/sandbox/fakturoid/api/v3"
    error = Forbidden("bank", status=403, errors=payload("no_bank_account.json")["errors"])

    assert "http://127.0.0.1:8000/sandbox/fakturoid/applecorp/settings/bank_accounts" in (
        errors.explain(error)
    )
