"""Tenant isolation over every URL of the app, found by walking the URL configuration.

Each URL with parameters is requested with the ids of another agency's objects (404 or 403 for
GET and POST, for a member and an owner), each URL without parameters must show only the own
agency's data, POST-only views refuse GET, every POST needs a CSRF token, every page needs a
login and no GET changes data. A new URL is covered as soon as it is added; one whose
parameters the walker cannot fill fails `test_it_can_fill_every_url_parameter_of_the_app`.
"""

import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pytest
import responses
from django.apps import apps
from django.contrib.auth import get_user_model
from django.db.models import Max
from django.test import Client as HttpClient
from django.urls import URLResolver, get_resolver
from django.urls.resolvers import RegexPattern
from django.utils import timezone

from agencies.models import Agency, FakturoidSettings, Invitation, Membership
from clients.models import BillingItem, Client, ContactPerson, Label, Project
from fakturoid.models import ApiCall, Dispatch, Invoice, InvoiceRun, InvoiceRunItem
from tests.support import login

User = get_user_model()

# Not the app's own pages: Django's admin and auth views, the language switch, the sandbox
# (which stands for Fakturoid's own site and has its own tests), and the invitation link, which
# is opened without a login, holds a token instead of an id, and has its own tests
# (tests/test_agencies_invitations.py).
# Fakturoid's webhook receiver is authenticated by its shared secret, not a login or a CSRF
# token: tests/test_fakturoid_webhooks.py covers it (and that it is the only exempt view).
SKIPPED_PREFIXES = (
    "admin/",
    "login/",
    "logout/",
    "password/",
    "i18n/",
    "static/",
    "sandbox/",
    "join/",
    "fakturoid/webhooks/",
)
SKIPPED_NAMESPACES = {"sandbox", "admin"}

# How a URL parameter is filled: an int after one of these path segments is the id of that
# kind of object; these parameter names are months.
RESOURCE_SEGMENTS = {
    "clients": "client",
    "members": "membership",
    "invoices": "invoice",
    "invitations": "invitation",
    "payments": "payment",  # a payment's id in Fakturoid, reached through our invoice
    "dispatches": "dispatch",
    "runs": "run",
}
MONTH_PARAMETERS = {"month", "period"}
MONTH = "2026-10"
PARAMETER = re.compile(r"<(?:(?P<converter>\w+):)?(?P<name>\w+)>")

# Text that belongs only to the other agency: none of it may appear on our pages.
RIVAL_MARKERS = [
    "Rival Agency",
    "Rival Secret Client",
    "Rival Contact Person",
    "Rival Project",
    "Rival Retainer",
    "RivalLabel",
    "RIVAL-0001",
    "Rival Account s.r.o.",
    "rival-slug",
    "rival-marker",
    "rival@example.com",
    "rival-invitee@example.com",
]
RIVAL_SECRET = "rival-secret-marker-9f8e7d"
RIVAL_TOKEN = "rival-token-marker-1a2b3c"

# Sent with every POST to another agency's objects: had a view forgotten to scope its query,
# these would rename, demote, link or invoice the other agency's data.
HOSTILE_POST = {
    "name": "Hacked",
    "role": "member",
    "period": MONTH,
    "subject_id": "1",
    "source": "manual",
    "q": "Rival",
}


class Unfillable(Exception):
    """The walker does not know what to put into a URL parameter."""


@dataclass(frozen=True)
class Route:
    name: str
    route: str
    view: Callable
    regex_groups: int = 0

    @property
    def has_parameters(self) -> bool:
        return bool(PARAMETER.search(self.route)) or self.regex_groups > 0

    @property
    def allowed_methods(self) -> list[str] | None:
        return allowed_methods(self.view)

    @property
    def post_only(self) -> bool:
        return self.allowed_methods == ["POST"]

    def url(self, objects: dict[str, int]) -> str:
        """The route with every parameter filled from `objects` (kind → id)."""
        if self.regex_groups:
            raise Unfillable(f"{self.name}: a regular expression route with groups ({self.route})")

        def fill(match: re.Match) -> str:
            kind = parameter_kind(self.route, match)
            if kind is None:
                raise Unfillable(
                    f"{self.name}: cannot fill <{match[0][1:-1]}> in {self.route!r}. Name its "
                    "kind in RESOURCE_SEGMENTS and create one such object per agency in "
                    "own_objects() and the world fixture of tests/test_security_isolation.py."
                )
            return MONTH if kind == "month" else str(objects[kind])

        return "/" + PARAMETER.sub(fill, self.route)

    def __str__(self) -> str:
        return self.name


def parameter_kind(route: str, match: re.Match) -> str | None:
    """What a URL parameter stands for: 'month', or the kind of object whose id it takes."""
    if match["name"] in MONTH_PARAMETERS:
        return "month"
    if match["converter"] != "int":
        return None
    segment = route[: match.start()].rstrip("/").rsplit("/", 1)[-1]
    return RESOURCE_SEGMENTS.get(segment)


def allowed_methods(view: Callable) -> list[str] | None:
    """The methods allowed by a require_http_methods decorator (require_POST, ...) anywhere in
    the view's chain of wrappers; None when no decorator restricts them."""
    func = view
    while func is not None:
        code = getattr(func, "__code__", None)
        if code is not None and func.__closure__:
            free = dict(zip(code.co_freevars, func.__closure__, strict=True))
            if "request_method_list" in free:
                return list(free["request_method_list"].cell_contents)
        func = getattr(func, "__wrapped__", None)
    return None


def app_routes() -> list[Route]:
    """Every URL pattern of the app (not admin, auth, language switch or sandbox)."""
    routes: list[Route] = []

    def walk(patterns: list, prefix: str, namespace: str) -> None:
        for entry in patterns:
            is_regex = isinstance(entry.pattern, RegexPattern)
            text = str(entry.pattern)
            if is_regex:
                text = text.removeprefix("^").removesuffix("$")
            route = prefix + text
            if route.startswith(SKIPPED_PREFIXES):
                continue
            if isinstance(entry, URLResolver):
                if entry.namespace in SKIPPED_NAMESPACES:
                    continue
                walk(
                    entry.url_patterns, route, ":".join(filter(None, [namespace, entry.namespace]))
                )
            else:
                name = ":".join(filter(None, [namespace, entry.name])) if entry.name else route
                groups = entry.pattern.regex.groups if is_regex else 0
                routes.append(Route(name, route, entry.callback, groups))

    walk(get_resolver().url_patterns, "", "")
    return routes


ROUTES = app_routes()
PARAMETER_ROUTES = [route for route in ROUTES if route.has_parameters]
PLAIN_ROUTES = [route for route in ROUTES if not route.has_parameters]
POST_ONLY_ROUTES = [route for route in ROUTES if route.post_only]


# --- The two agencies -----------------------------------------------------------------------


def own_objects(agency: Agency, *, suffix: str = "") -> dict[str, int]:
    """A client with a contact, project, billing item, label and invoice, and a membership."""
    client = Client.objects.create(agency=agency, name=f"Our Client s.r.o.{suffix}")
    ContactPerson.objects.create(client=client, name="Our Contact")
    project = Project.objects.create(client=client, name="Our Project")
    BillingItem.objects.create(project=project, description="Our Retainer", amount=Decimal("100"))
    label, _created = Label.objects.get_or_create(agency=agency, name="OurLabel")
    client.labels.add(label)
    invoice = Invoice.objects.create(
        agency=agency,
        client=client,
        period=date(2026, 10, 1),
        custom_id=f"{agency.key}-c{client.pk}-{MONTH}",
        state=Invoice.State.CREATED,
        number=f"OUR-{client.pk}",
    )
    user = User.objects.create_user(username=f"our-member{suffix or client.pk}", password="x")
    membership = Membership.objects.create(user=user, agency=agency, role=Membership.Role.MEMBER)
    invitation = invite(agency, f"our-invitee{suffix or client.pk}@example.com")
    dispatch = Dispatch.objects.create(agency=agency, kind=Dispatch.Kind.INVOICE)
    return {
        "client": client.pk,
        "invoice": invoice.pk,
        "membership": membership.pk,
        "invitation": invitation.pk,
        "run": month_end_run(agency, client).pk,
        "payment": 1,
        "dispatch": dispatch.pk,
    }


def month_end_run(agency: Agency, client: Client) -> InvoiceRun:
    """A finished month-end run of the agency with one failed client (so retry has work)."""
    run = InvoiceRun.objects.create(
        agency=agency, period=date(2025, 1, 1), state=InvoiceRun.State.FINISHED
    )
    failed = InvoiceRunItem.State.FAILED
    run.items.create(client=client, state=failed, error=f"{agency.name} failure")
    return run


def invite(agency: Agency, email: str) -> Invitation:
    return Invitation.objects.create(
        agency=agency,
        email=email,
        token_hash=secrets.token_hex(32),
        expires_at=timezone.now() + timedelta(days=1),
    )


@dataclass
class World:
    agency: Agency
    rival: Agency
    own: dict[str, int]
    foreign: dict[str, int]


@pytest.fixture
def world(agency, other_agency) -> World:
    """Our agency and a rival agency full of data, Fakturoid included (configured, with a
    token), so that an unscoped view would have something to leak or to act on."""
    rival = other_agency
    client = Client.objects.create(
        agency=rival, name="Rival Secret Client a.s.", fakturoid_subject_id=77
    )
    ContactPerson.objects.create(client=client, name="Rival Contact Person")
    project = Project.objects.create(client=client, name="Rival Project")
    BillingItem.objects.create(project=project, description="Rival Retainer", amount=Decimal("5"))
    client.labels.add(Label.objects.create(agency=rival, name="RivalLabel"))
    invoice = Invoice.objects.create(
        agency=rival,
        client=client,
        period=date(2026, 10, 1),
        custom_id=f"{rival.key}-c{client.pk}-{MONTH}",
        state=Invoice.State.CREATED,
        number="RIVAL-0001",
        fakturoid_id=5,
        html_url="https://app.fakturoid.cz/rival-slug/invoices/5",
    )
    FakturoidSettings.objects.create(
        agency=rival,
        account_slug="rival-slug",
        api_client_id="rival-client-id",
        api_client_secret=RIVAL_SECRET,
        contact_email="rival@example.com",
        account_name="Rival Account s.r.o.",
        access_token=RIVAL_TOKEN,
        token_expires_at=timezone.now() + timedelta(hours=1),
        verified_at=timezone.now(),
    )
    ApiCall.objects.create(
        agency=rival,
        method="GET",
        path="/accounts/rival-slug/subjects.json?custom_id=rival-marker",
        status=200,
        duration_ms=12,
    )
    membership = Membership.objects.get(agency=rival)
    invitation = invite(rival, "rival-invitee@example.com")
    return World(
        agency=agency,
        rival=rival,
        own=own_objects(agency),
        foreign={
            "client": client.pk,
            "invoice": invoice.pk,
            "membership": membership.pk,
            "invitation": invitation.pk,
            "run": month_end_run(rival, client).pk,
            "payment": 1,
            "dispatch": Dispatch.objects.create(agency=rival, kind=Dispatch.Kind.INVOICE).pk,
        },
    )


def snapshot(agency: Agency) -> dict[str, list]:
    """Everything of the agency a request could change."""
    clients = Client.objects.filter(agency=agency)
    return {
        "clients": list(clients.values_list()),
        "contacts": list(ContactPerson.objects.filter(client__in=clients).values_list()),
        "projects": list(Project.objects.filter(client__in=clients).values_list()),
        "items": list(BillingItem.objects.filter(project__client__in=clients).values_list()),
        "labels": list(Label.objects.filter(agency=agency).values_list()),
        "memberships": list(Membership.objects.filter(agency=agency).values_list()),
        "invitations": list(Invitation.objects.filter(agency=agency).values_list()),
        "invoices": list(Invoice.objects.filter(agency=agency).values_list()),
        "settings": list(FakturoidSettings.objects.filter(agency=agency).values_list()),
        "api_calls": list(ApiCall.objects.filter(agency=agency).values_list()),
        "runs": list(InvoiceRun.objects.filter(agency=agency).values_list()),
        "run_items": list(InvoiceRunItem.objects.filter(run__agency=agency).values_list()),
        "agency": list(Agency.objects.filter(pk=agency.pk).values_list()),
    }


def database_fingerprint() -> dict[str, tuple]:
    """Row count and latest update of every model (sessions and login throttling aside)."""
    fingerprint = {}
    for model in apps.get_models():
        if model._meta.app_label in {"sessions", "axes", "admin"}:
            continue
        fields = {field.name for field in model._meta.concrete_fields}
        latest = (
            model._default_manager.aggregate(latest=Max("updated_at"))["latest"]
            if "updated_at" in fields
            else None
        )
        fingerprint[model._meta.label] = (model._default_manager.count(), latest)
    return fingerprint


def assert_no_rival_data(response) -> None:  # noqa: ANN001
    content = response.content.decode(errors="replace")
    leaked = [marker for marker in RIVAL_MARKERS + [RIVAL_SECRET, RIVAL_TOKEN] if marker in content]
    assert not leaked, f"{response.request['PATH_INFO']} shows another agency's data: {leaked}"


@pytest.fixture
def no_http() -> Iterator[responses.RequestsMock]:
    """No request leaves the test: any call to Fakturoid fails as a connection error."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def user_http(world: World, role: str) -> HttpClient:
    membership = Membership.objects.filter(agency=world.agency, role=role).order_by("pk").first()
    return login(membership.user)


# --- The walker covers the app --------------------------------------------------------------


def test_it_can_fill_every_url_parameter_of_the_app():
    dummy = {
        "client": 1,
        "invoice": 1,
        "membership": 1,
        "invitation": 1,
        "payment": 1,
        "dispatch": 1,
        "run": 1,
    }
    unfillable = []
    for route in ROUTES:
        try:
            route.url(dummy)
        except Unfillable as error:
            unfillable.append(str(error))

    assert not unfillable, "New URL parameters the isolation walker cannot fill:\n" + "\n".join(
        unfillable
    )


def test_it_fails_loudly_on_a_parameter_it_cannot_fill():
    def view(request):  # noqa: ANN001, ANN202
        return None

    with pytest.raises(Unfillable, match="RESOURCE_SEGMENTS"):
        Route("fakturoid:batch", "fakturoid/batches/<int:pk>/", view).url({"client": 1})
    with pytest.raises(Unfillable):
        Route("clients:by_slug", "clients/<slug:slug>/", view).url({"client": 1})
    assert Route("x", "clients/<int:pk>/invoice/<str:month>/", view).url({"client": 7}) == (
        "/clients/7/invoice/2026-10/"
    )


def test_it_walks_the_known_pages_and_actions():
    names = {route.name for route in ROUTES}

    assert {
        "clients:list",
        "clients:detail",
        "clients:edit",
        "clients:delete",
        "agencies:members",
        "agencies:member_role",
        "fakturoid:settings",
        "fakturoid:integration_log",
        "fakturoid:invoice_preview",
        "fakturoid:invoice_create",
        "fakturoid:invoice_pdf",
        "fakturoid:link",
    } <= names
    assert not any(name.startswith(("admin", "sandbox", "login", "logout")) for name in names)


def test_it_finds_the_views_that_only_accept_post():
    post_only = {route.name for route in POST_ONLY_ROUTES}

    assert {
        "agencies:switch",
        "agencies:member_role",
        "agencies:member_remove",
        "agencies:invitation_revoke",
        "fakturoid:verify",
        "fakturoid:disconnect",
        "fakturoid:match",
        "fakturoid:link",
        "fakturoid:create_subject",
        "fakturoid:match_all",
        "fakturoid:invoice_create",
        "fakturoid:refresh_statuses",
    } <= post_only
    assert "clients:list" not in post_only


# --- Another agency's objects ---------------------------------------------------------------


@pytest.mark.parametrize("role", [Membership.Role.MEMBER, Membership.Role.OWNER])
@pytest.mark.parametrize("route", PARAMETER_ROUTES, ids=str)
def test_it_answers_404_for_objects_of_another_agency(world, no_http, route, role):
    http = user_http(world, role)
    url = route.url(world.foreign)
    before = snapshot(world.rival)

    get = http.get(url)
    post = http.post(url, HOSTILE_POST)

    refused_get = {403, 404, 405} if route.post_only else {403, 404}
    assert get.status_code in refused_get, f"GET {url} as {role}: {get.status_code}"
    assert post.status_code in {403, 404}, f"POST {url} as {role}: {post.status_code}"
    assert_no_rival_data(get)
    assert_no_rival_data(post)
    assert snapshot(world.rival) == before
    assert not no_http.calls


@pytest.mark.parametrize("route", PARAMETER_ROUTES, ids=str)
def test_it_serves_the_same_urls_for_the_agencys_own_objects(world, no_http, route):
    """The 404s above come from the scoping, not from a URL that never works."""
    http = user_http(world, Membership.Role.OWNER)
    url = route.url(own_objects(world.agency, suffix="-fresh"))

    get = http.get(url)
    post = http.post(url, {"period": MONTH, "role": "owner", "subject_id": "1"})

    assert get.status_code in ({405} if route.post_only else {200, 302}), f"GET {url}"
    assert post.status_code not in {403, 404, 405, 500}, f"POST {url}: {post.status_code}"


# --- Pages without parameters ---------------------------------------------------------------


@pytest.mark.parametrize("role", [Membership.Role.MEMBER, Membership.Role.OWNER])
@pytest.mark.parametrize("route", PLAIN_ROUTES, ids=str)
def test_it_shows_only_the_own_agencys_data(world, no_http, route, role):
    http = user_http(world, role)
    url = route.url({})
    rival_label = Label.objects.get(agency=world.rival).pk
    before = snapshot(world.rival)

    pages = [
        http.get(url),
        http.get(url, {"month": MONTH, "q": "Rival", "label": rival_label, "errors": "1"}),
        http.post(url, {**HOSTILE_POST, "agency": world.rival.pk}, follow=True),
    ]

    for response in pages:
        assert response.status_code != 500
        assert_no_rival_data(response)
    assert snapshot(world.rival) == before


def test_it_shows_the_own_agencys_data_where_the_rivals_is_hidden(world):
    """The marker checks are not vacuous: the same pages do show our own data."""
    http = user_http(world, Membership.Role.OWNER)
    ApiCall.objects.create(
        agency=world.agency, method="GET", path="/accounts/ours/x.json", status=200, duration_ms=1
    )

    assert "Our Client s.r.o." in http.get("/").content.decode()
    assert "our-member" in http.get("/agency/members/").content.decode()
    assert "/accounts/ours/x.json" in http.get("/agency/settings/integration-log/").content.decode()


def test_it_keeps_foreign_rows_out_of_the_client_formsets(world, owner_http):
    """Ids of another agency's contacts, projects and items in the client form change nothing."""
    own = Client.objects.get(pk=world.own["client"])
    rival_client = Client.objects.get(agency=world.rival)
    rival_contact = rival_client.contacts.get()
    rival_project = rival_client.projects.get()
    rival_item = rival_project.billing_items.get()
    before = snapshot(world.rival)
    data = {
        "name": own.name,
        "country": "CZ",
        "currency": "CZK",
        "contacts-TOTAL_FORMS": "1",
        "contacts-INITIAL_FORMS": "1",
        "contacts-0-id": rival_contact.pk,
        "contacts-0-name": "Hacked contact",
        "contacts-0-DELETE": "on",
        "projects-TOTAL_FORMS": "1",
        "projects-INITIAL_FORMS": "1",
        "projects-0-id": rival_project.pk,
        "projects-0-name": "Hacked project",
        "projects-0-kind": "eshop",
        "projects-0-active": "on",
        "projects-0-items-TOTAL_FORMS": "1",
        "projects-0-items-INITIAL_FORMS": "1",
        "projects-0-items-0-id": rival_item.pk,
        "projects-0-items-0-description": "Hacked item",
        "projects-0-items-0-amount": "1",
        "projects-0-items-0-vat_rate": "21",
        "projects-0-items-0-kind": "monthly",
    }

    response = owner_http.post(f"/clients/{own.pk}/edit/", data)

    assert response.status_code in {200, 302}
    assert snapshot(world.rival) == before


# --- Methods, CSRF, login -------------------------------------------------------------------


@pytest.mark.parametrize("route", POST_ONLY_ROUTES, ids=str)
def test_it_refuses_get_on_state_changing_views(world, no_http, route):
    http = user_http(world, Membership.Role.OWNER)
    url = route.url(world.own)
    before = database_fingerprint()

    response = http.get(url)

    assert response.status_code == 405
    assert database_fingerprint() == before


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_it_refuses_a_post_without_a_csrf_token(world, no_http, route):
    membership = Membership.objects.get(agency=world.agency, role=Membership.Role.OWNER)
    http = HttpClient(enforce_csrf_checks=True)
    http.force_login(membership.user, backend="django.contrib.auth.backends.ModelBackend")
    http.get("/")  # sets the CSRF cookie, as a browser would have it
    token = http.cookies["csrftoken"].value
    url = route.url(own_objects(world.agency, suffix="-csrf"))
    before = database_fingerprint()

    refused = http.post(url, {"period": MONTH, "role": "owner"})

    assert refused.status_code == 403
    assert database_fingerprint() == before
    accepted = http.post(url, {"period": MONTH, "role": "owner", "csrfmiddlewaretoken": token})
    assert accepted.status_code != 403


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_it_sends_anonymous_users_to_the_login_page(world, client, route):
    url = route.url(world.own)

    for response in (client.get(url), client.post(url, HOSTILE_POST)):
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_it_changes_nothing_on_get(world, no_http, route):
    http = user_http(world, Membership.Role.OWNER)
    url = route.url(own_objects(world.agency, suffix="-get"))
    before = database_fingerprint()

    http.get(url)
    http.get(url, {"month": MONTH, "period": MONTH, "page": "2"})

    assert database_fingerprint() == before
