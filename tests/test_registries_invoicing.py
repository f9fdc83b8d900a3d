"""Invoices in another currency at ČNB's rate of the taxable supply date, and reverse charge
for EU VAT payers confirmed by VIES: built, previewed and created end to end against the
Fakturoid sandbox and the ČNB stand-in."""

from datetime import date
from decimal import Decimal

import pytest
import requests
from django.urls import reverse
from django.utils import timezone

from clients.models import Client
from fakturoid.errors import NoExchangeRate
from fakturoid.services.invoicing import build_invoice, create_invoice
from fakturoid_sandbox.models import Invoice as SandboxInvoice
from registries.models import ExchangeRate
from registries_sandbox import rates
from registries_sandbox.control import update_switches
from tests.support.live_server import connect_to_live_sandbox, wait_for_live_server_threads
from tests.support.registries import CNB

EUR = Decimal("25.00")  # the stand-in's typical euro rate


def cnb_euro(day: date) -> Decimal:
    return rates.rate("EUR", EUR, day)


def make_eu_client(agency, make_client, make_project, make_item, **fields) -> Client:
    fields = {
        "registration_no": "",
        "vat_no": "SK2020345678",
        "country": "SK",
        "currency": "EUR",
        "fakturoid_subject_id": 16,
        **fields,
    }
    client = make_client(agency, "Dobrý obchod s.r.o.", **fields)
    make_item(make_project(client, "dobryobchod.sk"), "PPC management", "1000", vat_rate=21)
    return client


def confirm_in_vies(client: Client, status: str = "valid", vat_no: str | None = None) -> None:
    client.vies_status = status
    client.vies_vat_no = vat_no or client.vat_no
    client.vies_checked_at = timezone.now()
    client.save()


@pytest.mark.parametrize(
    ("period", "published"),
    [
        (date(2026, 3, 1), date(2026, 3, 31)),  # a Tuesday: that day's rate
        (date(2026, 5, 1), date(2026, 5, 29)),  # ends on a Sunday: Friday's
        (date(2024, 3, 1), date(2024, 3, 28)),  # Sunday after Good Friday: Thursday's
    ],
)
def test_it_bills_another_currency_at_the_rate_of_the_taxable_supply_date(
    standins, connected, agency, make_client, make_project, make_item, period, published
):
    client = make_eu_client(agency, make_client, make_project, make_item)

    draft = build_invoice(client=client, period=period)

    assert draft.payload["currency"] == "EUR"
    assert (
        draft.payload["taxable_fulfillment_due"]
        == (date(period.year, period.month + 1, 1) - date.resolution).isoformat()
    )
    assert draft.exchange_rate.published_on == published
    assert Decimal(draft.payload["exchange_rate"]) == cnb_euro(published)
    assert draft.native_total == (Decimal("1210.00") * cnb_euro(published)).quantize(
        Decimal("0.01")
    )


def test_it_sends_no_exchange_rate_in_the_accounts_own_currency(
    real_registries, connected, agency, make_client, make_project, make_item
):
    client = make_eu_client(agency, make_client, make_project, make_item, currency="CZK")

    draft = build_invoice(client=client, period=date(2026, 3, 1))

    assert "exchange_rate" not in draft.payload and draft.exchange_rate is None
    assert len(real_registries.calls) == 0


def test_it_asks_cnb_once_for_a_whole_month_end_run(
    real_registries, connected, agency, make_client, make_project, make_item
):
    real_registries.get(
        CNB,
        body="31.03.2026 #63\nzemě|měna|množství|kód|kurz\nEMU|euro|1|EUR|24,335\n"
        "USA|dolar|1|USD|22,410\n",
    )
    euro = make_eu_client(agency, make_client, make_project, make_item)
    dollar = make_eu_client(agency, make_client, make_project, make_item, currency="USD")

    drafts = [build_invoice(client=c, period=date(2026, 3, 1)) for c in (euro, dollar, euro)]

    assert [d.payload["exchange_rate"] for d in drafts] == ["24.335", "22.41", "24.335"]
    assert len(real_registries.calls) == 1
    assert ExchangeRate.objects.filter(day=date(2026, 3, 31)).count() == 2


def test_it_sends_nothing_without_the_exchange_rate(
    real_registries, connected, agency, make_client, make_project, make_item
):
    real_registries.get(CNB, body=requests.ConnectTimeout("slow"))
    client = make_eu_client(agency, make_client, make_project, make_item)

    with pytest.raises(NoExchangeRate) as caught:
        build_invoice(client=client, period=date(2026, 3, 1))

    assert caught.value.transient
    assert "Czech National Bank did not send its exchange rates in time" in caught.value.message


@pytest.mark.parametrize(
    ("vies", "reverse"),
    [
        ({"status": "valid"}, True),
        ({"status": "invalid"}, False),
        ({"status": "unavailable"}, False),
        ({"status": "valid", "vat_no": "SK2020999999"}, False),  # the DIČ changed since
        (None, False),  # never checked
    ],
    ids=["valid", "invalid", "unavailable", "other-number", "unchecked"],
)
def test_it_uses_reverse_charge_only_with_a_valid_vies_check(
    real_registries, connected, agency, make_client, make_project, make_item, vies, reverse
):
    client = make_eu_client(agency, make_client, make_project, make_item, currency="CZK")
    if vies:
        confirm_in_vies(client, **vies)

    draft = build_invoice(client=client, period=date(2026, 3, 1))

    assert draft.reverse_charge is reverse
    assert draft.payload.get("transferred_tax_liability", False) is reverse
    assert ("vat_rate" in draft.payload["lines"][0]) is not reverse
    assert draft.vat == (Decimal("0.00") if reverse else Decimal("210.00"))


def test_it_charges_vat_to_a_czech_vat_payer_confirmed_by_vies(
    real_registries, connected, agency, make_client, make_project, make_item
):
    client = make_eu_client(
        agency, make_client, make_project, make_item, vat_no="CZ26148731", currency="CZK"
    )
    confirm_in_vies(client)

    draft = build_invoice(client=client, period=date(2026, 3, 1))

    assert not draft.reverse_charge and draft.vat == Decimal("210.00")


def test_it_previews_the_rate_the_czk_total_and_the_reverse_charge(
    standins, connected, owner_http, agency, make_client, make_project, make_item
):
    client = make_eu_client(agency, make_client, make_project, make_item)
    confirm_in_vies(client)

    page = owner_http.get(reverse("fakturoid:invoice_preview", args=[client.pk, "2026-05"]))

    text = page.content.decode()
    published = date(2026, 5, 29)
    assert "Exchange rate of the Czech National Bank: 1 EUR = " in text
    assert f"{cnb_euro(published)} CZK, published 29 May 2026" in text
    native = (Decimal("1000.00") * cnb_euro(published)).quantize(Decimal("0.01"))
    assert f"CZK\N{NO-BREAK SPACE}{native:,}" in text  # one money format (issue 14)
    assert "Reverse charge" in text


def test_it_previews_why_there_is_no_rate(
    standins, connected, owner_http, agency, make_client, make_project, make_item
):
    client = make_eu_client(agency, make_client, make_project, make_item)
    update_switches("cnb", fail_next={"status": 503, "count": 1})

    page = owner_http.get(reverse("fakturoid:invoice_preview", args=[client.pk, "2026-05"]))

    assert "exchange rates are not available right now (error 503)" in page.content.decode()


def test_it_creates_an_eur_invoice_end_to_end(
    standins, settings, monkeypatch, agency, owner, owner_http
):
    scene = connect_to_live_sandbox(
        live_url=standins,
        settings=settings,
        monkeypatch=monkeypatch,
        agency=agency,
        http=owner_http,
    )
    Client.objects.filter(pk=scene.client.pk).update(currency="EUR")
    scene.client.refresh_from_db()

    invoice = create_invoice(client=scene.client, period=date(2026, 10, 1), user=owner)

    wait_for_live_server_threads()
    # 31 October 2026 is a Saturday: Friday's rate.
    rate = cnb_euro(date(2026, 10, 30))
    stored = SandboxInvoice.objects.get(pk=invoice.fakturoid_id)
    assert (stored.currency, stored.exchange_rate) == ("EUR", rate)
    assert stored.taxable_fulfillment_due == date(2026, 10, 31)
    assert invoice.state == invoice.State.CREATED and invoice.currency == "EUR"


def test_it_claims_and_sends_nothing_when_cnb_is_down(
    real_registries, connected, agency, owner, make_client, make_project, make_item
):
    real_registries.get(CNB, status=503, body="<html>503</html>")
    client = make_eu_client(agency, make_client, make_project, make_item)

    with pytest.raises(NoExchangeRate):
        create_invoice(client=client, period=date(2026, 3, 1), user=owner)

    assert not client.invoices.exists()
    assert [call.request.url.split("?")[0] for call in real_registries.calls] == [CNB]
