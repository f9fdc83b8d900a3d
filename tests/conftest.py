"""Shared fixtures: users, agencies and clients built the way the product builds them."""

from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
import responses
from django.contrib.auth import get_user_model
from django.test import Client as HttpClient
from django.utils import timezone

from agencies.models import Agency, FakturoidSettings, Membership
from clients.models import BillingItem, Client, Project
from fakturoid import budget as budget_module
from fakturoid import client as client_module
from fakturoid_sandbox.control import ensure_account
from fakturoid_sandbox.testing import SandboxClient, sandbox_mounted
from registries_sandbox.control import reset_switches
from tests.support import FAKTUROID_API, PASSWORD, STORED_TOKEN, login, registries
from tests.support.live_server import TIMEOUT_MS, launched_chromium, wait_for_live_server_threads

User = get_user_model()


@pytest.fixture(autouse=True)
def fast_password_hashing(settings) -> None:
    """Real hashing costs ~0.3 s a user; tests need working passwords, not strong ones."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def fresh_request_budget_memory() -> Iterator[None]:
    """What this process remembers of each account's budget (the windows it has written) is
    per test: the rows it describes are rolled back with the test."""
    budget_module._written.clear()
    yield
    budget_module._written.clear()


@pytest.fixture
def make_user(db) -> Callable[..., User]:
    def make(username: str = "alice", **extra) -> User:
        return User.objects.create_user(
            username=username, email=f"{username}@example.com", password=PASSWORD, **extra
        )

    return make


@pytest.fixture
def make_agency(db) -> Callable[..., Agency]:
    def make(name: str = "Acme Agency", *, owner: User | None = None, members=()) -> Agency:
        agency = Agency.objects.create(name=name)
        if owner is not None:
            Membership.objects.create(user=owner, agency=agency, role=Membership.Role.OWNER)
        for member in members:
            Membership.objects.create(user=member, agency=agency, role=Membership.Role.MEMBER)
        return agency

    return make


@pytest.fixture
def owner(make_user) -> User:
    return make_user("owner")


@pytest.fixture
def member(make_user) -> User:
    return make_user("member")


@pytest.fixture
def agency(make_agency, owner, member) -> Agency:
    return make_agency("Acme Agency", owner=owner, members=[member])


@pytest.fixture
def other_agency(make_agency, make_user) -> Agency:
    """Another agency with its own owner: its data must stay invisible to `agency`'s users."""
    return make_agency("Rival Agency", owner=make_user("rival"))


@pytest.fixture
def make_client(db) -> Callable[..., Client]:
    def make(agency: Agency, name: str = "Alza.cz a.s.", **fields) -> Client:
        fields.setdefault("registration_no", "27082440")
        fields.setdefault("email", "fakturace@example.cz")
        return Client.objects.create(agency=agency, name=name, **fields)

    return make


@pytest.fixture
def make_project(db) -> Callable[..., Project]:
    def make(client: Client, name: str = "E-shop", **fields) -> Project:
        return Project.objects.create(client=client, name=name, **fields)

    return make


@pytest.fixture
def make_item(db) -> Callable[..., BillingItem]:
    def make(project: Project, description: str = "PPC management", amount="10000", **fields):
        return BillingItem.objects.create(
            project=project, description=description, amount=Decimal(str(amount)), **fields
        )

    return make


@pytest.fixture
def fakturoid_settings(agency) -> FakturoidSettings:
    """The agency's Fakturoid connection, configured (not necessarily verified)."""
    return FakturoidSettings.objects.create(
        agency=agency,
        account_slug="acme",
        api_client_id="client-id-123",
        api_client_secret="secret-456",
        contact_email="billing@acme.example",
        vat_mode=FakturoidSettings.VatMode.VAT_PAYER,
        currency="CZK",
        account_name="Acme Agency s.r.o.",
    )


@pytest.fixture
def owner_http(owner, agency) -> HttpClient:
    return login(owner)


@pytest.fixture
def member_http(member, agency) -> HttpClient:
    return login(member)


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    """Every wait the Fakturoid client makes, recorded instead of waited; the request budget's
    clock moves on by each wait, as if it had been waited."""
    waits: list[float] = []
    waited = [timedelta()]

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        waited[0] += timedelta(seconds=seconds)

    monkeypatch.setattr(client_module, "_sleep", sleep)
    monkeypatch.setattr(budget_module, "_now", lambda: timezone.now() + waited[0])
    return waits


@pytest.fixture
def fakturoid_config(settings, sleeps) -> None:
    """Fakturoid at its real address (mocked by `api`), with a contact e-mail and no waits."""
    settings.FAKTUROID_API_URL = FAKTUROID_API
    settings.FAKTUROID_APP_NAME = "AgencyBackoffice"
    settings.FAKTUROID_CONTACT_EMAIL = "ops@backoffice.example"
    settings.FAKTUROID_CONNECT_TIMEOUT = 5.0
    settings.FAKTUROID_READ_TIMEOUT = 20.0
    settings.FAKTUROID_MAX_RATE_LIMIT_WAIT = 5.0


@pytest.fixture
def api(fakturoid_config):
    """Fakturoid's HTTP mocked with `responses`; every registered answer must be used."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def connected(fakturoid_settings) -> FakturoidSettings:
    """The agency's Fakturoid verified and holding a token good for another hour."""
    fakturoid_settings.access_token = STORED_TOKEN
    fakturoid_settings.token_expires_at = timezone.now() + timedelta(hours=1)
    fakturoid_settings.verified_at = timezone.now()
    fakturoid_settings.save()
    return fakturoid_settings


@pytest.fixture
def sandbox_on():
    """The local Fakturoid sandbox mounted at /sandbox/fakturoid/."""
    with sandbox_mounted(True):
        yield


@pytest.fixture
def sandbox_api(db) -> SandboxClient:
    """The sandbox account "acme" over its API (in-process), with a token."""
    api = SandboxClient(ensure_account("acme", name="Acme s.r.o."))
    api.authenticate()
    return api


def pytest_collection_modifyitems(config, items) -> None:
    """Browser tests need Debian's chromium: without it they are skipped and say why, unless
    E2E_REQUIRED is set (CI, `make e2e`), where their browser fixture fails instead."""
    from tests.support.live_server import SKIP_REASON, chromium_installed, e2e_required

    if chromium_installed() or e2e_required():
        return
    for item in items:
        if item.get_closest_marker("e2e"):
            item.add_marker(pytest.mark.skip(reason=SKIP_REASON))


@pytest.fixture(autouse=True, scope="session")
def live_server_drops_idle_connections():
    """The live server gives each connection a thread that waits for the next request until
    the client hangs up. A client that never does (a browser's spare socket, a pooled
    connection) would keep that thread alive for the rest of the session, and tests that wait
    for the server to be idle would time out. Idle connections are dropped after 5 s."""
    from django.core.servers.basehttp import WSGIRequestHandler

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(WSGIRequestHandler, "timeout", 5, raising=False)
        yield


@pytest.fixture
def real_registries(settings) -> Iterator[responses.RequestsMock]:
    """ARES, VIES and ČNB at their real addresses, answered by `responses`; every registered
    answer must be used."""
    settings.ARES_API_URL = registries.ARES
    settings.VIES_API_URL = registries.VIES
    settings.CNB_RATES_URL = registries.CNB
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def standins(live_server, settings) -> Iterator[str]:
    """The app talking to the ARES, VIES and ČNB stand-ins on the live server (short read
    timeout, every switch reset afterwards); yields the server's URL."""
    with sandbox_mounted(True):
        settings.ARES_API_URL = f"{live_server.url}/sandbox/ares/ekonomicke-subjekty-v-be/rest"
        settings.VIES_API_URL = f"{live_server.url}/sandbox/vies/rest-api"
        settings.CNB_RATES_URL = f"{live_server.url}/sandbox/cnb/denni_kurz.txt"
        settings.REGISTRIES_READ_TIMEOUT = 0.5
        yield live_server.url
        # A stand-in told to be slow carries on after the client gave up.
        wait_for_live_server_threads()
        reset_switches()


# --- Browser tests --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():  # noqa: ANN201 - a playwright Browser
    """Debian's chromium, launched once per test module (see `launched_chromium`)."""
    with launched_chromium() as launched:
        yield launched


@pytest.fixture
def page(browser, live_server):  # noqa: ANN201 - a playwright Page
    """A fresh browser profile (no cookies) on the live server, in English."""
    context = browser.new_context(base_url=live_server.url, locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    # Served by Django it would touch the database at a moment the test cannot wait for.
    context.route("**/favicon.ico", lambda route: route.fulfill(status=204))
    yield context.new_page()
    context.close()
