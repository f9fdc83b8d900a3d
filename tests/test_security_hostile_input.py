"""Hostile input never breaks a page and never saves half a form; stored text is escaped.

Hypothesis throws odd, huge, negative, unicode, empty and very long values at the forms and
the invoice endpoints. A 500 shows up as a status (the test client does not re-raise), so
"never 500" is a plain assertion. Fakturoid is an address on this machine nobody listens on:
input that passes validation reaches the real HTTP code and ends as "Fakturoid unreachable".
"""

import socket
from datetime import date
from decimal import Decimal
from urllib.parse import quote

import pytest
from django.test import Client as HttpClient
from django.urls import reverse
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from agencies.models import FakturoidSettings, Membership
from clients.forms import BillingItemFormSet, ContactFormSet, ProjectFormSet
from clients.models import BillingItem, Client, ContactPerson, Label, Project
from clients.months import parse_month
from fakturoid import client as fakturoid_client
from fakturoid.forms import SLUG_RE
from fakturoid.models import Invoice

HYPOTHESIS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

XSS = "<script>alert(1)</script>"
XSS_ATTRIBUTE = '"><img src=x onerror=alert(1)>'
# The raw markup that must never reach a page, and what escaping makes of it.
XSS_RAW = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>"]
XSS_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"

ODD_VALUES = [
    "",
    " ",
    "\t\r\n",
    "0",
    "-1",
    "-0",
    "1e400",
    "NaN",
    "-Infinity",
    "9" * 40,
    "-" + "9" * 40,
    "１２３",
    "٣",
    "0x10",
    "1_000",
    "\x00",
    "\u202etxt.exe",
    XSS,
    XSS_ATTRIBUTE,
    "' OR 1=1 --",
    "{{ 7|add:7 }}{% debug %}",
    "acme\n/",
    "čřžýáíé ĚŠČŘŽ",
    "🧾💸",
    "../../etc/passwd",
    "%00%2F",
    "a" * 5000,
    "x@" + "y" * 300 + ".cz",
]


def hostile_text() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(ODD_VALUES),
        st.text(max_size=40),
        st.text(min_size=250, max_size=400),
    )


def counts() -> tuple[int, ...]:
    return tuple(
        model.objects.count()
        for model in (Client, ContactPerson, Project, BillingItem, Label, FakturoidSettings)
    )


def http_for(user) -> HttpClient:  # noqa: ANN001
    """A logged-in test client that returns a 500 instead of raising the view's exception."""
    http = HttpClient(raise_request_exception=False)
    http.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return http


@pytest.fixture
def owner_raw(owner, agency) -> HttpClient:
    return http_for(owner)


@pytest.fixture
def unreachable_fakturoid(settings, monkeypatch) -> str:
    """FAKTUROID_API_URL on a local port that refuses connections; no waits between retries."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.FAKTUROID_API_URL = f"http://127.0.0.1:{port}/api/v3"
    settings.FAKTUROID_CONTACT_EMAIL = "ops@backoffice.example"
    monkeypatch.setenv("NO_PROXY", "*")
    monkeypatch.setattr(fakturoid_client, "_sleep", lambda seconds: None)
    return settings.FAKTUROID_API_URL


# --- Settings → Fakturoid -------------------------------------------------------------------


def stored_fakturoid(agency) -> tuple | None:  # noqa: ANN001
    row = FakturoidSettings.objects.filter(agency=agency).first()
    if row is None:
        return None
    return tuple(getattr(row, field.attname) for field in FakturoidSettings._meta.concrete_fields)


VALID_SETTINGS = {
    "account_slug": "acme",
    "due_days": "14",
    "api_client_id": "a1b2c3d4",
    "api_client_secret": "s3cr3t-value",
    "contact_email": "billing@acme.example",
    "default_period": "previous",
}


def settings_form_data() -> st.SearchStrategy[dict]:
    fields = {
        "account_slug": st.one_of(
            hostile_text(), st.sampled_from(["acme", "https://app.fakturoid.cz/acme/invoices"])
        ),
        "due_days": st.one_of(hostile_text(), st.integers(-(10**6), 10**6).map(str)),
        "api_client_id": st.one_of(hostile_text(), st.just("a1b2c3d4")),
        "api_client_secret": st.one_of(hostile_text(), st.just("s3cr3t-value")),
        "contact_email": st.one_of(hostile_text(), st.emails(), st.just("a@firmač.cz")),
        "default_period": st.one_of(hostile_text(), st.sampled_from(["previous", "current"])),
    }
    # Mostly valid forms with a few hostile fields, so that both outcomes are exercised.
    return st.fixed_dictionaries(
        {}, optional={name: strategy for name, strategy in fields.items()}
    ).map(lambda hostile: {**VALID_SETTINGS, **hostile})


@HYPOTHESIS
@given(data=settings_form_data())
@example(data={**VALID_SETTINGS, "api_client_id": "klíč-č"})
@example(data={**VALID_SETTINGS, "api_client_secret": "tajné-ř"})
@example(data={**VALID_SETTINGS, "contact_email": "fakturace@firmač.cz"})
@example(data={**VALID_SETTINGS, "account_slug": "acme\n/"})
@example(data={**VALID_SETTINGS, "due_days": "9" * 40})
def test_it_never_fails_on_hostile_fakturoid_settings(
    owner_raw, agency, unreachable_fakturoid, data
):
    before = stored_fakturoid(agency)

    response = owner_raw.post("/agency/settings/fakturoid/", data)

    event(f"HTTP {response.status_code}")
    assert response.status_code in {200, 302}
    if response.status_code == 200:
        assert stored_fakturoid(agency) == before
    else:
        saved = FakturoidSettings.objects.get(agency=agency)
        assert SLUG_RE.fullmatch(saved.account_slug)
        assert 0 <= saved.due_days <= 365
        for value in (saved.api_client_id, saved.api_client_secret, saved.contact_email):
            assert value.isascii() and value.isprintable()
        assert saved.verified_at is None  # Fakturoid was unreachable: saved, not verified


# --- The client form ------------------------------------------------------------------------

VALID_CLIENT = {
    "name": "Hostile Input s.r.o.",
    "country": "CZ",
    "currency": "CZK",
    "contacts-TOTAL_FORMS": "1",
    "contacts-INITIAL_FORMS": "0",
    "contacts-0-name": "Jana Nováková",
    "projects-TOTAL_FORMS": "1",
    "projects-INITIAL_FORMS": "0",
    "projects-0-name": "E-shop",
    "projects-0-kind": "eshop",
    "projects-0-active": "on",
    "projects-0-items-TOTAL_FORMS": "1",
    "projects-0-items-INITIAL_FORMS": "0",
    "projects-0-items-0-description": "PPC management",
    "projects-0-items-0-amount": "10000",
    "projects-0-items-0-vat_rate": "21",
    "projects-0-items-0-kind": "monthly",
}
CLIENT_FIELDS = [
    "name",
    "registration_no",
    "vat_no",
    "street",
    "city",
    "zip",
    "country",
    "email",
    "phone",
    "currency",
    "labels_text",
    "fakturoid_subject_id",
    "contacts-0-id",
    "contacts-0-name",
    "contacts-0-email",
    "contacts-0-DELETE",
    "projects-0-id",
    "projects-0-name",
    "projects-0-kind",
    "projects-0-url",
    "projects-0-DELETE",
    "projects-0-items-0-id",
    "projects-0-items-0-description",
    "projects-0-items-0-amount",
    "projects-0-items-0-vat_rate",
    "projects-0-items-0-kind",
    "projects-0-items-0-first_month",
    "projects-0-items-0-last_month",
    "projects-0-items-0-month",
]
# Management data: every prefix's counts. TOTAL_FORMS stays small here (each form costs time);
# huge totals have their own tests below.
MANAGEMENT_FIELDS = [
    f"{prefix}-{count}"
    for prefix in ("contacts", "projects", "projects-0-items")
    for count in ("INITIAL_FORMS", "MIN_NUM_FORMS", "MAX_NUM_FORMS")
]
TOTAL_FIELDS = ["contacts-TOTAL_FORMS", "projects-TOTAL_FORMS", "projects-0-items-TOTAL_FORMS"]
ODD_COUNTS = ["", "-1", "-999999", "0", "3", "1.5", "٣", "abc", "9" * 30, "2147483648", "1e3"]


def client_form_data() -> st.SearchStrategy[dict]:
    return st.tuples(
        st.dictionaries(st.sampled_from(CLIENT_FIELDS), hostile_text(), max_size=6),
        st.dictionaries(
            st.sampled_from(MANAGEMENT_FIELDS), st.sampled_from(ODD_COUNTS), max_size=3
        ),
        st.dictionaries(
            st.sampled_from(TOTAL_FIELDS),
            st.sampled_from(["", "-1", "-5", "0", "2", "12", "٢", "x", "1.0"]),
            max_size=2,
        ),
    ).map(lambda parts: {**VALID_CLIENT, **parts[0], **parts[1], **parts[2]})


@pytest.fixture
def existing_client(agency, make_client, make_project, make_item) -> Client:
    client = make_client(agency, "Existing s.r.o.")
    make_item(make_project(client, "Existing project"))
    ContactPerson.objects.create(client=client, name="Existing contact")
    return client


@HYPOTHESIS
@given(data=client_form_data(), edit=st.booleans())
@example(data={**VALID_CLIENT, "projects-0-items-0-amount": "1e400"}, edit=False)
@example(data={**VALID_CLIENT, "fakturoid_subject_id": "9" * 30}, edit=False)
@example(data={**VALID_CLIENT, "contacts-INITIAL_FORMS": "5"}, edit=True)
@example(data={**VALID_CLIENT, "projects-INITIAL_FORMS": "-1"}, edit=True)
@example(data={**VALID_CLIENT, "projects-0-items-0-vat_rate": "9" * 5000}, edit=False)
def test_it_never_fails_on_hostile_client_forms(owner_raw, agency, existing_client, data, edit):
    url = f"/clients/{existing_client.pk}/edit/" if edit else "/clients/new/"
    before = counts()

    response = owner_raw.post(url, data)

    event(f"HTTP {response.status_code}")
    assert response.status_code in {200, 302}
    if response.status_code == 200:
        assert counts() == before, "a form shown again with errors saved something"
    else:
        assert set(Client.objects.values_list("agency", flat=True)) == {agency.pk}


def existing_rows(client: Client) -> set[tuple[str, int]]:
    return {
        *(("contact", pk) for pk in client.contacts.values_list("pk", flat=True)),
        *(("project", pk) for pk in client.projects.values_list("pk", flat=True)),
        *(
            ("item", pk)
            for pk in BillingItem.objects.filter(project__client=client).values_list(
                "pk", flat=True
            )
        ),
    }


@pytest.mark.parametrize("prefix", ["contacts", "projects", "projects-0-items"])
def test_it_survives_negative_form_totals(owner_raw, existing_client, prefix):
    before = existing_rows(existing_client)
    data = {**VALID_CLIENT, f"{prefix}-TOTAL_FORMS": "-3", f"{prefix}-INITIAL_FORMS": "5"}

    response = owner_raw.post(f"/clients/{existing_client.pk}/edit/", data)

    assert response.status_code in {200, 302}
    assert before <= existing_rows(existing_client), "a tampered count deleted rows"


def test_it_refuses_a_huge_form_total(owner_raw, existing_client):
    """Django caps the forms built at 2,000 and refuses more than 1,000 (a few seconds)."""
    before = counts()
    data = {**VALID_CLIENT, "contacts-TOTAL_FORMS": "9" * 20, "contacts-INITIAL_FORMS": "5"}

    response = owner_raw.post(f"/clients/{existing_client.pk}/edit/", data)

    assert response.status_code == 200
    assert counts() == before


def test_it_caps_the_number_of_forms_one_request_can_make(agency):
    huge = "99999999999999999999"
    data = {**VALID_CLIENT}
    data.update({f"{p}-TOTAL_FORMS": huge for p in ("contacts", "projects", "projects-0-items")})
    client = Client(agency=agency)

    contacts = ContactFormSet(data, instance=client, prefix="contacts").total_form_count()
    projects = ProjectFormSet(data, instance=client, prefix="projects").total_form_count()
    per_project = BillingItemFormSet(
        data, instance=Project(), prefix="projects-0-items"
    ).total_form_count()

    assert contacts + projects * (1 + per_project) <= 2000


# --- Invoice endpoints ----------------------------------------------------------------------


@pytest.fixture
def billable(agency, fakturoid_settings, make_client, make_project, make_item) -> Client:
    """A linked client with a monthly fee, in an agency whose Fakturoid is set up."""
    client = make_client(agency, "Billable s.r.o.", fakturoid_subject_id=16)
    make_item(make_project(client), amount="1500")
    return client


def client_id(other_agency, billable, which: object) -> tuple[int, bool]:  # noqa: ANN001
    """The client id to put in the URL, and whether it is one of the agency's own clients."""
    if which == "own":
        pk = billable.pk
    elif which == "foreign":
        pk = Client.objects.create(agency=other_agency, name="Foreign").pk
    else:
        pk = int(which)
    return pk, Client.objects.filter(agency=billable.agency, pk=pk).exists()


CLIENT_IDS = st.one_of(
    st.sampled_from(["own", "foreign"]),
    st.integers(min_value=0, max_value=10**30),
)


@HYPOTHESIS
@given(period=hostile_text(), which=CLIENT_IDS)
@example(period="2026-10", which="own")
@example(period="2026-13", which="own")
@example(period="0001-01", which="own")
@example(period="2026-10", which="foreign")
@example(period="2026-10", which=2**63)
def test_it_never_fails_on_hostile_invoice_requests(
    owner_raw, agency, other_agency, billable, unreachable_fakturoid, period, which
):
    pk, own = client_id(other_agency, billable, which)
    invoices = Invoice.objects.count()

    response = owner_raw.post(f"/fakturoid/clients/{pk}/invoice/", {"period": period})

    assert response.status_code == (302 if own else 404)
    if not own or parse_month(period) is None:
        assert Invoice.objects.count() == invoices


URL_SAFE = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="/"),
    min_size=1,
    max_size=60,
)


@HYPOTHESIS
@given(month=st.one_of(URL_SAFE, st.sampled_from(ODD_VALUES[1:])), which=CLIENT_IDS)
@example(month="2026-10", which="own")
@example(month="2026-10", which="foreign")
@example(month="2026-10", which=10**30)
def test_it_never_fails_on_hostile_invoice_previews(
    owner_raw, agency, other_agency, billable, month, which
):
    pk, own = client_id(other_agency, billable, which)

    response = owner_raw.get(f"/fakturoid/clients/{pk}/invoice/{quote(month, safe='')}/")

    if own:
        assert response.status_code in {200, 302, 404}  # 404: an encoded "/" in the month
    else:
        assert response.status_code == 404


@HYPOTHESIS
@given(subject_id=hostile_text(), source=hostile_text(), which=CLIENT_IDS)
@example(subject_id="16", source="manual", which="own")
@example(subject_id=str(2**63), source="manual", which="own")
@example(subject_id="16", source="manual", which="foreign")
def test_it_never_fails_on_hostile_links(
    owner_raw, agency, other_agency, billable, unreachable_fakturoid, subject_id, source, which
):
    pk, own = client_id(other_agency, billable, which)

    response = owner_raw.post(
        f"/fakturoid/clients/{pk}/link/", {"subject_id": subject_id, "source": source}
    )

    assert response.status_code == (302 if own else 404)
    billable.refresh_from_db()
    assert billable.fakturoid_subject_id == 16  # Fakturoid never confirmed another contact


# --- Stored text is escaped -----------------------------------------------------------------


def assert_escaped(content: bytes, *, expect: str = XSS_ESCAPED) -> None:
    text = content.decode()
    for raw in XSS_RAW:
        assert raw not in text
    assert expect in text


@pytest.fixture
def hostile_client(agency, fakturoid_settings) -> Client:
    """Markup in every name a person types: client, label, project, billing item."""
    client = Client.objects.create(
        agency=agency, name=f"{XSS} {XSS_ATTRIBUTE}", fakturoid_subject_id=16
    )
    client.labels.add(Label.objects.create(agency=agency, name=XSS_ATTRIBUTE))
    project = Project.objects.create(client=client, name=f"{XSS_ATTRIBUTE} {XSS}")
    BillingItem.objects.create(
        project=project, description=f"{XSS} {XSS_ATTRIBUTE}", amount=Decimal("100")
    )
    ContactPerson.objects.create(client=client, name=XSS, role=XSS_ATTRIBUTE)
    return client


@pytest.mark.parametrize(
    "page",
    [
        "/?month=2026-10",
        "/clients/{pk}/",
        "/clients/{pk}/edit/",
        "/clients/{pk}/delete/",
        "/fakturoid/clients/{pk}/invoice/2026-10/",
    ],
)
def test_it_escapes_markup_typed_into_names(owner_http, hostile_client, page):
    response = owner_http.get(page.format(pk=hostile_client.pk))

    assert response.status_code == 200
    assert_escaped(response.content)


def test_it_escapes_markup_in_the_invoice_preview_lines(owner_http, hostile_client):
    response = owner_http.get(f"/fakturoid/clients/{hostile_client.pk}/invoice/2026-10/")

    assert len(response.context["draft"].lines) == 1
    assert_escaped(
        response.content, expect=f"&quot;&gt;&lt;img src=x onerror=alert(1)&gt; {XSS_ESCAPED}"
    )


def test_it_escapes_markup_saved_through_the_client_form(owner_http, agency):
    data = {
        **VALID_CLIENT,
        "name": XSS,
        "labels_text": XSS_ATTRIBUTE,
        "projects-0-name": XSS_ATTRIBUTE,
        "projects-0-items-0-description": XSS,
    }

    response = owner_http.post("/clients/new/", data, follow=True)

    assert response.status_code == 200
    assert Client.objects.get(agency=agency).name == XSS
    assert_escaped(response.content)  # the detail page and the "was saved" message
    assert_escaped(owner_http.get("/").content)


def test_it_escapes_markup_in_the_members_list(owner_http, agency, make_user):
    Membership.objects.create(user=make_user(XSS_ATTRIBUTE[:30]), agency=agency)

    text = owner_http.get("/agency/members/").content.decode()

    assert "<img src=x" not in text
    assert "&quot;&gt;&lt;img src=x" in text


def test_it_escapes_markup_in_the_sandbox_pages(db):
    testing = pytest.importorskip("fakturoid_sandbox.testing")
    control = pytest.importorskip("fakturoid_sandbox.control")
    pytest.importorskip("fakturoid_sandbox.pages")

    with testing.sandbox_mounted():
        api = testing.SandboxClient(control.ensure_account("xss", name=XSS))
        api.authenticate()
        subject = api.post("subjects.json", {"name": XSS, "street": XSS_ATTRIBUTE})
        assert subject.status_code == 201, subject.content
        subject_id = subject.json()["id"]
        lines = [{"name": XSS_ATTRIBUTE + XSS, "quantity": "1", "unit_price": "100"}]
        invoice = api.post("invoices.json", {"subject_id": subject_id, "lines": lines})
        assert invoice.status_code == 201, invoice.content
        pages = [
            reverse("sandbox:subjects_page", args=["xss"]),
            reverse("sandbox:subject_page", args=["xss", subject_id]),
            reverse("sandbox:invoices_page", args=["xss"]),
            reverse("sandbox:invoice_page", args=["xss", invoice.json()["id"]]),
        ]
        for page in pages:
            response = HttpClient().get(page)
            assert response.status_code == 200, page
            assert_escaped(response.content)


def test_it_keeps_the_month_of_a_hostile_period_out_of_the_database(owner_raw, billable):
    """A period that is not a month is refused before anything is claimed."""
    for period in ("2026-10' OR '1'='1", "2026-10\x00", "2026-00", "99999-01", XSS):
        response = owner_raw.post(f"/fakturoid/clients/{billable.pk}/invoice/", {"period": period})
        assert response.status_code == 302

    assert not Invoice.objects.filter(period__gte=date(2026, 10, 1)).exists()
