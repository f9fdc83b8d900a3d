"""How long things may take, all derived from the Fakturoid timeout settings so that they agree.

- `click_seconds()`: the worst case of one invoice click (or "Check and finish"), counted
  request by request: a token, a look-up by custom_id, the POST, the look-up after an
  uncertain answer, a 401 (one new token and one repeat), and a 429 waited out once per call.
- `worker_timeout_seconds()`: gunicorn's worker timeout (`gunicorn.conf.py`): the worst case of
  a click plus a margin, so the web server never kills a click that is still within its limits.
- `stale_claim()`: a pending claim older than the worker timeout (plus a margin) belongs to a
  request that is dead: "Check and finish" may take it over.
- `settle_time()`: a POST we gave up on after the read timeout may still be carried out by
  Fakturoid afterwards (it does not know we gave up). We POST that custom_id again only after
  this long, and only after a look-up found nothing. FAKTUROID_SETTLE_SECONDS, by default
  SETTLE_FACTOR × (connect timeout + read timeout): the request gets twice as long again as we
  waited for it.
"""

import math
from datetime import timedelta

from django.conf import settings

# The retry policy of fakturoid/client.py and fakturoid/budget.py, counted here (both import
# our models, which import this module).
GET_ATTEMPTS = 3  # fakturoid.client.MAX_GET_ATTEMPTS
GET_BACKOFF_SECONDS = 0.5 + 1.5  # fakturoid.client.BACKOFF_SECONDS, summed
RESET_MARGIN_SECONDS = 0.25  # fakturoid.budget.RESET_MARGIN, added to a 429's wait
# A look-up by custom_id reads one page: a page of fewer than 40 is the last, and one
# custom_id never has 40 invoices.
LOOKUP_PAGES = 1
WORKER_MARGIN_SECONDS = 10  # Django's own work in the request: templates, queries.
STALE_MARGIN_SECONDS = 10  # A dead worker's request is surely gone this long after its timeout.
SETTLE_FACTOR = 3


def request_seconds() -> float:
    """The longest one HTTP attempt may take: connecting, then waiting for the answer."""
    return settings.FAKTUROID_CONNECT_TIMEOUT + settings.FAKTUROID_READ_TIMEOUT


# The calls of one click: the look-up before the POST, the POST, the look-up after it.
CLICK_CALLS = LOOKUP_PAGES + 1 + LOOKUP_PAGES


TOKEN_REQUESTS = 2  # the first token, and the new one after a 401 (they take no budget)


def click_requests() -> int:
    """The most HTTP requests one click may make: a token, every page of both look-ups tried
    three times, the POST, and a 401 answered with one new token and one repeat."""
    unauthorized_repeat, post = 1, 1
    return TOKEN_REQUESTS + 2 * LOOKUP_PAGES * GET_ATTEMPTS + post + unauthorized_repeat


def click_seconds() -> float:
    """The worst case of one click: every request waits its full timeouts, every GET retry
    its back-off, every request but the tokens waits its longest for budget, and every call
    waits out one 429 (see the module's docstring)."""
    most_wait = settings.FAKTUROID_MAX_RATE_LIMIT_WAIT
    back_offs = 2 * LOOKUP_PAGES * GET_BACKOFF_SECONDS
    budget_waits = (click_requests() - TOKEN_REQUESTS) * most_wait
    rate_limit_waits = CLICK_CALLS * (most_wait + RESET_MARGIN_SECONDS)
    return click_requests() * request_seconds() + back_offs + budget_waits + rate_limit_waits


def worker_timeout_seconds() -> int:
    """gunicorn's worker timeout: longer than any click may take."""
    return math.ceil(click_seconds()) + WORKER_MARGIN_SECONDS


def stale_claim() -> timedelta:
    """How old a pending claim must be before another request may take it over."""
    return timedelta(seconds=worker_timeout_seconds() + STALE_MARGIN_SECONDS)


def settle_time() -> timedelta:
    """How long after giving up on a POST we wait before we may POST that custom_id again."""
    configured = getattr(settings, "FAKTUROID_SETTLE_SECONDS", None)
    if configured is not None:
        return timedelta(seconds=configured)
    return timedelta(seconds=SETTLE_FACTOR * request_seconds())
