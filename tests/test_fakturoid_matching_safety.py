"""Matching never bills the wrong company (issue 10, item 6): only IČO/DIČ link at once; an
e-mail or name match is a suggestion the user confirms seeing both sides; a contact with another
IČO/DIČ is a conflict; linking a contact without the client's IČO/DIČ warns; no second contact
for a linked client; "Match all" links only the certain ones and asks about the rest on one
screen. HTTP to Fakturoid is mocked with `responses`.
"""

import re
from html import unescape

import pytest
from django.contrib.messages import get_messages
from django.core.management import call_command

from clients.models import Client
from fakturoid_sandbox.models import Subject as SandboxSubject
from tests.support.fakturoid_mocks import ACCOUNT, RATE, add_search, subject_json

pytestmark = pytest.mark.usefixtures("fakturoid_config")

ACCOUNTANT = "ucetni@kancelar.cz"


def flashed(response) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def kavovar(agency, connected, make_client) -> Client:
    """A client whose billing e-mail is its accountant's, shared with other companies."""
    return make_client(
        agency,
        "Kávovar Hrubý s.r.o.",
        registration_no="27082440",
        vat_no="",
        email=ACCOUNTANT,
        street="Dlouhá 5",
        city="Olomouc",
        zip="77900",
    )


def accountant_contact(**fields) -> dict:
    defaults = {"name": "Účetní kancelář", "email": ACCOUNTANT, "registration_no": None}
    return subject_json(55, **(defaults | {"vat_no": None, "street": "Krátká 1"} | fields))


def test_a_match_on_a_shared_email_is_a_suggestion_showing_both_sides(api, owner_http, kavovar):
    add_search(api, "27082440", [])
    add_search(api, ACCOUNTANT, [accountant_contact()])

    response = owner_http.post(f"/fakturoid/clients/{kavovar.pk}/match/")

    kavovar.refresh_from_db()
    assert kavovar.fakturoid_subject_id is None  # before the fix: linked on the e-mail
    html = response.content.decode()
    assert response.status_code == 200
    assert "Found by billing e-mail or name only, not by IČO or DIČ" in html
    assert "27082440" in html and "Dlouhá 5" in html and "Krátká 1" in html
    assert "The contact has no IČO in Fakturoid" in html
    assert 'name="subject_id" value="55"' in html


def test_a_contact_with_another_ico_is_a_conflict_never_linked(api, owner_http, kavovar):
    add_search(api, "27082440", [])
    add_search(api, ACCOUNTANT, [accountant_contact(registration_no="11111111")])

    response = owner_http.post(f"/fakturoid/clients/{kavovar.pk}/match/")

    kavovar.refresh_from_db()
    assert kavovar.fakturoid_subject_id is None
    html = unescape(response.content.decode())
    assert "conflict" in html
    assert "The contact's IČO or DIČ differs from the client's" in html
    assert 'name="subject_id" value="55"' not in html  # no button to link it from here


def test_an_ico_match_whose_dic_differs_is_not_linked(api, agency, connected, make_client):
    from fakturoid.services import matching

    client = make_client(agency, "Alza", registration_no="27082440", vat_no="CZ27082440")
    add_search(api, "27082440", [subject_json(41, registration_no="27082440", vat_no="CZ999")])

    result = matching.match_client(client=client)

    client.refresh_from_db()
    assert client.fakturoid_subject_id is None
    assert [s.id for s in result.conflicts] == [41] and not result.is_certain


def test_linking_a_contact_without_the_clients_ico_warns(api, owner_http, kavovar):
    api.get(f"{ACCOUNT}/subjects/55.json", json=accountant_contact(), headers=RATE)

    response = owner_http.post(
        f"/fakturoid/clients/{kavovar.pk}/link/", {"subject_id": "55", "source": "email"}
    )

    assert flashed(response) == [
        ("success", "Linked to the Fakturoid contact Účetní kancelář (#55)."),
        (
            "warning",
            "Kávovar Hrubý s.r.o.: The contact has no IČO in Fakturoid: invoices would go out "
            "without the client's IČO. Add what is missing to the contact in Fakturoid.",
        ),
    ]
    kavovar.refresh_from_db()
    assert (kavovar.fakturoid_subject_id, kavovar.fakturoid_link_source) == (55, "email")


def test_creating_a_contact_for_a_linked_client_is_refused(api, owner_http, kavovar):
    kavovar.link_to_contact(41, source=Client.LinkSource.REGISTRATION_NO)

    response = owner_http.post(f"/fakturoid/clients/{kavovar.pk}/create-contact/")

    [(level, text)] = flashed(response)
    assert level == "error"
    assert "is already linked to the Fakturoid contact #41: no new contact was created" in text
    assert not api.calls
    kavovar.refresh_from_db()
    assert kavovar.fakturoid_subject_id == 41


def test_match_all_links_the_certain_and_asks_about_the_rest_on_one_screen(
    api, owner_http, agency, kavovar, make_client
):
    make_client(agency, "Alza", registration_no="45678901", email="")
    make_client(agency, "Kasa", registration_no="", email="")
    add_search(api, "45678901", [subject_json(41, registration_no="45678901")])
    add_search(api, "Kasa", [subject_json(1, name="Kasa"), subject_json(2, name="KASA")])
    add_search(api, "27082440", [])
    add_search(api, ACCOUNTANT, [accountant_contact()])

    page = owner_http.post("/fakturoid/match-all/").content.decode()

    assert Client.objects.get(name="Alza").fakturoid_subject_id == 41
    assert Client.objects.get(name="Kasa").fakturoid_subject_id is None
    assert Client.objects.get(pk=kavovar.pk).fakturoid_subject_id is None
    [form] = re.findall(r'<form[^>]*id="suggestions".*?</form>', page, re.S)
    for client, subject_ids in ((kavovar, ["55"]), (Client.objects.get(name="Kasa"), ["1", "2"])):
        for subject_id in subject_ids:
            assert f'name="client-{client.pk}" value="{subject_id}"' in form
    kasa = Client.objects.get(name="Kasa")

    api.reset()
    api.get(f"{ACCOUNT}/subjects/2.json", json=subject_json(2, name="KASA"), headers=RATE)
    response = owner_http.post(
        "/fakturoid/match-all/link/",
        {
            f"client-{kasa.pk}": "2",
            f"source-{kasa.pk}": "name",
            f"client-{kavovar.pk}": "",
            f"source-{kavovar.pk}": "email",
        },
    )

    assert response["Location"] == "/"
    kasa.refresh_from_db()
    assert (kasa.fakturoid_subject_id, kasa.fakturoid_link_source) == (2, "name")
    assert Client.objects.get(pk=kavovar.pk).fakturoid_subject_id is None


def test_match_all_cannot_link_another_agencys_client(api, owner_http, other_agency, make_client):
    foreign = make_client(other_agency, "Rival's client")

    response = owner_http.post("/fakturoid/match-all/link/", {f"client-{foreign.pk}": "2"})

    assert response.status_code == 302
    foreign.refresh_from_db()
    assert foreign.fakturoid_subject_id is None
    assert not api.calls


def test_the_demo_keeps_two_contacts_with_the_same_name(db, settings):
    settings.FAKTUROID_SANDBOX = True
    call_command("seed_demo", verbosity=0)

    names = list(SandboxSubject.objects.values_list("name", flat=True))
    namesakes = {name for name in names if names.count(name) > 1}
    assert namesakes
    assert Client.objects.filter(name__in=namesakes, fakturoid_subject_id=None).exists()
