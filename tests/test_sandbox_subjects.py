"""Fakturoid sandbox: subjects (contacts) list, search, get, create, update, delete."""

import pytest

from fakturoid_sandbox.control import ensure_account, ensure_subject
from fakturoid_sandbox.models import Subject
from fakturoid_sandbox.testing import SandboxClient

SUBJECT_FIELDS = [
    "id", "custom_id", "user_id", "type", "name", "full_name", "email", "email_copy", "phone",
    "web", "street", "city", "zip", "country", "has_delivery_address", "delivery_name",
    "delivery_street", "delivery_city", "delivery_zip", "delivery_country", "due", "currency",
    "language", "private_note", "registration_no", "vat_no", "local_vat_no", "unreliable",
    "unreliable_checked_at", "legal_form", "vat_mode", "bank_account", "iban", "swift_bic",
    "variable_symbol", "setting_update_from_ares", "ares_update",
    "setting_invoice_pdf_attachments", "setting_estimate_pdf_attachments",
    "setting_invoice_send_reminders", "suggestion_enabled", "custom_email_text",
    "overdue_email_text", "invoice_from_proforma_email_text", "thank_you_email_text",
    "custom_estimate_email_text", "webinvoice_history", "html_url", "url", "created_at",
    "updated_at",
]  # fmt: skip


pytestmark = pytest.mark.usefixtures("sandbox_on")


def test_it_creates_a_subject_with_201_and_location(sandbox_api):
    response = sandbox_api.post(
        "subjects.json",
        {
            "name": "MICROSOFT s.r.o.",
            "street": "Vyskočilova 1461/2a",
            "city": "Praha",
            "zip": "14000",
            "registration_no": "47123737",
            "vat_no": "CZ47123737",
            "custom_id": 77,
            "unknown_field": "ignored",
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert list(body) == SUBJECT_FIELDS
    subject = Subject.objects.get(pk=body["id"])
    location = (
        f"http://testserver/sandbox/fakturoid/api/v3/accounts/acme/subjects/{subject.pk}.json"
    )
    assert response["Location"] == location
    assert body["url"] == location
    assert body["html_url"] == f"http://testserver/sandbox/fakturoid/acme/subjects/{subject.pk}"
    assert body["name"] == "MICROSOFT s.r.o."
    assert body["custom_id"] == "77"
    assert body["country"] == "CZ"  # from the account
    assert body["type"] == "customer"
    assert body["email"] is None
    assert body["registration_no"] == "47123737"


@pytest.mark.parametrize(
    ("payload", "messages"),
    [
        ({}, ["je povinná položka", "je příliš krátký/á/é (min. 2 znaků)"]),
        ({"name": ""}, ["je povinná položka", "je příliš krátký/á/é (min. 2 znaků)"]),
        ({"name": "  "}, ["je povinná položka", "je příliš krátký/á/é (min. 2 znaků)"]),
        ({"name": "A"}, ["je příliš krátký/á/é (min. 2 znaků)"]),
    ],
)
def test_it_refuses_a_subject_without_a_proper_name(sandbox_api, payload, messages):
    response = sandbox_api.post("subjects.json", payload)
    assert response.status_code == 422
    assert response.json() == {"errors": {"name": messages}}
    assert not Subject.objects.exists()


def test_it_refuses_a_custom_id_already_used_in_the_account(sandbox_api):
    assert (
        sandbox_api.post("subjects.json", {"name": "First", "custom_id": "c-1"}).status_code == 201
    )
    response = sandbox_api.post("subjects.json", {"name": "Second", "custom_id": "c-1"})
    assert response.status_code == 422
    assert response.json() == {"errors": {"custom_id": ["již existuje"]}}
    # Another account may use the same custom_id.
    other = SandboxClient(ensure_account("other", name="Other"))
    other.authenticate()
    assert other.post("subjects.json", {"name": "Third", "custom_id": "c-1"}).status_code == 201


def test_it_refuses_a_bad_email(sandbox_api):
    response = sandbox_api.post("subjects.json", {"name": "Alza", "email": "bad@"})
    assert response.status_code == 422
    assert response.json() == {"errors": {"email": ["Prosím zkontrolujte email."]}}


def test_it_refuses_a_body_that_is_not_a_json_object(sandbox_api):
    response = sandbox_api.http.post(
        sandbox_api.url("subjects.json"),
        data="[1, 2",
        content_type="application/json",
        headers={
            "User-Agent": "T (t@example.com)",
            "Authorization": f"Bearer {sandbox_api.access_token}",
        },
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_it_lists_subjects_40_per_page_until_an_empty_page(sandbox_api):
    account = sandbox_api.credential.account
    Subject.objects.bulk_create(Subject(account=account, name=f"Client {n:03d}") for n in range(85))
    pages = [sandbox_api.get("subjects.json", page=page).json() for page in (1, 2, 3, 4)]
    assert [len(page) for page in pages] == [40, 40, 5, 0]
    names = [subject["name"] for page in pages for subject in page]
    assert sorted(names) == [f"Client {n:03d}" for n in range(85)]
    assert sandbox_api.get("subjects.json").json() == pages[0]


def test_it_filters_subjects_by_custom_id_exactly(sandbox_api):
    ensure_subject("acme", name="Alza.cz a.s.", custom_id="abc")
    ensure_subject("acme", name="Alza SK", custom_id="abcd")
    found = sandbox_api.get("subjects.json", custom_id="abc").json()
    assert [subject["name"] for subject in found] == ["Alza.cz a.s."]
    assert sandbox_api.get("subjects.json", custom_id="nothing").json() == []


def test_it_refuses_an_invalid_since_filter(sandbox_api):
    response = sandbox_api.get("subjects.json", since="yesterday")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert sandbox_api.get("subjects.json", since="2020-01-01T00:00:00+01:00").status_code == 200


def test_it_does_not_list_subjects_of_other_accounts(sandbox_api):
    ensure_account("other", name="Other")
    ensure_subject("other", name="Hidden s.r.o.")
    assert sandbox_api.get("subjects.json").json() == []
    assert sandbox_api.get("subjects/search.json", query="Hidden").json() == []


@pytest.mark.parametrize(
    ("field", "value", "query"),
    [
        ("name", "Alza.cz a.s.", "ALZA"),
        ("full_name", "Jan Novák", "NOVÁK"),
        ("email", "Fakturace@Example.cz", "fakturace@example"),
        ("email_copy", "copy@example.cz", "COPY@"),
        ("registration_no", "27082440", "2708244"),
        ("vat_no", "CZ27082440", "cz2708"),
        ("private_note", "Key account", "key ACC"),
    ],
)
def test_it_searches_subjects_case_insensitively_in_every_documented_field(
    sandbox_api, field, value, query
):
    fields = {"name": "Somebody", field: value}
    subject = Subject.objects.create(account=sandbox_api.credential.account, **fields)
    Subject.objects.create(account=sandbox_api.credential.account, name="Nobody else")
    found = sandbox_api.get("subjects/search.json", query=query).json()
    assert [item["id"] for item in found] == [subject.pk]


def test_it_does_not_search_other_fields(sandbox_api):
    Subject.objects.create(account=sandbox_api.credential.account, name="Somebody", city="Brno")
    assert sandbox_api.get("subjects/search.json", query="Brno").json() == []


def test_it_requires_a_search_query(sandbox_api):
    response = sandbox_api.get("subjects/search.json")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_it_shows_one_subject_and_404s_unknown_ones(sandbox_api):
    subject = ensure_subject("acme", name="Alza.cz a.s.", registration_no="27082440")
    body = sandbox_api.get(f"subjects/{subject.pk}.json").json()
    assert body["id"] == subject.pk
    assert body["registration_no"] == "27082440"
    response = sandbox_api.get(f"subjects/{subject.pk + 1000}.json")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    assert response.json()["error_description"]


def test_it_updates_only_the_fields_sent(sandbox_api):
    subject = ensure_subject("acme", name="Alza.cz a.s.", city="Praha")
    response = sandbox_api.patch(f"subjects/{subject.pk}.json", {"email": "billing@alza.cz"})
    assert response.status_code == 200
    assert response.json()["email"] == "billing@alza.cz"
    assert response.json()["city"] == "Praha"
    assert sandbox_api.patch(f"subjects/{subject.pk}.json", {"name": "X"}).status_code == 422


def test_it_deletes_a_subject_without_documents(sandbox_api):
    subject = ensure_subject("acme", name="Alza.cz a.s.")
    response = sandbox_api.delete(f"subjects/{subject.pk}.json")
    assert response.status_code == 204
    assert response.content == b""
    assert not Subject.objects.exists()
    assert sandbox_api.delete(f"subjects/{subject.pk}.json").status_code == 404


def test_it_refuses_to_delete_a_subject_with_invoices(sandbox_api):
    subject = ensure_subject("acme", name="Alza.cz a.s.")
    created = sandbox_api.post(
        "invoices.json",
        {"subject_id": subject.pk, "lines": [{"name": "Work", "unit_price": "100"}]},
    )
    assert created.status_code == 201
    response = sandbox_api.delete(f"subjects/{subject.pk}.json")
    assert response.status_code == 422
    assert response.json() == {"errors": {"document": ["Document cannot be deleted"]}}
    assert Subject.objects.filter(pk=subject.pk).exists()
