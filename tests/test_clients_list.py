import re
from decimal import Decimal

from django.contrib.staticfiles import finders
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clients.models import BillingItem, Client, Label, Project
from clients.months import first_day, previous_month


def names_on(response) -> list[str]:
    return [client.name for client in response.context["clients"]]


def add_clients(agency, count: int, *, start: int = 0) -> None:
    """`count` clients, each with a label and an active project with a monthly item."""
    label, _ = Label.objects.get_or_create(agency=agency, name="PPC")
    clients = Client.objects.bulk_create(
        Client(agency=agency, name=f"Client {number:04d}") for number in range(start, start + count)
    )
    Client.labels.through.objects.bulk_create(
        Client.labels.through(client=client, label=label) for client in clients
    )
    projects = Project.objects.bulk_create(
        Project(client=client, name="Shop") for client in clients
    )
    BillingItem.objects.bulk_create(
        BillingItem(project=project, description="Fee", amount=100) for project in projects
    )


def test_it_is_the_home_page_with_the_client_figures(
    owner_http, agency, make_client, make_project, make_item
):
    client = make_client(agency, "Kávovar Hrubý s.r.o.", registration_no="26148731")
    client.labels.add(Label.objects.create(agency=agency, name="Key account"))
    make_item(make_project(client, "E-shop"), amount="12000")
    make_item(make_project(client, "Service"), amount="500.50")
    make_item(
        make_project(client, "Launch"),
        amount="9000",
        kind=BillingItem.Kind.ONE_OFF,
        month=previous_month(first_day(timezone.localdate())),  # the month the list shows
    )
    make_project(client, "Old", active=False)

    response = owner_http.get("/")

    assert response.status_code == 200
    row = response.context["clients"][0]
    # What the month's invoice bills: monthly fees and the month's one-off work.
    assert (len(row.active_projects), row.month_total) == (3, Decimal("21500.50"))
    html = response.content.decode()
    assert f'href="/clients/{client.pk}/"' in html
    assert "26148731" in html
    assert '<span class="badge">Key account</span>' in html
    assert "CZK\N{NO-BREAK SPACE}21,500.50" in html
    assert "Not linked" in html
    assert "New client" in html


def test_it_shows_the_fakturoid_link_status(owner_http, agency, make_client):
    make_client(agency, "Linked s.r.o.", fakturoid_subject_id=4321)

    html = owner_http.get("/").content.decode()

    assert "Linked #4321" in html
    assert "Not linked" not in html


def test_it_links_the_pencil_icon_to_the_client_form_with_an_accessible_name(
    owner_http, agency, make_client
):
    client = make_client(agency)

    html = owner_http.get("/").content.decode()

    pencil = re.search(r'<td class="icons">.*?<a (?P<attrs>[^>]*)>\s*<svg', html, re.S)
    assert pencil is not None
    assert f'href="/clients/{client.pk}/edit/"' in pencil["attrs"]
    assert 'aria-label="Edit client"' in pencil["attrs"]
    assert 'title="Edit client"' in pencil["attrs"]


def test_it_searches_by_name_ico_or_billing_email(owner_http, agency, make_client):
    make_client(agency, "Alza.cz a.s.", registration_no="27082440", email="a@alza.cz")
    make_client(agency, "Pekárna s.r.o.", registration_no="26148731", email="ucetni@pekarna.cz")
    make_client(agency, "Zahrady s.r.o.", registration_no="", email="faktury@kvetinka.cz")

    assert names_on(owner_http.get("/", {"q": "ALZA"})) == ["Alza.cz a.s."]
    assert names_on(owner_http.get("/", {"q": "2614"})) == ["Pekárna s.r.o."]
    assert names_on(owner_http.get("/", {"q": "kvetinka"})) == ["Zahrady s.r.o."]
    assert names_on(owner_http.get("/", {"q": "nothing-like-this"})) == []


def test_it_filters_by_a_label_of_the_agency(owner_http, agency, other_agency, make_client):
    ppc = Label.objects.create(agency=agency, name="PPC")
    foreign = Label.objects.create(agency=other_agency, name="PPC")
    make_client(agency, "With label").labels.add(ppc)
    make_client(agency, "Without label")

    assert names_on(owner_http.get("/", {"label": ppc.pk})) == ["With label"]
    response = owner_http.get("/", {"label": foreign.pk})
    assert names_on(response) == ["With label", "Without label"]
    assert [label.pk for label in response.context["labels"]] == [ppc.pk]


def test_it_sorts_by_name_both_ways(owner_http, agency, make_client):
    for name in ["Beta", "Alpha", "Gamma"]:
        make_client(agency, name)

    assert names_on(owner_http.get("/")) == ["Alpha", "Beta", "Gamma"]
    assert names_on(owner_http.get("/", {"sort": "-name"})) == ["Gamma", "Beta", "Alpha"]
    assert names_on(owner_http.get("/", {"sort": "nonsense"})) == ["Alpha", "Beta", "Gamma"]


def test_it_paginates_fifty_clients_per_page_keeping_the_filters(owner_http, agency):
    add_clients(agency, 53)
    label = Label.objects.get(agency=agency, name="PPC")

    first = owner_http.get("/", {"q": "client", "label": label.pk, "sort": "-name"})
    second = owner_http.get("/", {"q": "client", "label": label.pk, "sort": "-name", "page": 2})

    assert first.context["page"].paginator.num_pages == 2
    assert len(first.context["clients"]) == 50
    assert names_on(first)[0] == "Client 0052"
    assert names_on(second) == ["Client 0002", "Client 0001", "Client 0000"]
    next_link = re.search(r'href="(\?[^"]*)" rel="next"', first.content.decode())[1]
    assert "q=client" in next_link
    assert f"label={label.pk}" in next_link
    assert "sort=-name" in next_link
    assert "page=2" in next_link


def test_it_runs_the_same_number_of_queries_for_5_or_300_clients(owner_http, agency):
    add_clients(agency, 5)
    owner_http.get("/")  # warm up the session and caches

    with CaptureQueriesContext(connection) as few:
        assert owner_http.get("/").status_code == 200
    add_clients(agency, 295, start=5)
    with CaptureQueriesContext(connection) as many:
        response = owner_http.get("/")

    assert len(response.context["clients"]) == 50
    assert len(many) == len(few)


def test_it_counts_and_pages_the_bare_clients_without_grouping_them_all(owner_http, agency):
    add_clients(agency, 60)
    label = Label.objects.get(agency=agency, name="PPC")

    with CaptureQueriesContext(connection) as queries:
        response = owner_http.get("/", {"label": label.pk, "page": 2})

    assert len(response.context["clients"]) == 10
    sql = [query["sql"].upper() for query in queries]
    assert not [query for query in sql if "GROUP BY" in query]
    [count] = [query for query in sql if "COUNT(" in query]
    assert "SUM(" not in count
    assert "BILLINGITEM" not in count


def test_it_says_when_there_are_no_clients_yet(owner_http):
    html = owner_http.get("/").content.decode()

    assert "No clients yet." in html


def test_pages_have_a_favicon_and_the_logo(owner_http):
    html = owner_http.get("/").content.decode()

    assert '<link rel="icon" href="/static/img/logo.svg" type="image/svg+xml">' in html
    assert '<img src="/static/img/logo.svg" alt="" width="22" height="22">' in html
    assert finders.find("img/logo.svg")
