"""Invoicing → Month-end run: the review page, starting, the progress page and its JSON, the
runs list, cancel / retry / resume, and the invoice_month command."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from fakturoid.models import InvoiceRun, InvoiceRunItem
from tests.support import login
from tests.support.fake_account import FakeAccount
from tests.support.fakturoid_mocks import OCTOBER

pytestmark = pytest.mark.usefixtures("fakturoid_config", "immediate_tasks")


@pytest.fixture
def immediate_tasks(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture
def account(api) -> FakeAccount:
    return FakeAccount().install(api)


@pytest.fixture
def billed(agency, connected, make_client, make_project, make_item):
    """Two linked clients with a monthly fee, one unlinked, one with nothing to bill."""
    clients = []
    for index, name in enumerate(["Alfa s.r.o.", "Beta s.r.o."]):
        client = make_client(agency, name, fakturoid_subject_id=200 + index)
        make_item(make_project(client), "PPC management", "10000", vat_rate=21)
        clients.append(client)
    make_client(agency, "Unlinked s.r.o.")
    make_client(agency, "Idle s.r.o.", fakturoid_subject_id=299)
    return clients


def start_run(http, clients, django_capture_on_commit_callbacks, **extra):
    data = {"period": "2026-10", "client": [c.pk for c in clients], **extra}
    with django_capture_on_commit_callbacks(execute=True):
        response = http.post(reverse("fakturoid:run_start"), data)
    assert response.status_code == 302
    return InvoiceRun.objects.get(), response


def test_it_reviews_every_client_without_asking_fakturoid(account, member_http, billed):
    page = member_http.get(reverse("fakturoid:run_review"), {"month": "2026-10"})
    html = page.content.decode()
    assert page.status_code == 200
    assert html.count('name="client"') == 2 and html.count("checked") == 2
    for words in ("will be invoiced", "not linked", "nothing to bill", "24200.00"):
        assert words in html
    assert account.calls == {}


def test_it_says_what_is_missing_when_fakturoid_is_not_set_up(member_http, agency):
    page = member_http.get(reverse("fakturoid:run_review"))
    assert "Fakturoid is not set up for this agency" in page.content.decode()


def test_it_refuses_a_bad_month_and_an_empty_choice(member_http, billed):
    bad = member_http.get(reverse("fakturoid:run_review"), {"month": "2026-13"})
    assert bad.status_code == 302
    empty = member_http.post(reverse("fakturoid:run_start"), {"period": "2026-10"}, follow=True)
    assert "Choose at least one client to invoice." in empty.content.decode()
    assert not InvoiceRun.objects.exists()


def test_it_starts_the_run_and_shows_its_progress(
    account, member_http, billed, member, django_capture_on_commit_callbacks
):
    run, response = start_run(member_http, billed, django_capture_on_commit_callbacks)
    assert response["Location"] == reverse("fakturoid:run_detail", args=[run.pk])
    assert run.started_by == member and run.state == "finished"
    page = member_http.get(response["Location"]).content.decode()
    assert "2026-0001" in page and "2026-0002" in page and "js/run_progress.js" in page
    data = member_http.get(reverse("fakturoid:run_progress", args=[run.pk])).json()
    assert (data["state"], data["created"], data["total"], data["percent"]) == (
        "finished",
        2,
        2,
        100,
    )
    assert {item["number"] for item in data["items"]} == {"2026-0001", "2026-0002"}
    later = member_http.get(
        reverse("fakturoid:run_progress", args=[run.pk]), {"since": "2100-01-01T00:00:00+00:00"}
    )
    assert later.json()["items"] == []
    runs_page = member_http.get(reverse("fakturoid:run_list")).content.decode()
    assert "10/2026" in runs_page and "member" in runs_page


def test_it_retries_a_failed_client_from_its_row(
    account, owner_http, billed, django_capture_on_commit_callbacks
):
    account.fail["create"] = [422]
    run, _ = start_run(owner_http, billed, django_capture_on_commit_callbacks)
    failed = run.items.get(state="failed")
    page = owner_http.get(reverse("fakturoid:run_detail", args=[run.pk])).content.decode()
    assert "Fakturoid refused the data: subject_id: Contact does not exist." in page
    with django_capture_on_commit_callbacks(execute=True):
        owner_http.post(reverse("fakturoid:run_retry", args=[run.pk]), {"item": failed.pk})
    failed.refresh_from_db()
    assert failed.state == "created"


def test_it_shows_one_banner_for_a_paused_run_and_resumes_it(
    account, owner_http, billed, django_capture_on_commit_callbacks
):
    account.fail["create"] = [402]
    run, _ = start_run(owner_http, billed, django_capture_on_commit_callbacks)
    page = owner_http.get(reverse("fakturoid:run_detail", args=[run.pk])).content.decode()
    assert page.count("The Fakturoid account is blocked") == 1
    assert "Resume the run" in page
    with django_capture_on_commit_callbacks(execute=True):
        owner_http.post(reverse("fakturoid:run_resume", args=[run.pk]))
    run.refresh_from_db()
    assert run.state == "finished" and account.created() == 2


def test_it_cancels_a_run(owner_http, billed, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        owner_http.post(
            reverse("fakturoid:run_start"), {"period": "2026-10", "client": [billed[0].pk]}
        )
    run = InvoiceRun.objects.get()
    owner_http.post(reverse("fakturoid:run_cancel", args=[run.pk]))
    run.refresh_from_db()
    assert run.state == "cancelled"
    assert list(run.items.values_list("state", flat=True)) == ["cancelled"]


def test_it_keeps_runs_to_their_agency(
    billed, other_agency, django_capture_on_commit_callbacks, owner_http
):
    with django_capture_on_commit_callbacks(execute=False):
        owner_http.post(
            reverse("fakturoid:run_start"), {"period": "2026-10", "client": [billed[0].pk]}
        )
    run = InvoiceRun.objects.get()
    rival = login(other_agency.memberships.get().user)
    for name in ("run_detail", "run_progress"):
        assert rival.get(reverse(f"fakturoid:{name}", args=[run.pk])).status_code == 404
    for name in ("run_cancel", "run_retry", "run_resume"):
        assert rival.post(reverse(f"fakturoid:{name}", args=[run.pk])).status_code == 404
    # Another agency's client ids are ignored when starting.
    with django_capture_on_commit_callbacks(execute=False):
        rival.post(reverse("fakturoid:run_start"), {"period": "2026-10", "client": [billed[0].pk]})
    assert InvoiceRun.objects.count() == 1
    assert owner_http.get(reverse("fakturoid:run_cancel", args=[run.pk])).status_code == 405


def test_it_prints_the_review_on_a_dry_run(account, agency, billed):
    out = io.StringIO()
    call_command("invoice_month", agency.key, "2026-10", "--dry-run", stdout=out)
    text = out.getvalue()
    assert "Alfa s.r.o.: will be invoiced 12100.00 CZK (1 lines)" in text
    assert "Unlinked s.r.o.: not linked" in text
    assert "Total CZK: 24200.00 in 2 invoices" in text
    assert not InvoiceRun.objects.exists() and account.calls == {}


@pytest.mark.django_db(transaction=True)  # the tasks run as the command's transaction commits
def test_it_runs_the_month_from_the_command_line_and_fails_loudly(account, agency, billed):
    account.fail["create"] = [422]
    out = io.StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("invoice_month", agency.name, "2026-10", "--wait", stdout=out)
    assert failed.value.returncode == 1
    text = out.getvalue()
    assert "Alfa s.r.o.: failed Fakturoid refused the data" in text
    assert "Beta s.r.o.: created 2026-0001" in text
    assert "1 created, 1 failed, 0 skipped, 0 waiting" in text
    assert InvoiceRunItem.objects.filter(run__period=OCTOBER).count() == 2


def test_it_refuses_an_unknown_agency_or_month(agency):
    with pytest.raises(CommandError) as unknown:
        call_command("invoice_month", "nobody", "2026-10")
    assert unknown.value.returncode == 2
    with pytest.raises(CommandError, match="write it as YYYY-MM"):
        call_command("invoice_month", agency.key, "October")
