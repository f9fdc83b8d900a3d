"""A client as big as the form allows can be saved again (issue 11, item 6).

The form caps contacts, projects and items per project; Django refuses a POST with more than
DATA_UPLOAD_MAX_NUMBER_FIELDS fields (400, the user's edits lost). The two must agree: the
page the app renders for a client at the caps is posted back exactly as a browser would.
"""

from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.conf import settings

from clients import limits
from clients.forms import BillingItemForm, ClientForm, ContactPersonForm, ProjectForm
from clients.limits import MAX_CONTACTS, MAX_ITEMS_PER_PROJECT, MAX_PROJECTS
from clients.models import BillingItem, ContactPerson, Project


class FormFields(HTMLParser):
    """The fields a browser submits with the client form: name → value, as rendered."""

    def __init__(self) -> None:
        super().__init__()
        self.data: list[tuple[str, str]] = []
        self._in_form = False
        self._select: str | None = None
        self._select_value = ""

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attrs = dict(attrs)
        if tag == "form" and "client-form" in (attrs.get("class") or ""):
            self._in_form = True
        if not self._in_form or "name" not in attrs and tag != "option":
            return
        if tag == "input":
            if attrs.get("type") in {"checkbox", "radio"} and "checked" not in attrs:
                return
            if attrs.get("type") == "submit":
                return
            default = "on" if attrs.get("type") == "checkbox" else ""
            self.data.append((attrs["name"], attrs.get("value") or default))
        elif tag == "select":
            self._select, self._select_value = attrs["name"], ""
        elif tag == "option" and self._select is not None:
            if "selected" in attrs or not self._select_value:
                self._select_value = attrs.get("value", "")
        elif tag == "textarea":
            self.data.append((attrs["name"], ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "select" and self._select is not None:
            self.data.append((self._select, self._select_value))
            self._select = None
        if tag == "form":
            self._in_form = False


def submitted_fields(html: str) -> dict[str, str]:
    parser = FormFields()
    parser.feed(html)
    return dict(parser.data)


def build_client_at_the_caps(make_client, agency, *, projects: int, items: int):  # noqa: ANN001
    client = make_client(agency, name="Velký klient a.s.")
    ContactPerson.objects.bulk_create(
        ContactPerson(client=client, name=f"Kontakt {n}") for n in range(MAX_CONTACTS)
    )
    made = Project.objects.bulk_create(
        Project(client=client, name=f"Projekt {n}") for n in range(projects)
    )
    BillingItem.objects.bulk_create(
        BillingItem(project=project, description=f"Položka {n}", amount=Decimal("100.00") + n)
        for project in made
        for n in range(items)
    )
    return client


@pytest.mark.parametrize(
    "projects, items",
    [(3, 32), (MAX_PROJECTS, MAX_ITEMS_PER_PROJECT)],
    ids=["96 items", "at the caps"],
)
def test_it_saves_a_client_as_big_as_the_form_allows(
    owner_http, agency, make_client, projects, items
):
    client = build_client_at_the_caps(make_client, agency, projects=projects, items=items)
    page = owner_http.get(f"/clients/{client.pk}/edit/")
    data = submitted_fields(page.content.decode())
    data["name"] = "Velký klient a.s. (renamed)"
    data["projects-0-items-0-amount"] = "999.00"

    response = owner_http.post(f"/clients/{client.pk}/edit/", data)

    assert len(data) <= limits.CLIENT_FORM_MAX_FIELDS
    assert response.status_code == 302, response.content.decode()[:2000]
    client.refresh_from_db()
    assert client.name == "Velký klient a.s. (renamed)"
    assert BillingItem.objects.filter(project__client=client).count() == projects * items
    first = BillingItem.objects.filter(project__client=client).order_by("pk").first()
    assert first.amount == Decimal("999.00")


def test_it_counts_the_fields_of_each_form_as_the_forms_have_them():
    assert limits.CLIENT_FIELDS == len(ClientForm.base_fields)
    assert limits.CONTACT_FIELDS == len(ContactPersonForm.base_fields)
    assert limits.PROJECT_FIELDS == len(ProjectForm.base_fields)
    assert limits.ITEM_FIELDS == len(BillingItemForm.base_fields)


def test_it_allows_as_many_fields_as_the_biggest_client_form_has():
    assert settings.DATA_UPLOAD_MAX_NUMBER_FIELDS >= limits.CLIENT_FORM_MAX_FIELDS
    # A bound, not a switch-off: one POST still cannot carry an unlimited number of fields.
    assert settings.DATA_UPLOAD_MAX_NUMBER_FIELDS <= 2 * limits.CLIENT_FORM_MAX_FIELDS
