"""The audit trail (issue 11, item 8): who changed the Fakturoid settings, linked or unlinked a
client, changed billing items or prices, created or retried an invoice, invited or removed a
member, with the values before and after; per client on its page, per agency for owners."""

import json

import pytest
from django.db.models import Max
from django.test import Client as HttpClient
from django.utils import translation
from responses import matchers

from agencies.models import FakturoidSettings, Membership
from audit.models import ActivityEntry
from fakturoid.models import Invoice
from tests.support import login
from tests.support.fakturoid_mocks import ACCOUNT, RATE, custom_id_of
from tests.test_clients_form import BILLING, ITEM, PROJECT, form_data
from tests.test_fakturoid_settings import SECRET, add_verification, entered
from tests.test_fakturoid_views import add_create, billed_client, post_invoice  # noqa: F401

STORED_SECRET = "secret-456"  # the conftest fakturoid_settings' Secret ID


@pytest.fixture(autouse=True)
def back_to_the_default_language():
    """LocaleMiddleware leaves the last request's language active in the thread: reset it, or
    tests that run after these would see Czech outside their own requests."""
    yield
    translation.deactivate()


def entries(agency, **filters) -> list[ActivityEntry]:  # noqa: ANN001
    return list(ActivityEntry.objects.for_agency(agency.pk).filter(**filters).order_by("pk"))


def changes(entry: ActivityEntry) -> dict[str, tuple[str, str]]:
    return {change.label: (change.old, change.new) for change in entry.field_changes()}


def activity_page(http: HttpClient) -> str:
    response = http.get("/agency/activity/")
    assert response.status_code == 200
    return response.content.decode()


# --- What is recorded -----------------------------------------------------------------------


def test_it_records_who_changed_the_fakturoid_settings_and_never_the_secrets(
    api, owner_http, agency, owner, fakturoid_settings
):
    add_verification(api)

    owner_http.post("/agency/settings/fakturoid/", entered(due_days="30"))

    entry = entries(agency, content_type__model="fakturoidsettings")[-1]
    assert entry.actor == owner
    assert entry.action == ActivityEntry.Action.UPDATE
    recorded = changes(entry)
    assert recorded["organisation name"] == ("acme", "applecorp")
    assert recorded["Client ID"] == ("client-id-123", "client-id-new")
    assert recorded["payment due date (days)"] == ("14", "30")
    stored = json.dumps([list(ActivityEntry.objects.values())], default=str)
    fakturoid = FakturoidSettings.objects.get(agency=agency)
    for secret in (SECRET, STORED_SECRET, fakturoid.access_token, "Secret ID", "access token"):
        assert secret not in stored
    assert "applecorp" in activity_page(owner_http)


def test_it_records_who_linked_and_unlinked_a_client(owner_http, member_http, agency, owner):
    owner_http.post("/clients/new/", form_data())
    client = agency.clients.get()
    data = form_data({"fakturoid_subject_id": "123"})

    member_http.post(f"/clients/{client.pk}/edit/", data)
    owner_http.post(f"/clients/{client.pk}/edit/", form_data({"fakturoid_subject_id": ""}))

    linked, unlinked = entries(agency, client_id=client.pk, action=ActivityEntry.Action.UPDATE)
    assert linked.actor.username == "member"
    assert changes(linked)["Fakturoid Client ID"] == ("—", "123")
    assert unlinked.actor == owner
    assert changes(unlinked)["Fakturoid Client ID"] == ("123", "—")


def test_it_records_billing_item_and_price_changes_on_the_client_page(
    owner_http, member_http, agency
):
    owner_http.post("/clients/new/", form_data(projects=[{**PROJECT, "items": [ITEM]}]))
    client = agency.clients.get()
    project = client.projects.get()
    item = project.billing_items.get()
    edited = form_data(
        projects=[
            {
                **PROJECT,
                "id": project.pk,
                "items": [{**ITEM, "id": item.pk, "amount": "13500.00"}],
            }
        ]
    )

    member_http.post(f"/clients/{client.pk}/edit/", edited)

    entry = entries(agency, client_id=client.pk, content_type__model="billingitem")[-1]
    assert entry.actor.username == "member"
    assert changes(entry)["amount"] == ("12000.50", "13500.00")
    page = member_http.get(f"/clients/{client.pk}/").content.decode()
    assert 'id="activity"' in page
    assert "Changed billing item “PPC management (13500.00)”" in page
    assert "12000.50 → 13500.00" in page


def test_it_records_who_created_and_who_retried_an_invoice(
    api,
    owner_http,
    member_http,
    agency,
    billed_client,  # noqa: F811
):
    add_create(api, billed_client, status=422, json={"errors": {"subject_id": ["is invalid"]}})
    api.get(  # the retry looks the invoice up before it posts again
        f"{ACCOUNT}/invoices.json",
        json=[],
        headers=RATE,
        match=[
            matchers.query_param_matcher({"custom_id": custom_id_of(billed_client), "page": "1"})
        ],
    )
    add_create(api, billed_client)

    post_invoice(owner_http, billed_client)
    post_invoice(member_http, billed_client)

    invoice = Invoice.objects.get()
    assert invoice.state == Invoice.State.CREATED
    created, *updates = entries(agency, content_type__model="invoice")
    assert (created.action, created.actor.username) == (ActivityEntry.Action.CREATE, "owner")
    assert created.client_id == billed_client.pk
    assert [(changes(u)["state"], u.actor.username) for u in updates] == [
        (("in progress", "failed"), "owner"),
        (("failed", "in progress"), "member"),  # the retry
        (("in progress", "created"), "member"),
    ]


def test_it_records_invitations_and_removed_members(owner_http, agency, owner, member):
    before = ActivityEntry.objects.aggregate(last=Max("pk"))["last"] or 0
    owner_http.post("/agency/members/", {"email": "new.person@example.com", "role": "owner"})
    invitation = agency.invitations.get()
    owner_http.post(f"/agency/invitations/{invitation.pk}/revoke/")
    membership = Membership.objects.get(agency=agency, user=member)
    owner_http.post(f"/agency/members/{membership.pk}/remove/")

    invited, revoked, removed = entries(agency, pk__gt=before)
    assert (invited.action, invited.actor) == (ActivityEntry.Action.CREATE, owner)
    assert changes(invited)["e-mail"] == ("—", "new.person@example.com")
    assert changes(invited)["role"] == ("—", "Owner")
    assert "token hash" not in json.dumps(invited.changes) and "token_hash" not in str(
        invited.changes
    )
    assert revoked.action == ActivityEntry.Action.DELETE
    assert (removed.action, removed.object_repr) == (
        ActivityEntry.Action.DELETE,
        f"member @ {agency.name} (member)",
    )
    assert changes(removed)["user"] == ("member", "—")
    page = activity_page(owner_http)
    assert "Created invitation" in page and "Deleted membership" in page
    assert '<span class="muted">E-mail:</span> new.person@example.com</div>' in page
    assert "— → —" not in page


def test_it_ignores_a_correlation_id_sent_by_the_browser(owner_http, agency):
    """auditlog would store any X-Correlation-ID header (255 characters at most in the
    database: a longer one made every tracked save fail on PostgreSQL)."""
    response = owner_http.post(
        "/clients/new/", form_data(), headers={"x-correlation-id": "x" * 300}
    )

    assert response.status_code == 302
    assert entries(agency, content_type__model="client")[-1].cid is None


# --- Who sees it ----------------------------------------------------------------------------


def test_it_shows_the_agency_activity_to_owners_only(member_http, agency):
    assert member_http.get("/agency/activity/").status_code == 403


def test_it_keeps_each_agencys_activity_to_itself(owner_http, agency, other_agency, make_client):
    rival_client = make_client(other_agency, "Rival Secret Client a.s.")
    rival_owner = Membership.objects.get(agency=other_agency).user
    login(rival_owner).post(
        f"/clients/{rival_client.pk}/edit/", {**form_data(), **BILLING, "name": "Renamed Rival"}
    )
    assert entries(other_agency)

    page = activity_page(owner_http)

    assert "Rival" not in page
    assert "Created membership “owner @ Acme Agency (owner)”" in page
    assert owner_http.get(f"/clients/{rival_client.pk}/").status_code == 404


def test_it_shows_a_client_only_its_own_activity(owner_http, agency, make_client):
    first = make_client(agency, "First s.r.o.")
    make_client(agency, "Second s.r.o.")

    page = owner_http.get(f"/clients/{first.pk}/").content.decode()
    activity = page.split('id="activity"')[1]

    assert "First s.r.o." in activity
    assert "Second s.r.o." not in activity


@pytest.mark.parametrize("language, text", [("en", "Activity"), ("cs", "Aktivita")])
def test_it_names_the_activity_section_in_each_language(
    owner_http, agency, make_client, language, text
):
    client = make_client(agency)

    page = owner_http.get(f"/clients/{client.pk}/", headers={"accept-language": language})

    assert f">{text}</h2>" in page.content.decode()
