"""Month-end runs (fakturoid/services/runs.py, review.py, tasks.py) against a Fakturoid account
mocked with `responses`, tasks run by the immediate backend as each transaction commits."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from fakturoid import errors, tasks
from fakturoid.models import Invoice, InvoiceRun, InvoiceRunItem, RequestBudget
from fakturoid.services import invoicing, review, runs
from registries.models import ExchangeRate
from tests.support.fake_account import FakeAccount
from tests.support.fakturoid_mocks import OCTOBER

pytestmark = pytest.mark.usefixtures("fakturoid_config", "immediate_tasks")

Item = InvoiceRunItem.State


@pytest.fixture
def immediate_tasks(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture
def account(api) -> FakeAccount:
    return FakeAccount().install(api)


@pytest.fixture
def three_clients(agency, connected, make_client, make_project, make_item):
    """Three linked clients billing 10 000 CZK + one-off work, 500 EUR, and 2 000 CZK."""
    made = []
    for index, (name, amount, currency) in enumerate(
        [("Alfa s.r.o.", "10000", "CZK"), ("Beta GmbH", "500", "EUR"), ("Gama a.s.", "2000", "CZK")]
    ):
        client = make_client(agency, name, fakturoid_subject_id=100 + index, currency=currency)
        project = make_project(client, f"{name} shop")
        make_item(project, "PPC management", amount, vat_rate=21)
        made.append(client)
    make_item(made[0].projects.get(), "Audit", "1500", vat_rate=21, kind="one_off", month=OCTOBER)
    # ČNB's EUR rate of the month's last day, known already: building the review asks nobody.
    last_day = date(2026, 10, 31)
    ExchangeRate.objects.create(
        day=last_day, currency="EUR", published_on=last_day, quantity=1, rate=Decimal("24.5")
    )
    return made


def start(agency, owner, clients, *, send_email=False, capture=None):
    run, started = runs.start_run(
        agency=agency,
        period=OCTOBER,
        user=owner,
        client_ids=[client.pk for client in clients],
        send_email=send_email,
    )
    return run


def run_now(django_capture_on_commit_callbacks, agency, owner, clients, **options):
    with django_capture_on_commit_callbacks(execute=True):
        run = start(agency, owner, clients, **options)
    run.refresh_from_db()
    return run


def states(run) -> dict[str, str]:
    return dict(run.items.values_list("client__name", "state"))


def test_it_reviews_the_month_with_the_numbers_one_click_would_create(
    account, agency, three_clients, make_client, owner, django_capture_on_commit_callbacks
):
    make_client(agency, "Unlinked s.r.o.")
    make_client(agency, "Idle s.r.o.", fakturoid_subject_id=999)
    month = review.review_month(agency=agency, period=OCTOBER)
    outcomes = {row.client.name: row.outcome for row in month.rows}
    assert outcomes == {
        "Alfa s.r.o.": "will_invoice",
        "Beta GmbH": "will_invoice",
        "Gama a.s.": "will_invoice",
        "Idle s.r.o.": "nothing_to_bill",
        "Unlinked s.r.o.": "not_linked",
    }
    assert account.calls == {}  # the review asked Fakturoid nothing
    alfa = next(row for row in month.rows if row.client.name == "Alfa s.r.o.")
    assert (alfa.draft.subtotal, alfa.draft.vat, alfa.draft.total) == (
        Decimal("11500"),
        Decimal("2415.00"),
        Decimal("13915.00"),
    )
    assert [(t.currency, t.invoices, t.total) for t in month.totals] == [
        ("CZK", 2, Decimal("16335.00")),
        ("EUR", 1, Decimal("605.00")),
    ]
    # What the run POSTs is exactly what the invoice icon's draft (the review's figures) holds.
    run = run_now(django_capture_on_commit_callbacks, agency, owner, three_clients)
    assert run.state == InvoiceRun.State.FINISHED
    drafts = {row.draft.payload["custom_id"]: row.draft.payload for row in month.rows if row.draft}
    for body in account.posted:
        assert body == drafts[body["custom_id"]]
    one_click = invoicing.build_invoice(client=three_clients[0], period=OCTOBER)
    assert one_click.payload == alfa.draft.payload


def test_it_invoices_every_client_once_with_one_request_each(
    account, agency, three_clients, owner, django_capture_on_commit_callbacks
):
    run = run_now(django_capture_on_commit_callbacks, agency, owner, three_clients)
    assert set(states(run).values()) == {Item.CREATED}
    assert account.calls == {"create": 3}
    progress = runs.progress(run=run)
    assert (progress.created, progress.waiting, progress.percent) == (3, 0, 100)
    numbers = set(run.items.values_list("invoice__number", flat=True))
    assert numbers == {"2026-0001", "2026-0002", "2026-0003"}


def test_it_does_not_double_a_run_started_twice(
    account, agency, three_clients, owner, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = start(agency, owner, three_clients)
        second = start(agency, owner, three_clients)
    assert first == second
    assert InvoiceRun.objects.count() == 1 and first.items.count() == 3
    for callback in callbacks:
        callback()
    first.refresh_from_db()
    assert first.state == InvoiceRun.State.FINISHED
    # A second run once the first is over skips what is invoiced already.
    again = run_now(django_capture_on_commit_callbacks, agency, owner, three_clients)
    assert again != first
    assert set(states(again).values()) == {Item.SKIPPED}
    assert account.created() == 3 and account.duplicates() == 0


@pytest.mark.parametrize("status", [402, 403, 401])
def test_it_pauses_once_when_the_whole_account_is_refused(
    status, account, agency, three_clients, owner, django_capture_on_commit_callbacks
):
    account.fail["create"] = [status]
    account.fail["token"] = [401]  # 401: credentials revoked, so a new token is refused too
    with django_capture_on_commit_callbacks(execute=True):
        run = start(agency, owner, three_clients[:1])
    run.refresh_from_db()
    assert run.state == InvoiceRun.State.PAUSED
    assert run.pause_reason
    assert states(run) == {"Alfa s.r.o.": Item.WAITING}


def test_it_pauses_on_a_blocked_account_and_resumes(
    account, agency, three_clients, owner, django_capture_on_commit_callbacks
):
    account.fail["create"] = [402]
    run = run_now(django_capture_on_commit_callbacks, agency, owner, three_clients)
    assert run.state == InvoiceRun.State.PAUSED
    assert "blocked" in run.pause_reason
    # The other clients' tasks found the run paused and did nothing: no identical errors.
    assert list(run.items.values_list("state", flat=True)) == [Item.WAITING] * 3
    assert account.calls == {"create": 1}
    with django_capture_on_commit_callbacks(execute=True):
        assert runs.resume_run(run=run)
    run.refresh_from_db()
    assert run.state == InvoiceRun.State.FINISHED
    assert set(states(run).values()) == {Item.CREATED}
    assert account.created() == 3


def test_it_fails_only_the_client_fakturoid_refuses(
    account, agency, three_clients, owner, django_capture_on_commit_callbacks
):
    account.fail["create"] = [422]
    run = run_now(django_capture_on_commit_callbacks, agency, owner, three_clients)
    assert run.state == InvoiceRun.State.FINISHED
    failed = run.items.get(state=Item.FAILED)
    assert "Contact does not exist" in failed.error
    assert run.items.filter(state=Item.CREATED).count() == 2
    # Retry-failed tries that one client again, and only it.
    with django_capture_on_commit_callbacks(execute=True):
        assert runs.retry_failed(run=run) == 1
    run.refresh_from_db()
    assert run.state == InvoiceRun.State.FINISHED
    assert set(states(run).values()) == {Item.CREATED}
    assert account.calls["create"] == 4 and account.created() == 3


def test_it_finds_the_invoice_after_a_lost_answer_instead_of_posting_again(
    account, agency, three_clients, owner, django_capture_on_commit_callbacks, monkeypatch, settings
):
    settings.FAKTUROID_SETTLE_SECONDS = 0  # time stands still here: no settle time to wait out
    waits = []
    monkeypatch.setattr(tasks.time, "sleep", waits.append)
    account.fail["create"] = ["lost", "timeout"]
    run = run_now(django_capture_on_commit_callbacks, agency, owner, three_clients[:2])
    assert set(states(run).values()) == {Item.CREATED}
    assert account.created() == 2 and account.duplicates() == 0
    assert len(waits) == 1  # the timed-out one (never carried out) was tried again later


def test_it_defers_a_client_past_a_long_rate_limit_without_counting_it_as_a_try(
    account, agency, three_clients, owner, django_capture_on_commit_callbacks, monkeypatch, settings
):
    settings.FAKTUROID_BACKGROUND_MAX_WAIT = 0  # any wait for budget is "long": defer the task
    waits = []

    def time_passes(seconds: float) -> None:
        waits.append(seconds)
        RequestBudget.objects.all().delete()  # the window has reset meanwhile

    monkeypatch.setattr(tasks.time, "sleep", time_passes)
    account.fail["create"] = [429]
    run = run_now(django_capture_on_commit_callbacks, agency, owner, three_clients[:1])
    assert states(run) == {"Alfa s.r.o.": Item.CREATED}
    assert waits and 6 <= waits[0] <= 7
    assert run.items.get().attempts == 1


def test_it_gives_up_on_a_client_after_three_unanswered_tries(
    account, agency, three_clients, owner, django_capture_on_commit_callbacks, monkeypatch, settings
):
    settings.FAKTUROID_SETTLE_SECONDS = 0  # time stands still here: no settle time to wait out
    monkeypatch.setattr(tasks.time, "sleep", lambda seconds: None)
    monkeypatch.setattr(tasks, "MAX_INLINE_WAIT", 60)
    account.fail["create"] = [503, 503, 503]
    account.fail["find"] = []
    run = run_now(django_capture_on_commit_callbacks, agency, owner, three_clients[:1])
    item = run.items.get()
    assert item.state == Item.FAILED and item.attempts == 3
    assert "Fakturoid could not be reached" in item.error
    assert account.created() == 0


def test_it_cancels_what_has_not_started(
    account, agency, three_clients, owner, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run = start(agency, owner, three_clients)
    assert runs.cancel_run(run=run) == 3
    for callback in callbacks:  # the workers get to the tasks after the cancel
        callback()
    run.refresh_from_db()
    assert run.state == InvoiceRun.State.CANCELLED
    assert set(states(run).values()) == {Item.CANCELLED}
    assert account.calls == {}


def test_it_sends_each_invoice_by_email_and_records_a_refusal_in_words(
    account, agency, three_clients, owner, django_capture_on_commit_callbacks
):
    account.fail["message"] = [
        (403, {"error": "upgrade_required", "error_description": "upgrade_required"}),
        (422, {"errors": {"email": ["is invalid"]}}),
    ]
    run = run_now(django_capture_on_commit_callbacks, agency, owner, three_clients, send_email=True)
    assert set(states(run).values()) == {Item.CREATED}
    items = list(run.items.order_by("client__name"))
    assert [bool(item.emailed_at) for item in items] == [False, False, True]
    assert "Fakturoid sends e-mails only on paid plans" in items[0].email_error
    assert "cannot send to this e-mail address (is invalid)" in items[1].email_error
    assert len(account.sent) == 1 and account.created() == 3


def test_a_worker_dying_before_the_email_leaves_it_to_the_next_attempt(
    account, agency, three_clients, owner, django_capture_on_commit_callbacks, monkeypatch
):
    """The invoice is recorded, the worker dies before the e-mail: the item stays working
    (not "created" with no e-mail ever sent), and the attempt that takes it over finds the
    invoice and sends the e-mail, once."""
    with django_capture_on_commit_callbacks(execute=False):
        run = start(agency, owner, three_clients[:1], send_email=True)
    item = run.items.get()
    real_send = runs._send_email

    def killed(*args):
        raise SystemExit("worker killed")

    monkeypatch.setattr(runs, "_send_email", killed)
    with pytest.raises(SystemExit):
        runs.work_on_items(run_id=run.pk, item_ids=[item.pk])
    item.refresh_from_db()
    assert (item.state, item.invoice.state, account.sent) == (Item.WORKING, "created", [])

    monkeypatch.setattr(runs, "_send_email", real_send)
    InvoiceRunItem.objects.update(updated_at=timezone.now() - timedelta(minutes=10))
    with django_capture_on_commit_callbacks(execute=True):
        runs.watch_run(run_id=run.pk)
    item.refresh_from_db()
    assert (item.state, bool(item.emailed_at)) == (Item.CREATED, True)
    assert account.created() == 1 and len(account.sent) == 1


def test_it_takes_over_an_item_whose_worker_died(
    account, agency, three_clients, owner, django_capture_on_commit_callbacks
):
    """A worker killed mid-POST leaves the item working and the invoice claimed: once both
    are stale the watch re-enqueues the item, which looks the invoice up before anything."""
    with django_capture_on_commit_callbacks(execute=False):
        run = start(agency, owner, three_clients[:1])
    item = run.items.get()
    long_ago = timezone.now() - timedelta(minutes=10)
    custom_id = f"{agency.key}-c{three_clients[0].pk}-2026-10"
    Invoice.objects.create(
        agency=agency, client=three_clients[0], period=OCTOBER, custom_id=custom_id
    )
    account.invoices[custom_id] = [
        {**_document(custom_id), "number": "2026-0777", "id": 777}
    ]  # the dead worker's POST went through
    Invoice.objects.update(updated_at=long_ago, uncertain_since=long_ago)
    InvoiceRunItem.objects.filter(pk=item.pk).update(state=Item.WORKING, updated_at=long_ago)
    with django_capture_on_commit_callbacks(execute=True):
        assert runs.watch_run(run_id=run.pk) is not None
    run.refresh_from_db()
    item.refresh_from_db()
    assert (run.state, item.state, item.invoice.number) == ("finished", "created", "2026-0777")
    assert "create" not in account.calls and account.calls["find"] >= 1


def test_it_takes_over_the_rest_of_the_batch_of_a_worker_that_died(
    account, agency, three_clients, owner, django_capture_on_commit_callbacks
):
    """A worker killed in a batch leaves one item working and the batch's later items
    waiting with their task gone: the watch enqueues them with the stale one."""
    with django_capture_on_commit_callbacks(execute=False):
        run = start(agency, owner, three_clients)
    first, *rest = run.items.order_by("pk")
    long_ago = timezone.now() - timedelta(minutes=10)
    InvoiceRunItem.objects.filter(pk=first.pk).update(state=Item.WORKING, updated_at=long_ago)
    InvoiceRunItem.objects.filter(pk=rest[0].pk).update(updated_at=timezone.now())  # moving
    with django_capture_on_commit_callbacks(execute=False) as enqueued:
        runs.watch_run(run_id=run.pk)
    assert len(enqueued) == 1  # one task: the stale item and the waiting ones after it
    for callback in enqueued:
        callback()
    run.refresh_from_db()
    assert (run.state, set(states(run).values())) == ("finished", {Item.CREATED})
    assert account.created() == 3


def test_it_enqueues_every_open_item_again_when_the_run_has_not_moved(
    account, agency, three_clients, owner, django_capture_on_commit_callbacks
):
    """Tasks a queue lost (nothing in the run changed for the stale-claim time)."""
    with django_capture_on_commit_callbacks(execute=False):
        run = start(agency, owner, three_clients)  # its tasks never run
    InvoiceRunItem.objects.update(updated_at=timezone.now() - timedelta(minutes=10))
    with django_capture_on_commit_callbacks(execute=True):
        runs.watch_run(run_id=run.pk)
    run.refresh_from_db()
    assert (run.state, set(states(run).values())) == ("finished", {Item.CREATED})


def test_the_watch_leaves_waiting_items_alone_while_the_run_moves(
    agency, three_clients, owner, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        run = start(agency, owner, three_clients)
    with django_capture_on_commit_callbacks(execute=False) as enqueued:
        assert runs.watch_run(run_id=run.pk) is not None
    assert enqueued == []


def _batch_of_three(agency, owner, clients, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        run = start(agency, owner, clients)
    ids = list(run.items.order_by("pk").values_list("pk", flat=True))
    return run, ids


def test_a_batch_stops_at_a_refused_account_and_waits_for_the_resume(
    account, agency, three_clients, owner, django_capture_on_commit_callbacks
):
    account.fail["create"] = [402]
    run, ids = _batch_of_three(agency, owner, three_clients, django_capture_on_commit_callbacks)
    assert runs.work_on_items(run_id=run.pk, item_ids=ids) == []
    run.refresh_from_db()
    assert run.state == InvoiceRun.State.PAUSED
    assert account.calls == {"create": 1}  # one request, one reason, not three
    assert list(run.items.values_list("state", "attempts")) == [(Item.WAITING, 0)] * 3


def test_a_rate_limit_defers_the_rest_of_the_batch_together(
    account, agency, three_clients, owner, django_capture_on_commit_callbacks, settings
):
    settings.FAKTUROID_BACKGROUND_MAX_WAIT = 0  # any wait for budget is "long": defer
    account.fail["create"] = [429]
    run, ids = _batch_of_three(agency, owner, three_clients, django_capture_on_commit_callbacks)
    [again] = runs.work_on_items(run_id=run.pk, item_ids=ids)
    assert again.item_ids == tuple(ids)
    assert 6 <= (again.at - timezone.now()).total_seconds() <= 7
    assert account.calls == {"create": 1}
    assert set(run.items.values_list("state", "attempts")) == {(Item.WAITING, 0)}


def test_a_run_is_split_into_batches_that_several_workers_share():
    assert runs.batches([1, 2, 3]) == [[1], [2], [3]]
    assert runs.batches(list(range(12))) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10, 11]]
    assert [len(batch) for batch in runs.batches(list(range(95)))] == [10] * 9 + [5]


def _document(custom_id: str) -> dict:
    from tests.support.fakturoid_mocks import payload

    return {**payload("invoice_created.json"), "custom_id": custom_id}


def test_it_comes_back_when_an_uncertain_earlier_post_has_settled(
    account, agency, three_clients, owner, django_capture_on_commit_callbacks, monkeypatch
):
    """A refusal naming a time (an earlier POST may still be carried out until then) keeps
    the client waiting and brings its task back at that time, not counted as a try."""
    waits = []
    monkeypatch.setattr(tasks.time, "sleep", waits.append)
    real_claim = invoicing.claim_invoice

    class NotYet(errors.Refusal):
        def __init__(self, until):
            super().__init__("not settled yet")
            self.until = until

    def settling(**kwargs):
        if not waits:
            raise NotYet(timezone.now() + timedelta(seconds=4))
        return real_claim(**kwargs)

    monkeypatch.setattr(invoicing, "claim_invoice", settling)
    run = run_now(django_capture_on_commit_callbacks, agency, owner, three_clients[:1])
    assert states(run) == {"Alfa s.r.o.": Item.CREATED}
    assert len(waits) == 1 and 3 <= waits[0] <= 4
    assert run.items.get().attempts == 1


def test_it_points_at_a_month_fakturoid_holds_twice(agency, three_clients):
    """A duplicate found by a look-up or a sync needs attention, and is not invoiced again."""
    alfa = three_clients[0]
    Invoice.objects.create(
        agency=agency,
        client=alfa,
        period=OCTOBER,
        custom_id=f"{agency.key}-c{alfa.pk}-2026-10",
        state=Invoice.State.CREATED,
        number="2026-0001",
        duplicates=[{"id": 8, "number": "2026-0002", "html_url": ""}],
    )
    [row] = [r for r in review.review_month(agency=agency, period=OCTOBER).rows if r.client == alfa]
    assert row.outcome == "needs_attention" and not row.selectable
    assert "more than once (also 2026-0002)" in row.reason


def test_it_closes_the_item_in_the_transaction_that_records_its_invoice(
    account, agency, three_clients, owner, django_capture_on_commit_callbacks, monkeypatch
):
    """A worker that dies right after recording the invoice leaves no item "working" beside a
    created invoice: the two are one commit."""

    def killed(run_id):
        raise SystemExit("worker killed")

    monkeypatch.setattr(runs, "_finish_if_done", killed)
    with django_capture_on_commit_callbacks(execute=False):
        run = start(agency, owner, three_clients[:1])
    item = run.items.get()
    with pytest.raises(SystemExit):
        runs.work_on_items(run_id=run.pk, item_ids=[item.pk])
    item.refresh_from_db()
    assert (item.state, item.invoice.state) == (Item.CREATED, Invoice.State.CREATED)


def test_a_batch_reads_once_and_each_item_costs_six_statements(
    account,
    agency,
    three_clients,
    make_client,
    make_project,
    make_item,
    owner,
    django_capture_on_commit_callbacks,
):
    """A batch reads the run, its items, their clients and what they bill once (5 statements),
    takes its requests from the budget up to five at a time (1), logs its calls and sees
    whether the run is done once (2). Each item is taken and its invoice claimed with its
    activity entry in one transaction (3), and recorded with its entry and closed in another
    (3)."""
    czk = [three_clients[0], three_clients[2]]
    for index in range(4):
        client = make_client(agency, f"More {index} s.r.o.", fakturoid_subject_id=200 + index)
        make_item(make_project(client, "shop"), "PPC management", "1000", vat_rate=21)
        czk.append(client)
    with django_capture_on_commit_callbacks(execute=False):
        run = start(agency, owner, czk)
    ids = list(run.items.order_by("pk").values_list("pk", flat=True))
    runs.work_on_items(run_id=run.pk, item_ids=ids[:1])  # the first one also gets the token

    def statements(item_ids):
        with CaptureQueriesContext(connection) as queries:
            runs.work_on_items(run_id=run.pk, item_ids=item_ids)
        return [
            query["sql"]
            for query in queries.captured_queries
            if not query["sql"].startswith(("BEGIN", "SAVEPOINT", "RELEASE SAVEPOINT"))
        ]

    one, four = statements(ids[1:2]), statements(ids[2:])
    assert len(one) == 5 + 1 + 2 + 6, "\n".join(one)
    assert len(four) == 5 + 1 + 2 + 4 * 6, "\n".join(four)
    assert set(run.items.values_list("state", flat=True)) == {Item.CREATED}
