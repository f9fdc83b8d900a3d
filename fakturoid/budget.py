"""One request budget per Fakturoid account, shared by every process (web and workers).

Fakturoid allows `q` requests in a fixed window of `w` seconds (400 / 60) and every answer says
how many are left and when the window resets (`X-RateLimit: default;r=398;t=55`). Each process
takes one request from the account's budget before it sends anything and corrects the budget
from the answers (see `correct`), so workers wait for the next window instead of meeting 429,
and leave a reserve for people clicking in the browser. The budget is one database row per
account, so web processes and workers on any number of machines share it; taking a request is
one UPDATE; a worker that is about to send several takes them a few at a time (`Lease`).
"""

import logging
import math
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Case, DateTimeField, F, IntegerField, Q, Value, When
from django.db.models.functions import Least
from django.utils import timezone
from django.utils.translation import gettext as _

from fakturoid.documents import RateLimit
from fakturoid.errors import RateLimited
from fakturoid.models import RequestBudget

logger = logging.getLogger(__name__)

# Fakturoid's documented limit, assumed until an answer states the real one.
DEFAULT_QUOTA = 400
DEFAULT_WINDOW = 60
# `t` is whole seconds: wait a little past the reset we computed before starting a new window.
RESET_MARGIN = timedelta(milliseconds=250)
# In the last moments of a window nobody can use the reserve any more: workers may take it.
RESERVE_RELEASE = timedelta(seconds=1)
# Two resets closer than this are the same window (`t` is rounded to whole seconds).
SAME_WINDOW = timedelta(seconds=1)
SHORTEST_WAIT = 0.05
# Below this share of the quota (plus the workers' reserve) every answer corrects the budget:
# other programs using the account show there. Above it only the first answer of a window does.
LOW_SHARE = 0.25

# A worker about to send several requests takes up to LEASE_SIZE at once while the window has
# that many above the reserve, and gives back what it has not used within LEASE_SECONDS (well
# before the window resets, so a leased request is never sent in the next window).
LEASE_SIZE = 5
LEASE_SECONDS = 5.0  # five requests, each answered within a second

# The reset this process last wrote to each account's budget (see `correct`).
_written: dict[str, datetime] = {}

# Every reading of the clock goes through this name, so tests that replace the client's
# sleeps can move time on as well.
_now = timezone.now


def wait_for_request(
    account: str, *, reserve: int, max_wait: float, sleep: Callable[[float], None]
) -> None:
    """Take one request from `account`'s budget, waiting for it at most `max_wait` seconds.

    Raises RateLimited (with `retry_after`; nothing was sent) when the wait would be longer.
    The budget only paces us: when the database cannot be read the request goes anyway, and
    Fakturoid's own answer (429 at worst) still says what is left.
    """
    waited = 0.0
    while True:
        try:
            wait = take(account, reserve=reserve)
        except DatabaseError:
            logger.warning("Could not read the Fakturoid request budget", exc_info=True)
            return
        if wait <= 0:
            return
        if waited + wait > max_wait:
            raise RateLimited(_("Too many requests to Fakturoid."), retry_after=math.ceil(wait))
        sleep(wait)
        waited += wait


class Lease:
    """Requests one client took from an account's budget ahead of sending them: of the
    `expected` requests it is about to send, up to LEASE_SIZE in one UPDATE."""

    def __init__(self, account: str, *, reserve: int, expected: int) -> None:
        self.account, self.reserve, self.expected = account, reserve, expected
        self.left, self.until = 0, _now()

    def use(self) -> bool:
        """Use one leased request, leasing more when none is left. False when nothing more is
        expected, or the window cannot spare that many above the reserve: the caller then
        takes its request alone (`wait_for_request`)."""
        self.expected -= 1
        now = _now()
        if self.left and now < self.until:
            self.left -= 1
            return True
        self.give_back()
        size = min(LEASE_SIZE, self.expected + 1)
        if size < 2:
            return False
        until = now + timedelta(seconds=LEASE_SECONDS)
        try:
            leased = RequestBudget.objects.filter(
                account=self.account,
                resets_at__gt=until + SAME_WINDOW,
                remaining__gte=self.reserve + size,
            ).update(remaining=F("remaining") - size)
        except DatabaseError:
            logger.warning("Could not read the Fakturoid request budget", exc_info=True)
            return False
        if leased:
            self.left, self.until = size - 1, until
        return bool(leased)

    def give_back(self) -> None:
        """Return the unused requests to the window they came from, while it lasts."""
        left, self.left = self.left, 0
        now = _now()
        if not left or now >= self.until:
            return
        try:
            RequestBudget.objects.filter(account=self.account, resets_at__gt=now).update(
                remaining=F("remaining") + left
            )
        except DatabaseError:
            logger.warning("Could not update the Fakturoid request budget", exc_info=True)


def correct(account: str, rate_limit: RateLimit, *, limited: bool) -> None:
    """Correct `account`'s budget from an answer's X-RateLimit headers (`limited`: a 429).

    Only when the answer can tell the budget something it does not know: a window this process
    has not written yet, few requests left (where other programs' use would show), or a 429.
    Between those, every request taken has already lowered the count, so the answers of a
    busy window cost no write.
    """
    if rate_limit.reset_seconds is None or (rate_limit.remaining is None and not limited):
        return
    resets_at = _now() + timedelta(seconds=max(rate_limit.reset_seconds, 0))
    known = _written.get(account)
    low = (rate_limit.quota or DEFAULT_QUOTA) * LOW_SHARE + settings.FAKTUROID_RATE_LIMIT_RESERVE
    if (
        not limited
        and rate_limit.remaining > low
        and known is not None
        and abs(known - resets_at) < SAME_WINDOW
    ):
        return
    try:
        observe(
            account,
            remaining=0 if limited else rate_limit.remaining,
            reset_seconds=rate_limit.reset_seconds,
            quota=rate_limit.quota,
            window=rate_limit.window,
        )
    except DatabaseError:
        logger.warning("Could not update the Fakturoid request budget", exc_info=True)
        return
    _written[account] = resets_at


def take(account: str, *, reserve: int = 0) -> float:
    """Take one request from `account`'s budget.

    Returns 0.0 when the request may be sent now, otherwise the seconds to wait before asking
    again. `reserve` requests of each window are left to callers asking with a smaller reserve
    (people in the browser ask with 0; background workers with a few).
    """
    for _attempt in range(5):
        now = _now()
        # The usual case, one UPDATE: a known window with requests left above the reserve.
        taken = RequestBudget.objects.filter(
            account=account, resets_at__gt=now, remaining__gt=reserve
        ).update(remaining=F("remaining") - 1)
        if taken:
            return 0.0
        budget = RequestBudget.objects.filter(account=account).first()
        if budget is None:
            _written.pop(account, None)  # the budget is new: its first answer must correct it
            if _start(account, now=now):
                return 0.0
            continue  # another process started it first: take from theirs
        if budget.resets_at + RESET_MARGIN <= now:
            # The window is over: this request opens the next one; its answer corrects the count.
            opened = RequestBudget.objects.filter(pk=budget.pk, resets_at=budget.resets_at).update(
                remaining=budget.quota - 1,
                resets_at=now + timedelta(seconds=budget.window),
            )
            if opened:
                return 0.0
            continue
        if budget.remaining > 0 and budget.resets_at > now:
            # Only the reserve is left: it is released shortly before the reset.
            if budget.resets_at <= now + RESERVE_RELEASE:
                released = RequestBudget.objects.filter(
                    pk=budget.pk, resets_at=budget.resets_at, remaining__gt=0
                ).update(remaining=F("remaining") - 1)
                if released:
                    return 0.0
                continue
            return max((budget.resets_at - RESERVE_RELEASE - now).total_seconds(), SHORTEST_WAIT)
        return max((budget.resets_at + RESET_MARGIN - now).total_seconds(), SHORTEST_WAIT)
    return SHORTEST_WAIT


def observe(
    account: str,
    *,
    remaining: int,
    reset_seconds: int,
    quota: int | None = None,
    window: int | None = None,
) -> None:
    """Correct `account`'s budget from what an answer stated (`X-RateLimit`, or a 429).

    Within the window we know, the lower count and the earlier reset win: other programs may
    use the account, requests of ours may still be on their way, and `t` is rounded up to whole
    seconds. An answer naming another reset replaces our guess (a window we opened too early,
    or one that has begun since).
    """
    now = _now()
    resets_at = now + timedelta(seconds=max(reset_seconds, 0))
    limits = {"quota": quota} if quota else {}
    if window:
        limits["window"] = window
    same_window = Q(resets_at__gt=resets_at - SAME_WINDOW, resets_at__lt=resets_at + SAME_WINDOW)
    updated = RequestBudget.objects.filter(account=account).update(
        remaining=Case(
            When(same_window, then=Least(F("remaining"), Value(remaining))),
            default=Value(remaining),
            output_field=IntegerField(),
        ),
        resets_at=Case(
            When(same_window, then=Least(F("resets_at"), Value(resets_at))),
            default=Value(resets_at),
            output_field=DateTimeField(),
        ),
        **limits,
    )
    if not updated:
        _start(account, now=now, remaining=remaining, resets_at=resets_at, **limits)


def _start(
    account: str,
    *,
    now: datetime,
    remaining: int | None = None,
    resets_at: datetime | None = None,
    quota: int = DEFAULT_QUOTA,
    window: int = DEFAULT_WINDOW,
) -> bool:
    """The account's first budget row (its first request, or the first answer seen)."""
    try:
        with transaction.atomic():  # a savepoint: a lost race must not break the caller's
            RequestBudget.objects.create(
                account=account,
                quota=quota,
                window=window,
                remaining=quota - 1 if remaining is None else remaining,
                resets_at=resets_at or now + timedelta(seconds=window),
            )
    except IntegrityError:
        return False
    return True
