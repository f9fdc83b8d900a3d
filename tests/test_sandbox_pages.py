"""Fakturoid sandbox: HTML pages, the sandbox_account command, seeding API, the off switch."""

import json

import pytest
from django.core.management import CommandError, call_command
from django.urls import NoReverseMatch, reverse

from fakturoid_sandbox.control import ensure_account, ensure_subject
from fakturoid_sandbox.models import Account, Credential, Subject
from fakturoid_sandbox.testing import USER_AGENT, sandbox_mounted

BANNER = "Fakturoid sandbox — not the real Fakturoid"
XSS = "<script>alert(1)</script>"


@pytest.fixture
def invoice(sandbox_api):
    subject = ensure_subject(
        "acme",
        name=f"Evil {XSS} s.r.o.",
        registration_no="27082440",
        vat_no="CZ27082440",
        email="evil@example.cz",
        street="Na Příkopě 1",
        city="Praha",
        zip="11000",
    )
    response = sandbox_api.post(
        "invoices.json",
        {
            "subject_id": subject.pk,
            "lines": [
                {"name": f"Line {XSS}", "quantity": 2, "unit_price": "1000", "vat_rate": 21},
                {"name": "Domain", "unit_price": "300", "vat_rate": 12},
            ],
        },
    )
    assert response.status_code == 201
    return response.json()


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    text = response.content.decode()
    assert BANNER in text
    assert XSS not in text
    return text


def test_it_shows_the_invoices_list(client, invoice):
    text = page(client, "/sandbox/fakturoid/acme/invoices")
    assert invoice["number"] in text
    assert "Evil &lt;script&gt;alert(1)&lt;/script&gt; s.r.o." in text
    assert "2756.00" in text  # 2000 + 420 VAT, 300 + 36 VAT
    assert "open" in text
    assert invoice["issued_on"] in text


def test_it_shows_the_invoice_the_api_links_to(client, invoice):
    text = page(client, invoice["html_url"].removeprefix("http://testserver"))
    assert invoice["number"] in text
    assert "Line &lt;script&gt;" in text
    for expected in ("27082440", "CZ27082440", "Na Příkopě 1", "Praha", "11000"):
        assert expected in text
    assert invoice["due_on"] in text
    assert "2300.00" in text and "2756.00" in text  # subtotal and total
    assert "420.00" in text and "36.00" in text  # VAT of each rate


def test_it_shows_the_public_invoice_page(client, invoice):
    text = page(client, invoice["public_html_url"].removeprefix("http://testserver"))
    assert invoice["number"] in text
    wrong_token = f"/sandbox/fakturoid/acme/p/WRONGTOKEN/{invoice['number']}"
    assert client.get(wrong_token).status_code == 404


def test_it_shows_contacts_and_a_contact(client, invoice):
    text = page(client, "/sandbox/fakturoid/acme/subjects")
    for expected in (str(invoice["subject_id"]), "27082440", "CZ27082440", "evil@example.cz"):
        assert expected in text
    text = page(client, f"/sandbox/fakturoid/acme/subjects/{invoice['subject_id']}")
    assert invoice["number"] in text


def test_it_shows_whether_the_account_has_a_bank_account(client, sandbox_api):
    assert "2400123456/2010" in page(client, "/sandbox/fakturoid/acme/settings/bank_accounts")
    ensure_account("acme", bank_account=False)
    text = page(client, "/sandbox/fakturoid/acme/settings/bank_accounts")
    assert "No bank account is set up." in text


def test_it_lists_the_accounts_without_their_secrets(client, sandbox_api):
    text = page(client, "/sandbox/fakturoid/")
    assert "acme" in text
    assert sandbox_api.credential.client_secret not in text
    response = client.get("/sandbox/fakturoid/acme/")
    assert response.status_code == 302
    assert response["Location"] == "/sandbox/fakturoid/acme/invoices"


def test_it_answers_404_for_unknown_pages(client, sandbox_api, invoice):
    assert client.get("/sandbox/fakturoid/nobody/invoices").status_code == 404
    assert client.get("/sandbox/fakturoid/acme/invoices/999").status_code == 404
    assert client.get("/sandbox/fakturoid/acme/subjects/999").status_code == 404


def test_it_prints_exactly_one_json_object_for_a_new_account(db, capsys):
    call_command("sandbox_account", "demo-agency", "--name", "Demo Agency s.r.o.")
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    data = json.loads(out)
    assert set(data) == {"slug", "client_id", "client_secret"}
    credential = Credential.objects.get(client_id=data["client_id"])
    assert credential.client_secret == data["client_secret"]
    account = credential.account
    assert (account.slug, account.name) == ("demo-agency", "Demo Agency s.r.o.")
    assert account.vat_mode == "vat_payer"
    assert account.has_bank_account


def test_it_updates_an_account_and_keeps_its_credentials(db, capsys):
    call_command("sandbox_account", "demo", "--name", "Demo s.r.o.")
    first = json.loads(capsys.readouterr().out)
    call_command("sandbox_account", "demo", "--non-vat-payer", "--no-bank-account")
    second = json.loads(capsys.readouterr().out)
    assert second == first
    account = Account.objects.get(slug="demo")
    assert account.name == "Demo s.r.o."
    assert account.vat_mode == "non_vat_payer"
    assert not account.has_bank_account
    assert Credential.objects.filter(account=account).count() == 1


@pytest.mark.parametrize("slug", ["api", "control", "not a slug"])
def test_it_refuses_reserved_or_invalid_slugs(db, slug):
    with pytest.raises(CommandError):
        call_command("sandbox_account", slug)
    assert not Account.objects.exists()


def test_it_seeds_subjects_idempotently(db):
    ensure_account("acme", name="Acme s.r.o.")
    first = ensure_subject(
        "acme", name="Alza.cz a.s.", registration_no="27082440", email="a@alza.cz", city="Praha"
    )
    again = ensure_subject(
        "acme",
        name="Alza.cz a.s.",
        registration_no="27082440",
        email="a@alza.cz",
        city="Brno",
        custom_id="alza",
        phone="+420 123",
    )
    assert again.pk == first.pk
    subject = Subject.objects.get()
    assert (subject.city, subject.custom_id, subject.phone) == ("Brno", "alza", "+420 123")
    other = ensure_subject("acme", name="Alza.cz a.s.", registration_no="27082440")
    assert other.pk != first.pk


def test_it_serves_nothing_when_the_sandbox_is_off(client, db):
    ensure_account("acme", name="Acme s.r.o.")
    with sandbox_mounted(False):
        for url in (
            "/sandbox/fakturoid/api/v3/user.json",
            "/sandbox/fakturoid/api/v3/oauth/token",
            "/sandbox/fakturoid/control/acme.json",
            "/sandbox/fakturoid/acme/invoices",
        ):
            assert client.get(url, headers={"User-Agent": USER_AGENT}).status_code == 404, url
        with pytest.raises(NoReverseMatch):
            reverse("sandbox:index")
    with sandbox_mounted(True):
        assert client.get("/sandbox/fakturoid/control/acme.json").status_code == 200
