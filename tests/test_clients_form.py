from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clients.models import BillingItem, Client, ContactPerson, Label, Project
from fakturoid.models import Invoice

BILLING = {
    "name": "Kávovar Hrubý s.r.o.",
    "registration_no": "26148731",
    "vat_no": "CZ26148731",
    "street": "Lidická 42",
    "city": "Brno",
    "zip": "602 00",
    "country": "CZ",
    "email": "fakturace@kavovarhruby.cz",
    "phone": "",
    "currency": "CZK",
    "labels_text": "",
    "fakturoid_subject_id": "",
}


def rows(prefix: str, forms: list[dict]) -> dict:
    """POST data of a formset; forms with an "id" are the existing ones and come first."""
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(forms)),
        f"{prefix}-INITIAL_FORMS": str(sum(1 for form in forms if "id" in form)),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for index, form in enumerate(forms):
        for name, value in form.items():
            if name == "items":
                data.update(rows(f"{prefix}-{index}-items", value))
            else:
                data[f"{prefix}-{index}-{name}"] = value
    return data


def form_data(billing: dict | None = None, *, contacts=(), projects=()) -> dict:
    return {
        **BILLING,
        **(billing or {}),
        **rows("contacts", list(contacts)),
        **rows("projects", list(projects)),
    }


ITEM = {
    "description": "PPC management",
    "amount": "12000.50",
    "vat_rate": "21",
    "kind": "monthly",
    "first_month": "2026-01",
    "last_month": "",
    "month": "",
}
PROJECT = {"name": "kavovarhruby.cz", "kind": "eshop", "url": "", "active": "on"}


def test_it_shows_a_new_client_form_with_one_row_of_each(owner_http):
    response = owner_http.get("/clients/new/")

    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="contacts-0-name"' in html
    assert 'name="projects-0-name"' in html
    assert 'name="projects-0-items-0-description"' in html
    assert 'name="projects-0-items-1-description"' not in html
    assert 'type="month"' in html
    assert "Fakturoid Client ID" in html
    assert "/subjects/&lt;id&gt;" in html


def test_it_opens_a_client_without_phantom_empty_rows(
    owner_http, agency, make_client, make_project, make_item
):
    client = make_client(agency)
    make_item(make_project(client, "Shop"), "Fee")

    html = owner_http.get(f"/clients/{client.pk}/edit/").content.decode()

    assert 'name="projects-0-items-0-description"' in html
    assert 'name="projects-0-items-1-description"' not in html
    assert 'name="projects-1-name"' not in html
    assert 'name="contacts-0-name"' not in html
    # One hidden item row serves every project's "Add item" button.
    assert html.count('name="projects-__prefix__-items-__prefix__-description"') == 1


def edit_data(client: Client, *, change: bool) -> dict:
    """The POST of the client's unchanged form; with `change`, each item's amount is new."""
    projects = [
        {
            "id": project.pk,
            **{name: getattr(project, name) for name in ("name", "kind", "url")},
            "active": "on",
            "items": [
                {
                    **ITEM,
                    "id": item.pk,
                    "description": item.description,
                    "amount": str(item.amount + (1 if change else 0)),
                }
                for item in project.billing_items.all()
            ],
        }
        for project in client.projects.all()
    ]
    return form_data({"name": client.name, "registration_no": ""}, projects=projects)


def test_it_opens_and_saves_a_client_in_as_many_queries_for_1_or_25_items(
    owner_http, agency, make_client, make_project, make_item
):
    small, large = make_client(agency, "Small s.r.o."), make_client(agency, "Large s.r.o.")
    make_item(make_project(small, "Shop"), "Fee", first_month=date(2026, 1, 1))
    for number in range(5):
        project = make_project(large, f"Shop {number}")
        for item in range(5):
            make_item(project, f"Fee {item}", first_month=date(2026, 1, 1))
    owner_http.get("/")  # the session's first request does extra work
    counts = {}
    for client in (small, large):
        url = f"/clients/{client.pk}/edit/"
        for what, data in (
            ("open", None),
            ("unchanged", edit_data(client, change=False)),
            ("changed", edit_data(client, change=True)),
        ):
            with CaptureQueriesContext(connection) as queries:
                response = owner_http.get(url) if data is None else owner_http.post(url, data)
            assert response.status_code == (200 if data is None else 302)
            counts[client.name, what] = len(queries)

    assert counts["Small s.r.o.", "open"] == counts["Large s.r.o.", "open"]
    assert counts["Small s.r.o.", "unchanged"] == counts["Large s.r.o.", "unchanged"]
    # A changed row (an item, and its project) costs its UPDATE and the audit trail's entry,
    # a few queries each; an unchanged row costs nothing (above: 1 or 25 items alike).
    large = counts["Large s.r.o.", "changed"] - counts["Large s.r.o.", "unchanged"]
    small = counts["Small s.r.o.", "changed"] - counts["Small s.r.o.", "unchanged"]
    assert large <= 6 * (25 + 5)
    assert small <= 6 * (1 + 1)


def test_it_creates_a_client_with_a_contact_a_project_and_an_item(owner_http, agency):
    data = form_data(
        {"labels_text": "PPC, SEO", "fakturoid_subject_id": "123"},
        contacts=[{"name": "Jan Hrubý", "role": "CEO", "email": "jan@kavovarhruby.cz"}],
        projects=[
            {
                **PROJECT,
                "items": [
                    ITEM,
                    {**ITEM, "description": "Audit", "kind": "one_off", "month": "2026-02"},
                ],
            }
        ],
    )

    response = owner_http.post("/clients/new/", data)

    client = Client.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/clients/{client.pk}/"
    assert client.agency == agency
    assert client.fakturoid_subject_id == 123
    assert client.fakturoid_link_source == Client.LinkSource.MANUAL
    assert sorted(label.name for label in client.labels.all()) == ["PPC", "SEO"]
    assert [c.name for c in client.contacts.all()] == ["Jan Hrubý"]
    project = client.projects.get()
    assert (project.name, project.active) == ("kavovarhruby.cz", True)
    items = {item.description: item for item in project.billing_items.all()}
    assert items["PPC management"].amount == Decimal("12000.50")
    assert items["PPC management"].first_month == date(2026, 1, 1)
    assert items["Audit"].month == date(2026, 2, 1)


def test_it_normalises_the_billing_details(owner_http, agency):
    data = form_data(
        {"registration_no": "261 48 731", "vat_no": "cz 26148731", "country": "cz"}
        | {"currency": "czk", "fakturoid_subject_id": "https://app.fakturoid.cz/acme/subjects/77"}
    )

    assert owner_http.post("/clients/new/", data).status_code == 302

    client = Client.objects.get()
    assert (client.registration_no, client.vat_no) == ("26148731", "CZ26148731")
    assert (client.country, client.currency, client.fakturoid_subject_id) == ("CZ", "CZK", 77)


def test_it_reuses_existing_labels_of_the_agency(owner_http, agency, other_agency):
    ppc = Label.objects.create(agency=agency, name="PPC")
    Label.objects.create(agency=other_agency, name="SEO")

    owner_http.post("/clients/new/", form_data({"labels_text": "ppc, SEO, , SEO"}))

    client = Client.objects.get()
    assert {label.pk for label in client.labels.all()} >= {ppc.pk}
    assert sorted(label.name for label in client.labels.all()) == ["PPC", "SEO"]
    assert all(label.agency == agency for label in client.labels.all())
    assert Label.objects.filter(agency=agency).count() == 2


def test_it_edits_a_client_its_contacts_projects_and_items(
    owner_http, agency, make_client, make_project, make_item
):
    client = make_client(agency, "Old name")
    contact = ContactPerson.objects.create(client=client, name="Jan", email="jan@example.cz")
    project = make_project(client, "Shop")
    item = make_item(project, "Fee", amount="100")
    data = form_data(
        {"name": "New name", "registration_no": "27082440"},
        contacts=[{"id": contact.pk, "name": "Jan Novák", "email": "jan@example.cz"}],
        projects=[
            {
                "id": project.pk,
                "name": "Shop",
                "kind": "eshop",
                "url": "https://shop.example.cz",
                "items": [{**ITEM, "id": item.pk, "description": "Fee", "amount": "250"}],
            },
        ],
    )

    response = owner_http.post(f"/clients/{client.pk}/edit/", data)

    assert response.status_code == 302
    client.refresh_from_db()
    project.refresh_from_db()
    item.refresh_from_db()
    assert client.name == "New name"
    assert client.contacts.get().name == "Jan Novák"
    assert (project.url, project.active) == ("https://shop.example.cz", False)
    assert item.amount == Decimal("250")


def test_it_shows_the_stored_values_on_the_edit_page(
    owner_http, agency, make_client, make_project, make_item
):
    client = make_client(agency, fakturoid_subject_id=55)
    client.labels.add(Label.objects.create(agency=agency, name="PPC"))
    make_item(make_project(client), first_month=date(2026, 1, 1))

    html = owner_http.get(f"/clients/{client.pk}/edit/").content.decode()

    assert 'value="PPC"' in html
    assert 'value="55"' in html
    assert 'value="2026-01"' in html


def test_it_removes_rows_marked_for_removal(
    owner_http, agency, make_client, make_project, make_item
):
    client = make_client(agency)
    contact = ContactPerson.objects.create(client=client, name="Jan")
    kept = make_project(client, "Kept")
    dropped_item = make_item(kept, "Dropped item")
    removed = make_project(client, "Removed")
    make_item(removed, "Goes with its project")
    data = form_data(
        contacts=[{"id": contact.pk, "name": "Jan", "DELETE": "on"}],
        projects=[
            {
                "id": kept.pk,
                **PROJECT,
                "name": "Kept",
                "items": [{**ITEM, "id": dropped_item.pk, "DELETE": "on"}],
            },
            {"id": removed.pk, **PROJECT, "name": "Removed", "DELETE": "on", "items": []},
        ],
    )

    assert owner_http.post(f"/clients/{client.pk}/edit/", data).status_code == 302

    assert not ContactPerson.objects.exists()
    assert list(Project.objects.values_list("name", flat=True)) == ["Kept"]
    assert not BillingItem.objects.exists()


def test_it_redisplays_an_invalid_ico_next_to_the_field_and_saves_nothing(owner_http):
    data = form_data(
        {"registration_no": "26148732"},
        contacts=[{"name": "Jan"}],
        projects=[{**PROJECT, "items": [ITEM]}],
    )

    response = owner_http.post("/clients/new/", data)

    assert response.status_code == 200
    assert "registration_no" in response.context["editor"].form.errors
    html = response.content.decode()
    field = html.split('id="id_registration_no"')[1].split('class="field')[0]
    assert "wrong check digit" in field
    assert 'value="26148732"' in html
    assert not Client.objects.exists()
    assert not ContactPerson.objects.exists()
    assert not Project.objects.exists()


def test_it_saves_nothing_when_a_billing_item_is_invalid(
    owner_http, agency, make_client, make_project
):
    client = make_client(agency, "Unchanged")
    project = make_project(client, "Shop")
    data = form_data(
        {"name": "Changed"},
        contacts=[{"name": "New contact"}],
        projects=[
            {
                "id": project.pk,
                **PROJECT,
                "items": [ITEM, {**ITEM, "description": "Bad", "amount": "0"}],
            },
        ],
    )

    response = owner_http.post(f"/clients/{client.pk}/edit/", data)

    assert response.status_code == 200
    client.refresh_from_db()
    assert client.name == "Unchanged"
    assert not ContactPerson.objects.exists()
    assert not BillingItem.objects.exists()
    cell = response.content.decode().split('name="projects-0-items-1-amount"')[1].split("</td>")[0]
    assert "greater than zero" in cell


@pytest.mark.parametrize(
    ("item", "field", "message"),
    [
        ({"kind": "one_off", "month": ""}, "month", "needs the month"),
        ({"first_month": "2026-13"}, "first_month", "YYYY-MM"),
        ({"first_month": "march"}, "first_month", "YYYY-MM"),
        ({"first_month": "2026-05", "last_month": "2026-04"}, "last_month", "before the first"),
        ({"amount": "abc"}, "amount", "Enter a number"),
    ],
)
def test_it_shows_item_errors_in_their_cell(owner_http, item, field, message):
    data = form_data(projects=[{**PROJECT, "items": [{**ITEM, **item}]}])

    response = owner_http.post("/clients/new/", data)

    assert response.status_code == 200
    html = response.content.decode()
    cell = html.split(f'name="projects-0-items-0-{field}"')[1].split("</td>")[0]
    assert message in cell
    assert not Client.objects.exists()


def test_it_asks_for_the_name_of_a_new_project_that_has_items(owner_http):
    data = form_data(projects=[{**PROJECT, "name": "", "items": [ITEM]}])

    response = owner_http.post("/clients/new/", data)

    assert response.status_code == 200
    assert "name" in response.context["editor"].projects.forms[0].errors
    assert not Client.objects.exists()


def test_it_ignores_untouched_extra_rows(owner_http):
    untouched_item = {**ITEM, "description": "", "amount": "", "first_month": ""}
    data = form_data(
        contacts=[{"name": "", "role": "", "email": "", "phone": ""}],
        projects=[{**PROJECT, "name": "", "items": [untouched_item]}],
    )

    assert owner_http.post("/clients/new/", data).status_code == 302

    assert Client.objects.count() == 1
    assert not Project.objects.exists()


def test_it_clears_the_link_source_when_the_fakturoid_id_is_removed(
    owner_http, agency, make_client
):
    client = make_client(
        agency, fakturoid_subject_id=9, fakturoid_link_source=Client.LinkSource.EMAIL
    )
    unchanged = form_data({"fakturoid_subject_id": "9", "registration_no": "27082440"})

    owner_http.post(f"/clients/{client.pk}/edit/", unchanged)
    client.refresh_from_db()
    assert client.fakturoid_link_source == Client.LinkSource.EMAIL

    owner_http.post(f"/clients/{client.pk}/edit/", {**unchanged, "fakturoid_subject_id": ""})
    client.refresh_from_db()
    assert (client.fakturoid_subject_id, client.fakturoid_link_source) == (None, "")


@pytest.mark.parametrize("value", ["abc", "-5", "0", "https://example.com/invoices/5"])
def test_it_rejects_a_fakturoid_id_that_is_not_a_contact_number(owner_http, value):
    response = owner_http.post("/clients/new/", form_data({"fakturoid_subject_id": value}))

    assert response.status_code == 200
    assert "fakturoid_subject_id" in response.context["editor"].form.errors


def test_it_shows_the_client_with_its_projects_and_items(
    owner_http, agency, make_client, make_project, make_item
):
    client = make_client(agency, "Kávovar Hrubý s.r.o.", city="Brno")
    ContactPerson.objects.create(client=client, name="Jan Hrubý", email="jan@example.cz")
    project = make_project(client, "kavovarhruby.cz")
    make_item(project, "Google Ads", amount="14500", first_month=date(2026, 1, 1))
    make_item(project, "Audit", kind=BillingItem.Kind.ONE_OFF, month=date(2026, 2, 1))

    html = owner_http.get(f"/clients/{client.pk}/").content.decode()

    for text in ["Brno", "Jan Hrubý", "kavovarhruby.cz", "Google Ads", "14,500.00", "01/2026 –"]:
        assert text in html
    assert "02/2026" in html
    assert "One-off" in html


def test_it_deletes_a_client_after_confirmation(owner_http, agency, make_client):
    client = make_client(agency)

    confirmation = owner_http.get(f"/clients/{client.pk}/delete/")
    assert confirmation.status_code == 200
    assert Client.objects.filter(pk=client.pk).exists()

    response = owner_http.post(f"/clients/{client.pk}/delete/")

    assert response["Location"] == "/"
    assert not Client.objects.filter(pk=client.pk).exists()


def test_it_refuses_to_delete_a_client_with_invoices(owner_http, agency, make_client):
    client = make_client(agency)
    Invoice.objects.create(
        agency=agency, client=client, period=date(2026, 1, 1), custom_id="k-c1-2026-01"
    )

    assert "has invoices" in owner_http.get(f"/clients/{client.pk}/delete/").content.decode()
    response = owner_http.post(f"/clients/{client.pk}/delete/", follow=True)

    assert response.status_code == 200
    assert "has invoices and cannot be deleted" in response.content.decode()
    assert Client.objects.filter(pk=client.pk).exists()


def test_a_contact_persons_name_is_jmeno_in_czech(owner_http, agency, make_client):
    client = make_client(agency)

    html = owner_http.get(f"/clients/{client.pk}/edit/", HTTP_ACCEPT_LANGUAGE="cs").content.decode()

    assert '<label class="cell-label" for="id_contacts-__prefix__-name">Jméno</label>' in html
    assert "<th>Jméno</th>" in html
    assert '<label for="id_name">Název *</label>' in html
