"""Small holes found by trying the app as an attacker would (issue 11, item 7)."""

import pytest

from clients.models import BillingItem, Client, ContactPerson, Project
from clients.text import visible_text
from tests.test_clients_form import ITEM, PROJECT, form_data

# --- the agency switcher --------------------------------------------------------------------


@pytest.mark.parametrize("value", ["abc", "", "1.5", "9" * 30, "-1"])
def test_it_answers_404_to_a_malformed_agency_switch(owner_http, agency, value):
    response = owner_http.post("/agency/switch/", {"agency": value})

    assert response.status_code == 404


def test_it_answers_404_to_an_agency_switch_without_an_agency(owner_http, agency):
    assert owner_http.post("/agency/switch/", {}).status_code == 404


# --- IČO and DIČ: ASCII digits only ---------------------------------------------------------

FULLWIDTH_ICO = "２６１４８７３１"  # 26148731 in fullwidth digits: passes \d and int()


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("registration_no", FULLWIDTH_ICO, "IČO must be exactly 8 digits."),
        ("registration_no", "２６１４８７３", "IČO must be exactly 8 digits."),
        ("registration_no", "٢٦١٤٨٧٣١", "IČO must be exactly 8 digits."),
        ("vat_no", "CZ" + FULLWIDTH_ICO, "DIČ must be a country code"),
        ("vat_no", "SK２０２２２２２２２２", "DIČ must be a country code"),
    ],
)
def test_it_refuses_non_ascii_digits_in_ico_and_dic(owner_http, agency, field, value, message):
    response = owner_http.post("/clients/new/", form_data({field: value}))

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Client.objects.exists()


# --- flash messages never turn user data into links -----------------------------------------


def test_it_never_turns_a_client_name_into_a_link_in_a_flash_message(owner_http, agency):
    response = owner_http.post(
        "/clients/new/", form_data({"name": "www.evil.example/login"}), follow=True
    )

    html = response.content.decode()
    assert "www.evil.example/login was saved." in html
    assert "<a" not in html.split('class="messages"')[1].split("</ul>")[0]


def test_it_still_links_fakturoid_own_page_in_a_flash_message(rf, settings):
    """The no-bank-account message carries Fakturoid's settings address: that one link stays."""
    from django.template import Context, Template

    settings.FAKTUROID_API_URL = "https://app.fakturoid.cz/api/v3"
    text = (
        "Evil www.evil.example/login s.r.o.: Fakturoid needs a bank account first: set it up in "
        "https://app.fakturoid.cz/acme/settings/bank_accounts"
    )

    html = Template("{% load fakturoid_links %}{{ text|link_fakturoid }}").render(
        Context({"text": text})
    )

    assert html.count("<a ") == 1
    assert '<a href="https://app.fakturoid.cz/acme/settings/bank_accounts"' in html
    assert "www.evil.example/login s.r.o." in html


def test_it_escapes_markup_around_the_fakturoid_link(settings):
    from django.template import Context, Template

    settings.FAKTUROID_API_URL = "https://app.fakturoid.cz/api/v3"
    text = '<b>x</b> https://app.fakturoid.cz/acme/"onmouseover="alert(1)'

    html = Template("{% load fakturoid_links %}{{ text|link_fakturoid }}").render(
        Context({"text": text})
    )

    assert "<b>" not in html
    assert 'onmouseover="' not in html


# --- invisible characters never reach an invoice --------------------------------------------

RLO = "\u202e"  # right-to-left override: "Acme\u202eLTD" shows as "AcmeDTL"
ZWSP = "\u200b"
HOSTILE = f"Ac{ZWSP}me{RLO} s.r.o.\u2066\u0007\u00ad"


def test_it_strips_invisible_characters():
    assert visible_text(HOSTILE) == "Acme s.r.o."
    assert visible_text("Kávovar Hrubý\tBrno\n") == "Kávovar Hrubý Brno"
    assert visible_text("Žluťoučký kůň 😀") == "Žluťoučký kůň 😀"


def test_it_strips_invisible_characters_from_names_and_descriptions(owner_http, agency):
    data = form_data(
        {"name": HOSTILE, "labels_text": f"PPC{ZWSP}, S{RLO}EO"},
        contacts=[{"name": f"Jan{RLO} Hrubý", "role": f"CEO{ZWSP}"}],
        projects=[
            {**PROJECT, "name": f"e{RLO}shop", "items": [{**ITEM, "description": f"P{ZWSP}PC"}]}
        ],
    )

    response = owner_http.post("/clients/new/", data)

    assert response.status_code == 302
    client = Client.objects.get()
    assert client.name == "Acme s.r.o."
    assert ContactPerson.objects.get().name == "Jan Hrubý"
    assert ContactPerson.objects.get().role == "CEO"
    assert Project.objects.get().name == "eshop"
    assert BillingItem.objects.get().description == "PPC"
    assert sorted(label.name for label in client.labels.all()) == ["PPC", "SEO"]


def test_it_asks_for_a_name_made_only_of_invisible_characters(owner_http, agency):
    response = owner_http.post("/clients/new/", form_data({"name": ZWSP + RLO}))

    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert not Client.objects.exists()
