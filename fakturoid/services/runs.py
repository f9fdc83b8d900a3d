"""Month-end runs: every chosen client of an agency invoiced for a month by background workers.

A run is an `InvoiceRun` with one `InvoiceRunItem` per client, worked in batches of up to
BATCH_SIZE items, one task each, so any number of workers share a run. Each item creates its
invoice through the machinery of the invoice icon (`invoicing.claim_invoice` and
`complete_claim`): the invoice row is claimed under its unique custom_id before the POST and
looked up by custom_id after an uncertain answer, so a worker killed mid-way, two workers, or
a run started twice never invoice a client twice.

An item is taken with a compare-and-set (waiting → working) in the transaction that claims its
invoice, and closed in the one that records it. An item left working by a worker that died is
taken again once its claim is stale (`timeouts.stale_claim()`), by the run's watch, with the
rest of its batch. A failure of the whole account (402, 403 no bank account, credentials
refused) pauses the run once, with one reason; anything else stays on its client.
"""

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from agencies.models import Agency
from clients.models import Client
from clients.months import first_day
from fakturoid import budget, timeouts
from fakturoid.client import CallRecord, FakturoidClient, log_calls
from fakturoid.errors import (
    AccountBlocked,
    AlreadyInvoiced,
    AuthenticationError,
    ConfigurationError,
    FakturoidError,
    Forbidden,
    IntegrationError,
    NothingToBill,
    RateLimited,
    explain,
)
from fakturoid.models import Invoice, InvoiceRun, InvoiceRunItem, RequestBudget
from fakturoid.services import invoicing

logger = logging.getLogger(__name__)

Item = InvoiceRunItem.State
# Tries of one client when Fakturoid does not answer or fails (5xx) before it is marked failed.
MAX_ATTEMPTS = 3
RETRY_DELAYS = (5, 20)  # seconds before the 2nd and 3rd try
RATE_LIMIT_FALLBACK = 60  # seconds, when a 429 does not say when the window resets
WATCH_EVERY = timedelta(seconds=30)  # the longest the run's watch sleeps


class RunRefused(Exception):
    """The run cannot do what was asked (e.g. retry while another run of the month is active)."""


def start_run(
    *,
    agency: Agency,
    period: date,
    user,  # noqa: ANN001
    client_ids: list[int],
    send_email: bool = False,
) -> tuple[InvoiceRun, bool]:
    """Start the month-end run of `period` for the agency's clients `client_ids`.

    Returns (run, started): when a run of the agency and month is already running or paused,
    that run and False (a run started twice is one run). The items' tasks are enqueued once
    the transaction commits. Raises RunRefused when no client is chosen.
    """
    period = first_day(period)
    clients = list(Client.objects.for_agency(agency).filter(pk__in=client_ids).values_list("pk"))
    if not clients:
        raise RunRefused(_("Choose at least one client to invoice."))
    with transaction.atomic():
        existing = InvoiceRun.objects.for_agency(agency).active().filter(period=period).first()
        if existing is not None:
            return existing, False
        try:
            with transaction.atomic():
                run = InvoiceRun.objects.create(
                    agency=agency, period=period, started_by=user, send_email=send_email
                )
        except IntegrityError:  # another request started it a moment ago
            return InvoiceRun.objects.for_agency(agency).active().get(period=period), False
        items = InvoiceRunItem.objects.bulk_create(
            InvoiceRunItem(run=run, client_id=pk) for (pk,) in clients
        )
        _enqueue_items(run.pk, [item.pk for item in items])
        _enqueue_watch(run.pk)
    return run, True


def cancel_run(*, run: InvoiceRun) -> int:
    """Stop the run: items not started are cancelled, those being worked on finish.
    Returns how many items were cancelled."""
    with transaction.atomic():
        stopped = InvoiceRun.objects.filter(pk=run.pk, state__in=InvoiceRun.ACTIVE_STATES).update(
            state=InvoiceRun.State.CANCELLED, finished_at=timezone.now()
        )
        if not stopped:
            return 0
        return run.items.filter(state=Item.WAITING).update(state=Item.CANCELLED)


def resume_run(*, run: InvoiceRun) -> bool:
    """Resume a paused run (after the account problem was fixed). Returns whether it was
    paused."""
    with transaction.atomic():
        resumed = InvoiceRun.objects.filter(pk=run.pk, state=InvoiceRun.State.PAUSED).update(
            state=InvoiceRun.State.RUNNING, pause_reason=""
        )
        if resumed:
            waiting = run.items.filter(state=Item.WAITING).order_by("pk")
            _enqueue_items(run.pk, list(waiting.values_list("pk", flat=True)))
            _enqueue_watch(run.pk)
    return bool(resumed)


def retry_failed(*, run: InvoiceRun, item_id: int | None = None) -> int:
    """Try the failed items of the run again (or only `item_id`). Returns how many.

    A finished run runs again; raises RunRefused while another run of the month is active.
    """
    with transaction.atomic():
        failed = run.items.filter(state=Item.FAILED)
        if item_id is not None:
            failed = failed.filter(pk=item_id)
        ids = list(failed.values_list("pk", flat=True))
        if not ids:
            return 0
        if run.state in (InvoiceRun.State.FINISHED, InvoiceRun.State.CANCELLED):
            try:
                with transaction.atomic():
                    InvoiceRun.objects.filter(pk=run.pk).update(
                        state=InvoiceRun.State.RUNNING, finished_at=None
                    )
            except IntegrityError:
                raise RunRefused(
                    _("Another run of this month is in progress: retry there.")
                ) from None
            _enqueue_watch(run.pk)
        InvoiceRunItem.objects.filter(pk__in=ids, state=Item.FAILED).update(
            state=Item.WAITING, error="", attempts=0, updated_at=timezone.now()
        )
        if run.state != InvoiceRun.State.PAUSED:
            _enqueue_items(run.pk, ids)
    return len(ids)


# --- Progress -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    total: int
    created: int
    failed: int
    skipped: int
    waiting: int
    cancelled: int
    seconds_left: int | None

    @property
    def done(self) -> int:
        return self.created + self.failed + self.skipped + self.cancelled

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 100


def progress(*, run: InvoiceRun) -> Progress:
    """The run's counts, from its items, and an estimate of the time left."""
    counts = dict(run.items.values_list("state").annotate(n=Count("pk")).values_list("state", "n"))
    waiting = counts.get(Item.WAITING, 0) + counts.get(Item.WORKING, 0)
    seconds_left = None
    if run.state == InvoiceRun.State.RUNNING:
        requests = waiting * (2 if run.send_email else 1)
        seconds_left = estimate_seconds_left(agency=run.agency, requests=requests)
    return Progress(
        total=sum(counts.values()),
        created=counts.get(Item.CREATED, 0),
        failed=counts.get(Item.FAILED, 0),
        skipped=counts.get(Item.SKIPPED, 0),
        waiting=waiting,
        cancelled=counts.get(Item.CANCELLED, 0),
        seconds_left=seconds_left,
    )


def estimate_seconds_left(*, agency: Agency, requests: int) -> int:
    """Seconds `requests` take at the account's request limit as its answers stated it (the
    shared budget), less the reserve workers leave to people: the limit, not our own work,
    decides how long a run takes."""
    quota, window = budget.DEFAULT_QUOTA, budget.DEFAULT_WINDOW
    slug = getattr(agency.fakturoid_settings, "account_slug", "")
    row = RequestBudget.objects.filter(account__endswith=f"#{slug}").first() if slug else None
    if row is not None:
        quota, window = row.quota, row.window
    per_window = max(quota - settings.FAKTUROID_RATE_LIMIT_RESERVE, 1)
    return -(-requests * window // per_window)


# --- The work of a batch of items (called by their task) -----------------------------------

# Clients one task invoices one after another: the run, its agency's settings and what the
# clients bill are read once for all of them, and their API calls are logged in one INSERT.
BATCH_SIZE = 10
# A run is split into at least this many tasks, so that several workers share a small run.
MIN_BATCHES = 4


@dataclass(frozen=True)
class Again:
    """Items whose task should run again at `at`."""

    at: datetime
    item_ids: tuple[int, ...]


@dataclass(frozen=True)
class _Later:
    """One item waits until `at`; `whole_account`: so does every other (a rate limit)."""

    at: datetime
    whole_account: bool = False


def batches(item_ids: list[int]) -> list[list[int]]:
    """`item_ids` in the batches their tasks take: BATCH_SIZE at most, MIN_BATCHES at least
    (when there are that many items)."""
    size = max(1, min(BATCH_SIZE, -(-len(item_ids) // MIN_BATCHES)))
    return [item_ids[start : start + size] for start in range(0, len(item_ids), size)]


def work_on_items(*, run_id: int, item_ids: list[int]) -> list[Again]:
    """Invoice the clients of the run's items `item_ids` one after another, while the run is
    running. An item is worked on only when it waits (or its worker died): of two workers
    given one item, one takes it.

    Returns the items whose task should run again, and when (a rate limit, an answer that may
    still come, someone else's claim). Never raises for Fakturoid's answers: they end up on
    the items, or pause the run, and then the rest of the batch waits for the resume.
    """
    batch = _Batch.read(run_id, item_ids)
    if batch is None:
        return []
    run, items = batch.run, batch.items
    again = []
    try:
        for index, item in enumerate(items):
            if run.state != InvoiceRun.State.RUNNING:  # an item of this batch paused it
                break
            later = _invoice_item(item, batch)
            if later is None:
                continue
            if later.whole_account:
                again.append(Again(later.at, tuple(other.pk for other in items[index:])))
                break
            again.append(Again(later.at, (item.pk,)))
    except BaseException:
        # Unexpected: the run's watch takes up what the batch did not finish (an item left
        # working once its claim is stale, with the rest of the batch; its invoice row says
        # what became of the POST, and the next attempt looks it up).
        logger.exception("Month-end run %s: a batch failed unexpectedly", run_id)
        raise
    finally:
        batch.close()
    _finish_if_done(run.pk)
    return again


@dataclass
class _Batch:
    """The items a task works on, with what they share: the run (and its agency's settings),
    one Fakturoid client (its session, its budget lease) and the log of its calls."""

    run: InvoiceRun
    items: list[InvoiceRunItem]
    calls: list[CallRecord] = field(default_factory=list)
    _api: FakturoidClient | None = None

    @classmethod
    def read(cls, run_id: int, item_ids: list[int]) -> "_Batch | None":
        """The run, if it is running, with its agency's settings, and its open items among
        `item_ids`, each with its client and what the client bills in the month (five
        reads)."""
        try:
            run = InvoiceRun.objects.select_related("agency__fakturoid", "started_by").get(
                pk=run_id, state=InvoiceRun.State.RUNNING
            )
        except InvoiceRun.DoesNotExist:
            return None
        open_items = run.items.filter(pk__in=item_ids, state__in=InvoiceRunItem.OPEN_STATES)
        items = list(open_items.order_by("pk"))
        clients = Client.objects.with_billable_items(month=run.period).in_bulk(
            {item.client_id for item in items}
        )
        for item in items:
            item.run = run
            item.client = clients[item.client_id]
            item.client.agency = run.agency  # one agency object: its settings are read once
        return cls(run, items)

    def api(self) -> FakturoidClient:
        """The batch's Fakturoid client. Raises ConfigurationError when Fakturoid is not set
        up (any more)."""
        if self._api is None:
            self._api = FakturoidClient.for_agency(
                self.run.agency,
                background=True,
                on_call=self.calls.append,
                expected_requests=len(self.items) * (2 if self.run.send_email else 1),
            )
        return self._api

    def close(self) -> None:
        """Give back the requests taken ahead and not sent, and log the calls made."""
        if self._api is not None:
            self._api.close()
        log_calls(self.run.agency_id, self.calls)


def _take(item: InvoiceRunItem) -> bool:
    """Move the item to working, if it waits (or its worker died). A compare-and-set on what
    the batch read: of two workers given the item at once (or a cancel), one changes it."""
    now = timezone.now()
    stale = item.state == Item.WORKING and item.updated_at < now - timeouts.stale_claim()
    if item.state != Item.WAITING and not stale:
        return False
    taken = InvoiceRunItem.objects.filter(
        pk=item.pk, state=item.state, updated_at=item.updated_at
    ).update(state=Item.WORKING, attempts=item.attempts + 1, updated_at=now)
    if taken:
        item.state, item.attempts, item.updated_at = Item.WORKING, item.attempts + 1, now
    return bool(taken)


def _invoice_item(item: InvoiceRunItem, batch: _Batch) -> "_Later | None":
    """Take the item and claim its client's invoice (or record why not) in one commit, POST
    the invoice, and record it with the item closed in another."""
    run = item.run
    try:
        fakturoid_api = batch.api()
        draft = invoicing.build_invoice(client=item.client, period=run.period)
    except IntegrationError as refusal:  # nothing to bill, not set up, no exchange rate
        with transaction.atomic():
            return _refused(item, refusal) if _take(item) else None
    with transaction.atomic():
        if not _take(item):
            return None
        try:
            claim, existing = invoicing.claim_invoice(draft=draft, user=run.started_by), None
        except AlreadyInvoiced as already:
            claim, existing = None, already.invoice
        except IntegrationError as refusal:  # an earlier POST may still be carried out
            return _refused(item, refusal)
    if existing is not None:
        return _already_invoiced(item, existing, batch)
    try:
        invoice = invoicing.complete_claim(
            claim,
            fakturoid_api=fakturoid_api,
            # The item is closed in the transaction that records the invoice; when it is to be
            # e-mailed, it is closed once that is done (a worker that dies in between leaves
            # it working, and the next attempt finds the invoice and sends the e-mail).
            then=lambda created: _close(
                item, Item.WORKING if run.send_email else Item.CREATED, invoice=created
            ),
        )
    except RateLimited as error:
        later = _again(item, seconds=error.retry_after or RATE_LIMIT_FALLBACK, counts=False)
        return _Later(later.at, whole_account=True)
    except FakturoidError as error:
        return _failed(item, error)
    except IntegrationError as error:  # the look-up before a new POST failed
        return _refused(item, error)
    if run.send_email:
        _send_email(item, invoice, fakturoid_api)
    return None


def _already_invoiced(item: InvoiceRunItem, invoice: Invoice, batch: _Batch) -> "_Later | None":
    if invoice.state == Invoice.State.CREATED:
        # Made by this run when it changed after the run began (an attempt of ours that died
        # after recording it); otherwise it was there before: nothing to do.
        ours = invoice.updated_at >= item.run.started_at
        if ours and item.run.send_email:
            _send_email(item, invoice, batch.api())
        elif ours:
            _close(item, Item.CREATED, invoice=invoice)
        else:
            _close(item, Item.SKIPPED, invoice=invoice, error=explain_already(invoice))
        return None
    # Someone is creating it right now (a click, or a worker that died mid-POST): come back
    # when that claim is stale and settled; the attempt then looks the invoice up first.
    until = invoice.settles_at or timezone.now() + timeouts.stale_claim()
    wait = (until - timezone.now()).total_seconds()
    return _again(item, seconds=max(wait, 0) + 1, counts=False, invoice=invoice)


def explain_already(invoice: Invoice) -> str:
    return _("Already invoiced: invoice %(number)s.") % {"number": invoice.number}


def _failed(item: InvoiceRunItem, error: FakturoidError) -> "_Later | None":
    if _affects_whole_account(error, item):
        _pause(item, explain(error))
        return None
    if error.transient and item.attempts < MAX_ATTEMPTS:
        return _again(item, seconds=RETRY_DELAYS[item.attempts - 1], counts=True)
    _close(item, Item.FAILED, error=explain(error))
    return None


def _refused(item: InvoiceRunItem, refusal: IntegrationError) -> "_Later | None":
    """Our own refusals: nothing to bill skips the client; one that names a time (an earlier
    POST may still be carried out until then) comes back at that time; a transient one is
    tried again; others fail the client (or pause the run, when the account is not set up)."""
    if isinstance(refusal, NothingToBill):
        _close(item, Item.SKIPPED, error=refusal.message)
        return None
    if isinstance(refusal, FakturoidError):  # ConfigurationError
        return _failed(item, refusal)
    until = getattr(refusal, "until", None)
    if isinstance(until, datetime):
        seconds = (until - timezone.now()).total_seconds()
        return _again(item, seconds=max(seconds, 0), counts=False)
    if refusal.transient and item.attempts < MAX_ATTEMPTS:
        return _again(item, seconds=RETRY_DELAYS[item.attempts - 1], counts=True)
    _close(item, Item.FAILED, error=explain(refusal))
    return None


def _affects_whole_account(error: FakturoidError, item: InvoiceRunItem) -> bool:
    """402 blocked, 403 no bank account, credentials refused, Fakturoid no longer set up:
    every other client would fail the same way."""
    if isinstance(error, AccountBlocked | AuthenticationError):
        return True
    if isinstance(error, Forbidden):
        return "bank_account" in error.errors
    if isinstance(error, ConfigurationError):
        return bool(item.client.fakturoid_subject_id)  # not "this client is not linked"
    return False


def _pause(item: InvoiceRunItem, reason: str) -> None:
    """Pause the run once (the first item to meet the problem says why); the item waits, and
    so does the rest of its batch."""
    InvoiceRun.objects.filter(pk=item.run_id, state=InvoiceRun.State.RUNNING).update(
        state=InvoiceRun.State.PAUSED, pause_reason=reason
    )
    item.run.state = InvoiceRun.State.PAUSED
    _wait(item, counts=False)  # the resume enqueues it


def _again(
    item: InvoiceRunItem, *, seconds: float, counts: bool, invoice: Invoice | None = None
) -> _Later:
    """The item waits; its task runs again in `seconds`."""
    _wait(item, counts=counts, invoice=invoice)
    return _Later(timezone.now() + timedelta(seconds=seconds))


def _wait(item: InvoiceRunItem, *, counts: bool, invoice: Invoice | None = None) -> None:
    """Put the item back to waiting. `counts`: this try was one of its MAX_ATTEMPTS (a rate
    limit, a pause or someone else's claim is not)."""
    changes = {"state": Item.WAITING, "updated_at": timezone.now()}
    if not counts:
        changes["attempts"] = item.attempts - 1
    if invoice is not None:
        changes["invoice"] = invoice
    InvoiceRunItem.objects.filter(pk=item.pk).update(**changes)


def _close(
    item: InvoiceRunItem, state: str, *, invoice: Invoice | None = None, error: str = ""
) -> None:
    """The item is done with (the batch sees afterwards whether the run is done too), or,
    as `working`, holds its created invoice until it is e-mailed."""
    item.state, item.error = state, error
    if invoice is not None:
        item.invoice = invoice
    item.updated_at = timezone.now()
    InvoiceRunItem.objects.filter(pk=item.pk).update(
        state=state,
        error=error,
        invoice_id=item.invoice_id,
        emailed_at=item.emailed_at,
        email_error=item.email_error,
        updated_at=item.updated_at,
    )


def _send_email(item: InvoiceRunItem, invoice: Invoice, fakturoid_api: FakturoidClient) -> None:
    """E-mail the created invoice through Fakturoid, unless that was done, and close the item
    as created; a refusal is recorded on it in words (the invoice stays created)."""
    if item.emailed_at is None:
        try:
            fakturoid_api.send_invoice_message(invoice.fakturoid_id)
        except FakturoidError as error:
            item.email_error = explain_email(error)
        else:
            item.emailed_at, item.email_error = timezone.now(), ""
    _close(item, Item.CREATED, invoice=invoice)


def explain_email(error: FakturoidError) -> str:
    """Why the invoice was created but not e-mailed (Fakturoid's refusal in the app's one
    wording: free plan, daily quota, blocked delivery, a bad address)."""
    reason = explain(error).rstrip(".")
    return _("Created, but not sent by e-mail: %(reason)s.") % {"reason": reason}


# --- Finishing, and items whose worker died -------------------------------------------------


def _finish_if_done(run_id: int) -> bool:
    """Mark the run finished once no item waits or is being worked on.

    Called after a batch's changes are committed: of two workers closing the last two items
    at once, the later look sees both closed (in one transaction neither would see the other's,
    and the run would wait for its watch)."""
    open_items = InvoiceRunItem.objects.filter(run_id=run_id, state__in=InvoiceRunItem.OPEN_STATES)
    return bool(
        InvoiceRun.objects.filter(pk=run_id, state=InvoiceRun.State.RUNNING)
        .exclude(Q(pk__in=open_items.values("run_id")))
        .update(state=InvoiceRun.State.FINISHED, finished_at=timezone.now())
    )


def watch_run(*, run_id: int) -> datetime | None:
    """The run's watch: finish the run when all is done, and re-enqueue what a worker that
    died left behind. Returns when to look again, or None once the run is over.

    An item left working past the stale-claim time lost its worker: it is enqueued again with
    the waiting items after it that were in its batch. When nothing in the run has changed for
    that long (a queue lost its tasks), every open item is. A task given an item twice takes
    it once."""
    if _finish_if_done(run_id):
        return None
    if not InvoiceRun.objects.filter(pk=run_id, state=InvoiceRun.State.RUNNING).exists():
        return None
    items = InvoiceRunItem.objects.filter(run_id=run_id).order_by("pk")
    if not items.filter(updated_at__gte=timezone.now() - timeouts.stale_claim()).exists():
        open_items = items.filter(state__in=InvoiceRunItem.OPEN_STATES)
        again = list(open_items.values_list("pk", flat=True))
    else:
        again = []
        for pk in items.stalled().values_list("pk", flat=True):
            rest = items.filter(state=Item.WAITING, pk__gt=pk).values_list("pk", flat=True)
            again += [pk, *rest[: BATCH_SIZE - 1]]
    if again:
        logger.warning("Month-end run %s: taking over %s items", run_id, len(again))
        _enqueue_items(run_id, sorted(set(again)))
    return timezone.now() + min(timeouts.stale_claim() / 4, WATCH_EVERY)


def _enqueue_items(run_id: int, item_ids: list[int]) -> None:
    from fakturoid import tasks  # tasks call this module; the import is mutual

    transaction.on_commit(lambda: tasks.enqueue_run_items(run_id, batches(item_ids)))


def _enqueue_watch(run_id: int) -> None:
    from fakturoid import tasks

    transaction.on_commit(lambda: tasks.enqueue_run_watch(run_id))
