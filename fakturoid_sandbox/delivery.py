"""Delivering webhooks: POST each pending `WebhookDelivery`, retry with backoff, give up after
five retries (the account's failed-deliveries list).

After a change commits, `wake()` (registered with `transaction.on_commit`) nudges one daemon
thread per process, so an API answer never waits for a receiver. Tests and scripts call
`deliver_pending()` to deliver everything now, in their own thread, deterministically: with the
`db` fixture nothing is ever committed, so only `deliver_pending()` delivers there.

A delivery is claimed with a conditional UPDATE before its POST (so two threads or processes
never send one attempt twice) and carries the same `Idempotency-Key` on every retry.

The sandbox uses `requests` for the POSTs: it stands for Fakturoid's servers, not for our
application, whose only door to HTTP stays `fakturoid/client.py`.
"""

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import requests
from django.db import close_old_connections, connection, connections
from django.db.models import F, Min
from django.utils import timezone

from fakturoid_sandbox.models import WebhookDelivery
from fakturoid_sandbox.models.webhooks import MAX_ATTEMPTS

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 30.0  # the reference: the receiver must answer within 30 s
LEASE = timedelta(seconds=READ_TIMEOUT + CONNECT_TIMEOUT + 5)  # a claimed attempt's deadline
BATCH = 50
USER_AGENT = "Fakturoid sandbox webhooks"
RETRY_AFTER_ERROR = 5.0

# How a POST is made: (url, body, headers) → status; raises for a connection failure.
Sender = Callable[[str, bytes, dict[str, str]], int]

_pass_lock = threading.Lock()  # one delivery pass at a time in this process
_wakeup = threading.Event()
_worker_lock = threading.Lock()
_worker: threading.Thread | None = None


def wake() -> None:
    """Make the background thread look for due deliveries now (starting it if needed)."""
    global _worker
    if connection.in_atomic_block:
        # Real on_commit callbacks run outside any transaction. Inside one, a test runs them
        # (captureOnCommitCallbacks): nothing is committed, so another thread's connection
        # could not see the rows and would only contend for SQLite's locks. deliver_pending()
        # delivers those.
        return
    with _worker_lock:
        _wakeup.set()
        if _worker is None or not _worker.is_alive():
            _worker = threading.Thread(target=_run, name="sandbox-webhooks", daemon=True)
            _worker.start()


def worker_running() -> bool:
    """Whether this process's background delivery thread is alive (for tests)."""
    with _worker_lock:
        return _worker is not None and _worker.is_alive()


def _run() -> None:
    """Deliver until nothing is pending, then end (a later `wake()` starts a new thread): an
    idle thread would only hold a database connection."""
    global _worker
    while True:
        _wakeup.clear()  # a wake() during the pass sets it again, so that work is not missed
        try:
            close_old_connections()
            with _pass_lock:
                _attempted, wait = _deliver_due(_send_with_requests)
        except Exception:  # a database hiccup must not lose the work: try again shortly
            logger.exception("Webhook delivery pass failed")
            wait = RETRY_AFTER_ERROR
        finally:
            connections.close_all()  # this thread's connections only
        with _worker_lock:
            if wait is None and not _wakeup.is_set():
                _worker = None
                return
        _wakeup.wait(timeout=wait)


def deliver_pending(*, timeout: float = 30.0, send: Sender | None = None) -> int:
    """Deliver every pending webhook delivery now, in this thread, with retries.

    Also runs the overdue check first (what Fakturoid's daily job does). Waits out the account's
    backoff between retries (set it to zeros with the `webhook_backoff` switch to make tests
    fast). `send` replaces the HTTP POST, e.g. `testing.django_client_sender()` delivers into
    this process's Django app without a server. Returns the number of POST attempts made;
    raises TimeoutError when deliveries are still pending after `timeout` seconds.
    """
    from fakturoid_sandbox.webhooks import notice_overdue  # webhooks imports this module

    notice_overdue()
    deadline = time.monotonic() + timeout
    attempted = 0
    while True:
        with _pass_lock:
            made, wait = _deliver_due(send or _send_with_requests)
        attempted += made
        if wait is None:
            return attempted
        if time.monotonic() + wait > deadline:
            raise TimeoutError(f"Webhook deliveries still pending after {timeout} s")
        time.sleep(wait)


def _deliver_due(send: Sender) -> tuple[int, float | None]:
    """Attempt every due delivery; (attempts made, seconds until the next one is due or None)."""
    attempted = 0
    while True:
        now = timezone.now()
        due = list(
            WebhookDelivery.objects.filter(
                state=WebhookDelivery.State.PENDING, next_attempt_at__lte=now
            ).select_related("webhook__account")[:BATCH]
        )
        if not due:
            break
        for item in due:
            attempted += _attempt(item, send)
    upcoming = WebhookDelivery.objects.filter(state=WebhookDelivery.State.PENDING).aggregate(
        next=Min("next_attempt_at")
    )["next"]
    if upcoming is None:
        return attempted, None
    return attempted, max((upcoming - timezone.now()).total_seconds(), 0.0)


def _attempt(item: WebhookDelivery, send: Sender) -> int:
    """One POST of `item` if this thread wins the claim; returns 1 when it was attempted."""
    now = timezone.now()
    claimed = WebhookDelivery.objects.filter(
        pk=item.pk, state=WebhookDelivery.State.PENDING, attempts=item.attempts
    ).update(attempts=F("attempts") + 1, next_attempt_at=now + LEASE)
    if not claimed:
        return 0
    attempt = item.attempts + 1
    status, error = _post(item, send)
    if status is not None and 200 <= status < 300:
        state, next_at = WebhookDelivery.State.DELIVERED, now
    elif attempt >= MAX_ATTEMPTS:
        state, next_at = WebhookDelivery.State.FAILED, now
    else:
        state, next_at = WebhookDelivery.State.PENDING, _retry_at(item, attempt)
    WebhookDelivery.objects.filter(pk=item.pk).update(
        state=state,
        next_attempt_at=next_at,
        last_status=status,
        last_error=error[:500],
        updated_at=timezone.now(),
    )
    return 1


def _retry_at(item: WebhookDelivery, attempt: int) -> datetime:
    backoff = item.webhook.account.webhook_backoff or [0]
    seconds = backoff[min(attempt - 1, len(backoff) - 1)]
    return timezone.now() + timedelta(seconds=float(seconds))


def _send_with_requests(url: str, body: bytes, headers: dict[str, str]) -> int:
    response = requests.post(
        url,
        data=body,
        headers=headers,
        timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
        allow_redirects=False,
    )
    return response.status_code


def _post(item: WebhookDelivery, send: Sender) -> tuple[int | None, str]:
    """POST the payload; (status or None, what went wrong or "")."""
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        "Idempotency-Key": str(item.idempotency_key),
    }
    if item.webhook.auth_header:
        headers["Authorization"] = item.webhook.auth_header
    try:
        status = send(item.webhook.webhook_url, item.payload.encode(), headers)
    except requests.RequestException as exc:
        return None, f"{type(exc).__name__}: {exc}"
    if 200 <= status < 300:
        return status, ""
    return status, f"HTTP {status}"
