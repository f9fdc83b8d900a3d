"""The registers in the interface: "Fill from ARES" on the client form (without JavaScript, and
the part the page's script fetches), "Check all clients against ARES", "Check VAT number"."""

import pytest
from django.urls import reverse
from django.utils import translation

from clients.models import Client
from registries_sandbox.control import update_switches
from tests.support import login

NEW_CLIENT_FORM = {
    "name": "",
    "registration_no": "26148731",
    "vat_no": "",
    "street": "",
    "city": "",
    "zip": "",
    "country": "CZ",
    "email": "typed@example.cz",
    "phone": "",
    "currency": "CZK",
    "labels_text": "PPC",
    "fakturoid_subject_id": "",
    "contacts-TOTAL_FORMS": "1",
    "contacts-INITIAL_FORMS": "0",
    "contacts-0-name": "Jan Hrubý",
    "contacts-0-role": "",
    "contacts-0-email": "",
    "contacts-0-phone": "",
    "projects-TOTAL_FORMS": "0",
    "projects-INITIAL_FORMS": "0",
}
PREFILL = reverse("registries:ares_prefill")


def test_it_shows_what_ares_would_change_without_saving_or_flagging_anything(standins, owner_http):
    response = owner_http.post(PREFILL, {**NEW_CLIENT_FORM, "ares": "1"})

    assert response.status_code == 200
    page = response.content.decode()
    assert "ARES: Kávovar Hrubý s.r.o., IČO 26148731" in page
    assert 'name="ares-name" value="Kávovar Hrubý s.r.o."' in page
    assert 'name="ares-street" value="Lidická 700/42"' in page
    # What the user typed is still there, and nothing is called an error yet.
    assert 'value="typed@example.cz"' in page
    assert 'value="Jan Hrubý"' in page
    assert "errorlist" not in page
    assert not Client.objects.exists()


def test_it_puts_the_ares_values_into_the_form_when_applied(standins, owner_http):
    proposal = {"ares-name": "Kávovar Hrubý s.r.o.", "ares-city": "Brno", "ares-zip": "602 00"}

    response = owner_http.post(PREFILL, {**NEW_CLIENT_FORM, **proposal, "apply": "1"})

    page = response.content.decode()
    assert 'name="name" value="Kávovar Hrubý s.r.o."' in page
    assert 'name="city" value="Brno"' in page
    assert 'name="zip" value="602 00"' in page
    assert "Filled in from ARES. Check the details and save." in page
    assert not Client.objects.exists()


def test_it_sends_only_the_proposal_to_the_pages_script(standins, owner_http):
    response = owner_http.post(
        PREFILL, {**NEW_CLIENT_FORM, "ares": "1"}, headers={"X-Requested-With": "fetch"}
    )

    page = response.content.decode()
    assert page.lstrip().startswith('<div class="ares-proposal')
    assert "<html" not in page
    assert "Apply these changes" in page


@pytest.mark.parametrize(
    ("ico", "switches", "message"),
    [
        ("12345679", {}, "ARES has no company with IČO 12345679."),
        (
            "26148731",
            {"fail_next": {"status": 503, "count": 1}},
            "ARES is not working right now (error 503).",
        ),
        ("26148731", {"delay_ms": 1500}, "ARES did not answer in time."),
        ("", {}, "Type the IČO first, then press “Fill from ARES”."),
        ("26148732", {}, "IČO 26148732 has a wrong check digit"),
    ],
    ids=["unknown", "down", "slow", "empty", "typo"],
)
def test_it_explains_why_ares_could_not_fill_the_form_and_keeps_it(
    standins, owner_http, ico, switches, message
):
    if switches:
        update_switches("ares", **switches)

    response = owner_http.post(PREFILL, {**NEW_CLIENT_FORM, "registration_no": ico, "ares": "1"})

    page = response.content.decode()
    assert response.status_code == 200
    assert message in page
    assert 'value="typed@example.cz"' in page
    assert "Save and continue editing" in page


def test_it_fills_an_existing_client_from_ares_only_within_the_agency(
    standins, owner_http, agency, other_agency, make_client
):
    ours = make_client(agency, "Kavovar", registration_no="26148731")
    theirs = make_client(other_agency, "Kavovar", registration_no="26148731")
    data = {**NEW_CLIENT_FORM, "name": "Kavovar", "ares": "1"}

    mine = owner_http.post(reverse("registries:ares_prefill", args=[ours.pk]), data)
    foreign = owner_http.post(reverse("registries:ares_prefill", args=[theirs.pk]), data)

    assert mine.status_code == 200 and "Kávovar Hrubý s.r.o." in mine.content.decode()
    assert foreign.status_code == 404


@pytest.mark.parametrize(
    ("name", "args"),
    [("registries:ares_prefill", []), ("registries:vies_check", [1])],
)
def test_it_takes_state_changing_buttons_by_post_only(owner_http, name, args):
    assert owner_http.get(reverse(name, args=args)).status_code == 405


@pytest.mark.parametrize(
    "url",
    [
        reverse("registries:ares_prefill"),
        reverse("registries:ares_check_all"),
        reverse("registries:vies_check", args=[1]),
    ],
)
def test_it_sends_anonymous_users_to_the_login(client, url):
    response = client.post(url)
    assert response.status_code == 302 and response.url.startswith("/login/")


def test_it_lists_the_differences_of_the_agencys_clients_only(
    standins, owner_http, agency, other_agency, make_client
):
    make_client(agency, "Autodíly Procházka s.r.o.", registration_no="06392750")
    make_client(other_agency, "Pekárna U Mlýna s.r.o.", registration_no="06712541")

    page = owner_http.get(reverse("registries:ares_check_all")).content.decode()
    assert "Check all clients" in page and "ares-differences" not in page

    page = owner_http.post(reverse("registries:ares_check_all")).content.decode()
    assert "Autodíly Procházka a syn s.r.o." in page
    assert "new name" in page
    assert "Pekárna" not in page


def test_it_checks_the_vat_number_from_the_client_page(standins, owner_http, agency, make_client):
    client = make_client(agency, "Kávovar Hrubý s.r.o.", vat_no="CZ26148731")

    response = owner_http.post(reverse("registries:vies_check", args=[client.pk]), follow=True)

    page = response.content.decode()
    assert response.redirect_chain[-1][0] == reverse("clients:detail", args=[client.pk])
    assert "VIES confirms CZ26148731 as valid" in page
    assert "VIES: valid" in page


def test_it_says_when_vies_is_down_and_goes_back_to_the_form(
    standins, owner_http, agency, make_client
):
    client = make_client(agency, "Kávovar Hrubý s.r.o.", vat_no="CZ26148731")
    update_switches("vies", fail_next={"status": 500, "count": 1})

    response = owner_http.post(
        reverse("registries:vies_check", args=[client.pk]), {"next": "edit"}, follow=True
    )

    page = response.content.decode()
    assert response.redirect_chain[-1][0] == reverse("clients:edit", args=[client.pk])
    assert "VIES cannot check VAT numbers right now (MS_UNAVAILABLE)" in page
    assert "VIES: could not be checked" in page


def test_it_checks_no_vat_number_of_another_agency(owner_http, other_agency, make_client):
    theirs = make_client(other_agency, "Theirs", vat_no="CZ26148731")

    response = owner_http.post(reverse("registries:vies_check", args=[theirs.pk]))

    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.vies_status == ""


def test_it_shows_the_czech_wording(standins, owner, agency):
    http = login(owner)
    http.cookies["django_language"] = "cs"

    # The request switches this thread to Czech; the override switches it back afterwards.
    with translation.override("en"):
        page = http.post(PREFILL, {**NEW_CLIENT_FORM, "registration_no": "12345679", "ares": "1"})

    assert "ARES nezná firmu s IČO 12345679." in page.content.decode()


def test_it_saves_the_refilled_form_through_the_client_form(standins, owner_http):
    response = owner_http.post(PREFILL, {**NEW_CLIENT_FORM, "ares-name": "Kávovar", "apply": "1"})

    assert f'action="{reverse("clients:create")}"' in response.content.decode()
