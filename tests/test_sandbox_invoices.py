"""Fakturoid sandbox: invoices (create, numbering, totals, filters, actions, payments, PDF)."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from fakturoid_sandbox.control import ensure_account, ensure_subject, update_state
from fakturoid_sandbox.models import Invoice
from fakturoid_sandbox.testing import SandboxClient

INVOICE_FIELDS = [
    "id", "custom_id", "document_type", "proforma_followup_document", "correction_id", "number",
    "number_format_id", "variable_symbol", "your_name", "your_street", "your_city", "your_zip",
    "your_country", "your_registration_no", "your_vat_no", "your_local_vat_no", "client_name",
    "client_street", "client_city", "client_zip", "client_country", "client_registration_no",
    "client_vat_no", "client_local_vat_no", "client_has_delivery_address",
    "client_delivery_name", "client_delivery_street", "client_delivery_city",
    "client_delivery_zip", "client_delivery_country", "subject_id", "subject_custom_id",
    "generator_id", "related_id", "paypal", "gopay", "token", "status", "order_number",
    "issued_on", "taxable_fulfillment_due", "due", "due_on", "sent_at", "paid_on",
    "reminder_sent_at", "last_reminder_sent_at", "cancelled_at", "uncollectible_at",
    "locked_at", "webinvoice_seen_on", "note", "footer_note", "private_note", "tags",
    "bank_account", "iban", "swift_bic", "iban_visibility", "show_already_paid_note_in_pdf",
    "payment_method", "custom_payment_method", "hide_bank_account", "currency",
    "exchange_rate", "language", "transferred_tax_liability", "supply_code", "oss",
    "vat_price_mode", "subtotal", "total", "native_subtotal", "native_total",
    "rounding_adjustment", "remaining_amount", "remaining_native_amount", "eet_records",
    "lines", "vat_rates_summary", "paid_advances", "payments", "attachments", "html_url",
    "public_html_url", "url", "pdf_url", "subject_url", "created_at", "updated_at",
]  # fmt: skip
LINE = {
    "name": "Hard work",
    "quantity": "1.0",
    "unit_name": "h",
    "unit_price": "40000",
    "vat_rate": "21",
}


pytestmark = pytest.mark.usefixtures("sandbox_on")


@pytest.fixture
def acme_api(db) -> SandboxClient:
    acme_api = SandboxClient(
        ensure_account(
            "acme",
            name="Acme s.r.o.",
            registration_no="87654321",
            vat_no="CZ87654321",
            street="Hopsinková 14",
            city="Praha",
            zip="10000",
        )
    )
    acme_api.authenticate()
    return acme_api


@pytest.fixture
def subject(acme_api):
    return ensure_subject(
        "acme",
        name="Apple Czech s.r.o.",
        registration_no="28897501",
        vat_no="CZ28897501",
        email="pokus@test.cz",
        street="Klimentská 1216/46",
        city="Praha",
        zip="11000",
        custom_id="subj-16",
    )


def create(acme_api, subject, **fields):
    return acme_api.post("invoices.json", {"subject_id": subject.pk, "lines": [LINE], **fields})


def test_it_creates_an_invoice_with_201_location_and_the_full_shape(acme_api, subject):
    response = create(
        acme_api,
        subject,
        custom_id="1234",
        due=21,
        issued_on="2023-11-19",
        taxable_fulfillment_due="2023-11-19",
    )
    assert response.status_code == 201
    body = response.json()
    assert list(body) == INVOICE_FIELDS
    invoice = Invoice.objects.get()
    api_url = f"http://testserver/sandbox/fakturoid/api/v3/accounts/acme/invoices/{invoice.pk}"
    assert response["Location"] == f"{api_url}.json"
    assert body["url"] == f"{api_url}.json"
    assert body["pdf_url"] == f"{api_url}/download.pdf"
    assert body["html_url"] == f"http://testserver/sandbox/fakturoid/acme/invoices/{invoice.pk}"
    assert body["public_html_url"] == (
        f"http://testserver/sandbox/fakturoid/acme/p/{invoice.token}/2023-0001"
    )
    assert body["subject_url"] == (
        f"http://testserver/sandbox/fakturoid/api/v3/accounts/acme/subjects/{subject.pk}.json"
    )
    assert len(body["token"]) == 10 and body["token"].isalnum()
    assert body["custom_id"] == "1234"
    assert body["number"] == "2023-0001"
    assert body["variable_symbol"] == "20230001"
    assert body["status"] == "overdue"  # due on 2023-12-10, long ago
    assert body["issued_on"] == "2023-11-19"
    assert body["due"] == 21
    assert body["due_on"] == "2023-12-10"
    assert body["your_name"] == "Acme s.r.o."
    assert body["your_registration_no"] == "87654321"
    assert body["client_name"] == "Apple Czech s.r.o."
    assert body["client_street"] == "Klimentská 1216/46"
    assert body["client_registration_no"] == "28897501"
    assert body["client_vat_no"] == "CZ28897501"
    assert body["subject_id"] == subject.pk
    assert body["subject_custom_id"] == "subj-16"
    assert body["bank_account"] == "2400123456/2010"
    assert body["currency"] == "CZK"
    assert body["subtotal"] == "40000.0"
    assert body["total"] == "48400.0"
    assert body["remaining_amount"] == "48400.0"
    assert body["lines"] == [
        {
            "id": invoice.lines.get().pk,
            "name": "Hard work",
            "quantity": "1.0",
            "unit_name": "h",
            "unit_price": "40000.0",
            "vat_rate": 21,
            "unit_price_without_vat": "40000.0",
            "unit_price_with_vat": "48400.0",
            "total_price_without_vat": "40000.0",
            "total_vat": "8400.0",
            "native_total_price_without_vat": "40000.0",
            "native_total_vat": "8400.0",
            "inventory": None,
        }
    ]
    assert body["vat_rates_summary"] == [
        {
            "vat_rate": 21,
            "base": "40000.0",
            "vat": "8400.0",
            "currency": "CZK",
            "native_base": "40000.0",
            "native_vat": "8400.0",
            "native_currency": "CZK",
        }
    ]
    assert acme_api.get(f"invoices/{invoice.pk}.json").json() == body


def test_it_defaults_to_today_and_the_account_due_days(acme_api, subject):
    body = create(acme_api, subject).json()
    today = timezone.localdate()
    assert body["issued_on"] == today.isoformat()
    assert body["due"] == 14
    assert body["due_on"] == (today + timedelta(days=14)).isoformat()
    assert body["status"] == "open"
    assert body["number"] == f"{today.year}-0001"
    assert body["note"] == "Fakturujeme Vám následující položky"


def test_it_numbers_invoices_in_sequence_per_year(acme_api, subject):
    numbers = [
        create(acme_api, subject, issued_on=issued_on).json()["number"]
        for issued_on in ("2024-03-01", "2024-03-02", "2023-12-31", "2024-01-15")
    ]
    assert numbers == ["2024-0001", "2024-0002", "2023-0001", "2024-0003"]
    symbols = list(Invoice.objects.order_by("pk").values_list("variable_symbol", flat=True))
    assert symbols == ["20240001", "20240002", "20230001", "20240003"]


def test_it_computes_totals_per_vat_rate_with_half_up_rounding(acme_api, subject):
    response = acme_api.post(
        "invoices.json",
        {
            "subject_id": subject.pk,
            "lines": [
                LINE,
                {"name": "Banners", "quantity": 3, "unit_price": 33.33, "vat_rate": 21},
                {"name": "Book", "unit_price": "10.125", "vat_rate": 0},
            ],
        },
    )
    assert response.status_code == 201
    body = response.json()
    banners = body["lines"][1]
    assert banners["quantity"] == "3.0"
    assert banners["unit_price"] == "33.33"
    assert banners["total_price_without_vat"] == "99.99"
    assert banners["total_vat"] == "21.0"  # 20.9979 rounded half-up
    book = body["lines"][2]
    assert book["quantity"] == "1.0"
    assert book["unit_price"] == "10.125"
    assert book["total_price_without_vat"] == "10.13"  # half-up, not to even
    assert [row["vat_rate"] for row in body["vat_rates_summary"]] == [21, 0]
    assert body["vat_rates_summary"][0]["base"] == "40099.99"
    assert body["vat_rates_summary"][0]["vat"] == "8421.0"
    assert body["subtotal"] == "40110.12"
    assert body["total"] == "48531.12"
    invoice = Invoice.objects.get()
    assert invoice.total == Decimal("48531.12")


def test_it_ignores_vat_rates_for_a_non_vat_payer(acme_api, subject):
    ensure_account("acme", vat_mode="non_vat_payer")
    body = create(acme_api, subject).json()
    assert body["lines"][0]["vat_rate"] == 0
    assert body["lines"][0]["total_vat"] == "0.0"
    assert body["subtotal"] == "40000.0"
    assert body["total"] == "40000.0"
    assert body["vat_rates_summary"] == [
        {
            "vat_rate": 0,
            "base": "40000.0",
            "vat": "0.0",
            "currency": "CZK",
            "native_base": "40000.0",
            "native_vat": "0.0",
            "native_currency": "CZK",
        }
    ]


def test_it_refuses_invoices_on_an_account_without_a_bank_account(acme_api, subject):
    update_state("acme", bank_account=False)
    response = create(acme_api, subject)
    assert response.status_code == 403
    assert response.json() == {
        "errors": {
            "bank_account": [
                "Please set up a bank account in your Fakturoid account "
                "https://app.fakturoid.cz/acme/settings/bank_accounts to create an invoice."
            ]
        }
    }
    assert not Invoice.objects.exists()


def test_it_requires_an_existing_subject_of_the_account(acme_api, subject):
    response = acme_api.post("invoices.json", {"lines": [LINE]})
    assert response.status_code == 422
    assert response.json() == {"errors": {"subject_id": ["can't be blank"]}}

    ensure_account("other", name="Other")
    foreign = ensure_subject("other", name="Foreign s.r.o.")
    for subject_id in (foreign.pk, 999999, "abc"):
        response = acme_api.post("invoices.json", {"subject_id": subject_id, "lines": [LINE]})
        assert response.status_code == 422
        assert response.json() == {"errors": {"subject_id": ["Contact does not exist."]}}
    assert not Invoice.objects.exists()


@pytest.mark.parametrize(
    ("lines", "errors"),
    [
        (None, {"lines": ["can't be blank"]}),
        ([], {"lines": ["can't be blank"]}),
        ([{"unit_price": "10"}], {"lines.name": ["can't be blank"]}),
        ([{"name": "Work"}], {"lines.unit_price": ["can't be blank"]}),
        ([{"name": "Work", "unit_price": "ten"}], {"lines.unit_price": ["is not a number"]}),
        (
            [{"name": "Work", "unit_price": "10", "quantity": "many"}],
            {"lines.quantity": ["is not a number"]},
        ),
    ],
)
def test_it_requires_lines_with_a_name_and_a_unit_price(acme_api, subject, lines, errors):
    payload = {"subject_id": subject.pk}
    if lines is not None:
        payload["lines"] = lines
    response = acme_api.post("invoices.json", payload)
    assert response.status_code == 422
    assert response.json() == {"errors": errors}
    assert not Invoice.objects.exists()


def test_it_filters_invoices(acme_api, subject):
    other = ensure_subject("acme", name="Alza.cz a.s.")
    first = create(acme_api, subject, custom_id="a-1").json()
    second = create(acme_api, other, custom_id="a-2").json()
    old = create(acme_api, subject, custom_id="a-3", issued_on="2020-01-01").json()

    def ids(**params):
        response = acme_api.get("invoices.json", **params)
        assert response.status_code == 200
        return [invoice["id"] for invoice in response.json()]

    assert ids() == [first["id"], second["id"], old["id"]]
    assert ids(custom_id="a-2") == [second["id"]]
    assert ids(custom_id="a") == []
    assert ids(subject_id=subject.pk) == [first["id"], old["id"]]
    assert ids(number=second["number"]) == [second["id"]]
    assert ids(status="overdue") == [old["id"]]
    assert ids(status="open") == [first["id"], second["id"]]
    assert ids(status="paid") == []
    assert ids(page=2) == []


def test_it_paginates_invoices_40_per_page(acme_api, subject):
    for _ in range(41):
        assert create(acme_api, subject).status_code == 201
    assert [len(acme_api.get("invoices.json", page=n).json()) for n in (1, 2, 3)] == [40, 1, 0]


def test_it_answers_404_for_unknown_invoices(acme_api, subject):
    for path in ("invoices/999.json", "invoices/999/fire.json?event=lock"):
        method = "POST" if "fire" in path else "GET"
        response = acme_api.request(method, path)
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"
    assert acme_api.post("invoices/999/payments.json", {}).status_code == 404


@pytest.mark.parametrize(
    ("events", "status"),
    [
        (["mark_as_sent"], "sent"),
        (["cancel"], "cancelled"),
        (["cancel", "undo_cancel"], "open"),
        (["mark_as_sent", "cancel", "undo_cancel"], "sent"),
        (["mark_as_uncollectible"], "uncollectible"),
        (["mark_as_uncollectible", "undo_uncollectible"], "open"),
        (["lock", "unlock"], "open"),
    ],
)
def test_it_fires_invoice_events(acme_api, subject, events, status):
    invoice_id = create(acme_api, subject).json()["id"]
    for event in events:
        response = acme_api.post(f"invoices/{invoice_id}/fire.json", event=event)
        assert response.status_code == 204, response.content
        assert response.content == b""
    assert acme_api.get(f"invoices/{invoice_id}.json").json()["status"] == status


def test_it_accepts_the_event_in_a_json_body(acme_api, subject):
    invoice_id = create(acme_api, subject).json()["id"]
    assert acme_api.post(f"invoices/{invoice_id}/fire.json", {"event": "lock"}).status_code == 204
    assert acme_api.get(f"invoices/{invoice_id}.json").json()["locked_at"] is not None


@pytest.mark.parametrize(
    ("before", "event"),
    [
        ([], "undo_cancel"),
        ([], "unlock"),
        (["lock"], "lock"),
        (["lock"], "cancel"),
        (["mark_as_sent"], "mark_as_sent"),
        (["cancel"], "cancel"),
        ([], "undo_uncollectible"),
        ([], "pay"),
    ],
)
def test_it_refuses_events_that_cannot_be_fired_now(acme_api, subject, before, event):
    invoice_id = create(acme_api, subject).json()["id"]
    for earlier in before:
        assert acme_api.post(f"invoices/{invoice_id}/fire.json", event=earlier).status_code == 204
    response = acme_api.post(f"invoices/{invoice_id}/fire.json", event=event)
    assert response.status_code == 422
    assert response.json() == {"errors": {"event": [f"{event} cannot be fired"]}}


def test_it_marks_an_invoice_paid_by_a_payment(acme_api, subject):
    invoice_id = create(acme_api, subject).json()["id"]
    response = acme_api.post(f"invoices/{invoice_id}/payments.json", {"paid_on": "2024-01-10"})
    assert response.status_code == 201
    payment = response.json()
    assert payment["paid_on"] == "2024-01-10"
    assert payment["amount"] == "48400.0"
    assert payment["native_amount"] == "48400.0"
    assert payment["currency"] == "CZK"
    invoice = acme_api.get(f"invoices/{invoice_id}.json").json()
    assert invoice["status"] == "paid"
    assert invoice["paid_on"] == "2024-01-10"
    assert invoice["remaining_amount"] == "0.0"
    assert [p["id"] for p in invoice["payments"]] == [payment["id"]]
    assert acme_api.get("invoices.json", status="paid").json()[0]["id"] == invoice_id

    again = acme_api.post(f"invoices/{invoice_id}/payments.json", {})
    assert again.status_code == 403
    assert again.json() == {
        "error": "forbidden",
        "error_description": "Payment cannot be added to already paid invoice",
    }


def test_it_keeps_an_invoice_unpaid_after_a_partial_payment(acme_api, subject):
    invoice_id = create(acme_api, subject).json()["id"]
    response = acme_api.post(f"invoices/{invoice_id}/payments.json", {"amount": "400"})
    assert response.status_code == 201
    invoice = acme_api.get(f"invoices/{invoice_id}.json").json()
    assert invoice["status"] == "open"
    assert invoice["remaining_amount"] == "48000.0"
    bad = acme_api.post(f"invoices/{invoice_id}/payments.json", {"amount": "lots"})
    assert bad.status_code == 422
    assert bad.json() == {"errors": {"amount": ["is not a number"]}}


def test_it_marks_an_invoice_sent_by_a_message(acme_api, subject):
    invoice_id = create(acme_api, subject).json()["id"]
    response = acme_api.post(f"invoices/{invoice_id}/message.json", {"subject": "Invoice"})
    assert response.status_code == 204
    invoice = acme_api.get(f"invoices/{invoice_id}.json").json()
    assert invoice["status"] == "sent"
    assert invoice["sent_at"] is not None


def test_it_refuses_a_message_without_a_recipient(acme_api):
    subject = ensure_subject("acme", name="No Mail s.r.o.")
    invoice_id = create(acme_api, subject).json()["id"]
    response = acme_api.post(f"invoices/{invoice_id}/message.json", {})
    assert response.status_code == 422
    assert response.json() == {"errors": {"email": ["Please check the email."]}}
    assert acme_api.get(f"invoices/{invoice_id}.json").json()["sent_at"] is None


def test_it_reports_an_unpaid_invoice_past_its_due_date_as_overdue(acme_api, subject):
    issued = (timezone.localdate() - timedelta(days=20)).isoformat()
    body = create(acme_api, subject, issued_on=issued, due=14).json()
    assert body["status"] == "overdue"
    acme_api.post(f"invoices/{body['id']}/fire.json", event="mark_as_sent")
    assert acme_api.get(f"invoices/{body['id']}.json").json()["status"] == "overdue"
    acme_api.post(f"invoices/{body['id']}/payments.json", {})
    assert acme_api.get(f"invoices/{body['id']}.json").json()["status"] == "paid"


def test_it_serves_the_pdf_after_a_first_204(acme_api, subject):
    invoice_id = create(acme_api, subject).json()["id"]
    first = acme_api.get(f"invoices/{invoice_id}/download.pdf")
    assert first.status_code == 204
    second = acme_api.get(f"invoices/{invoice_id}/download.pdf")
    assert second.status_code == 200
    assert second["Content-Type"] == "application/pdf"
    assert second.content.startswith(b"%PDF-1.4")
    assert second.content.rstrip().endswith(b"%%EOF")
    assert b"Apple Czech s.r.o." in second.content


def test_it_updates_an_invoice_and_refuses_while_locked(acme_api, subject):
    body = create(acme_api, subject).json()
    line_id = body["lines"][0]["id"]
    response = acme_api.patch(
        f"invoices/{body['id']}.json",
        {
            "note": "Updated",
            "due": 30,
            "lines": [
                {"id": line_id, "unit_price": "1000"},
                {"name": "Extra", "unit_price": "500", "vat_rate": 21},
            ],
        },
    )
    assert response.status_code == 200
    updated = response.json()
    assert updated["note"] == "Updated"
    assert updated["due"] == 30
    assert date.fromisoformat(updated["due_on"]) == date.fromisoformat(body["issued_on"]) + (
        timedelta(days=30)
    )
    assert [line["name"] for line in updated["lines"]] == ["Hard work", "Extra"]
    assert updated["subtotal"] == "1500.0"
    assert updated["total"] == "1815.0"

    acme_api.post(f"invoices/{body['id']}/fire.json", event="lock")
    locked = acme_api.patch(f"invoices/{body['id']}.json", {"note": "Again"})
    assert locked.status_code == 403
    assert locked.json() == {
        "error": "document_locked",
        "error_description": "Document first needs to be unlocked to perform the action",
    }
    deleted = acme_api.delete(f"invoices/{body['id']}.json")
    assert deleted.status_code == 422
    assert deleted.json() == {"errors": {"document": ["Document cannot be deleted"]}}


def test_it_deletes_an_unlocked_invoice(acme_api, subject):
    invoice_id = create(acme_api, subject).json()["id"]
    assert acme_api.delete(f"invoices/{invoice_id}.json").status_code == 204
    assert acme_api.get(f"invoices/{invoice_id}.json").status_code == 404


def test_it_keeps_the_reverse_charge_of_a_foreign_invoice(acme_api, subject):
    response = create(
        acme_api, subject, currency="EUR", exchange_rate="24.335", transferred_tax_liability=True
    )

    assert response.status_code == 201
    body = response.json()
    assert (body["currency"], body["exchange_rate"]) == ("EUR", "24.335")
    assert body["transferred_tax_liability"] is True
    assert Decimal(body["native_total"]) == (Decimal(body["total"]) * Decimal("24.335")).quantize(
        Decimal("0.01")
    )
