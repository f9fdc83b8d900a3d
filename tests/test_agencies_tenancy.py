import pytest

from agencies.middleware import SESSION_KEY
from agencies.models import Membership
from clients.models import Client
from tests.support import login


@pytest.mark.parametrize("page", ["/clients/{pk}/", "/clients/{pk}/edit/", "/clients/{pk}/delete/"])
def test_it_hides_clients_of_other_agencies(owner_http, other_agency, make_client, page):
    foreign = make_client(other_agency, "Foreign s.r.o.")

    assert owner_http.get(page.format(pk=foreign.pk)).status_code == 404


def test_it_does_not_let_a_foreign_client_be_edited_or_deleted(
    owner_http, other_agency, make_client
):
    foreign = make_client(other_agency, "Foreign s.r.o.")

    edit = owner_http.post(f"/clients/{foreign.pk}/edit/", {"name": "Hacked"})
    delete = owner_http.post(f"/clients/{foreign.pk}/delete/")

    assert (edit.status_code, delete.status_code) == (404, 404)
    foreign.refresh_from_db()
    assert foreign.name == "Foreign s.r.o."


def test_it_lists_only_the_clients_of_the_current_agency(
    owner_http, agency, other_agency, make_client
):
    make_client(agency, "Ours s.r.o.")
    make_client(other_agency, "Theirs s.r.o.")

    response = owner_http.get("/")

    assert [client.name for client in response.context["clients"]] == ["Ours s.r.o."]
    assert "Theirs s.r.o." not in response.content.decode()


def test_it_creates_clients_in_the_current_agency(owner_http, agency, other_agency):
    data = {
        "name": "New s.r.o.",
        "country": "CZ",
        "currency": "CZK",
        "contacts-TOTAL_FORMS": "0",
        "contacts-INITIAL_FORMS": "0",
        "projects-TOTAL_FORMS": "0",
        "projects-INITIAL_FORMS": "0",
        "agency": other_agency.pk,
    }

    assert owner_http.post("/clients/new/", data).status_code == 302

    assert Client.objects.get().agency == agency


def test_it_refuses_to_switch_into_a_foreign_agency(owner_http, agency, other_agency):
    response = owner_http.post("/agency/switch/", {"agency": other_agency.pk})

    assert response.status_code == 404
    assert owner_http.session[SESSION_KEY] != other_agency.pk


def test_it_switches_between_the_users_own_agencies(owner, agency, make_agency, make_client):
    second = make_agency("Second Agency", owner=owner)
    make_client(second, "Second's client")
    http = login(owner)

    response = http.post("/agency/switch/", {"agency": second.pk, "next": "/"})

    assert response.status_code == 302
    assert [c.name for c in http.get("/").context["clients"]] == ["Second's client"]


def test_it_hides_the_members_page_from_members(member_http):
    assert member_http.get("/agency/members/").status_code == 403


def test_it_lets_an_owner_remove_members(owner_http, agency, member):
    membership = Membership.objects.get(agency=agency, user=member)

    response = owner_http.post(f"/agency/members/{membership.pk}/remove/", follow=True)

    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert "member was removed." in response.content.decode()


def test_it_keeps_the_last_owner_of_an_agency(owner_http, owner, agency):
    own = Membership.objects.get(agency=agency, user=owner)

    response = owner_http.post(f"/agency/members/{own.pk}/remove/", follow=True)

    assert Membership.objects.filter(pk=own.pk).exists()
    assert "at least one owner" in response.content.decode()


def test_it_does_not_let_an_owner_remove_members_of_other_agencies(owner_http, other_agency):
    foreign = Membership.objects.get(agency=other_agency)

    assert owner_http.post(f"/agency/members/{foreign.pk}/remove/").status_code == 404
    assert Membership.objects.filter(pk=foreign.pk).exists()
