"""Background tasks (Django's tasks API): thin, taking ids, enqueued on commit, safe to run
twice. The work is in the services; a task only runs it and, when the service says "again at
T", enqueues itself for T. Applying a webhook delivery records its outcome once; a dispatch
item or a month-end run's item that is no longer waiting is left alone.
"""

import logging
import time
from datetime import datetime

from django.utils import timezone
from django_tasks import task
from django_tasks.base import Task

from fakturoid.services import runs, sending, webhooks

logger = logging.getLogger(__name__)

# A backend that cannot defer (the immediate one of tests) waits this long at most in place.
MAX_INLINE_WAIT = 10


@task()
def apply_webhook(received_id: int) -> str:
    """Apply one delivery the webhook receiver recorded."""
    return webhooks.apply_delivery(received_id=received_id)


@task()
def send_dispatch_item(item_id: int) -> str:
    """E-mail one invoice (or reminder) of a dispatch through Fakturoid."""
    return sending.send_item(item_id=item_id)


@task()
def invoice_run_items(run_id: int, item_ids: list[int]) -> None:
    """Invoice a batch of clients of a month-end run, one after another."""
    for again in runs.work_on_items(run_id=run_id, item_ids=item_ids):
        _enqueue_at(invoice_run_items, again.at, run_id, list(again.item_ids))


@task()
def watch_invoice_run(run_id: int) -> None:
    """Take over the items of workers that died, and finish the run when all is done."""
    again = runs.watch_run(run_id=run_id)
    if again is not None:
        _enqueue_at(watch_invoice_run, again, run_id)


def enqueue_run_items(run_id: int, batches: list[list[int]]) -> None:
    for item_ids in batches:
        invoice_run_items.enqueue(run_id, item_ids)


def enqueue_run_watch(run_id: int) -> None:
    """Start the run's watch now: it schedules its next look itself, by the stale-claim time
    of the worker (the process whose settings count), as long as the run goes on."""
    if watch_invoice_run.get_backend().supports_defer:
        watch_invoice_run.enqueue(run_id)


def _enqueue_at(this: Task, when: datetime, *args: int | list[int]) -> None:
    """Run the task again at `when`: deferred where the backend can, else (the immediate
    backend) after a short wait in place, or not at all when the wait would be long."""
    if this.get_backend().supports_defer:
        this.using(run_after=when).enqueue(*args)
        return
    wait = (when - timezone.now()).total_seconds()
    if wait > MAX_INLINE_WAIT:
        logger.warning("%s%r not run again: its backend cannot wait %s s", this.name, args, wait)
        return
    time.sleep(max(wait, 0))
    this.enqueue(*args)
