"""The request budget shared by every process: taking requests, waiting, correcting it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from fakturoid import budget
from fakturoid.documents import RateLimit
from fakturoid.models import RequestBudget

pytestmark = pytest.mark.django_db

ACCOUNT = "https://app.fakturoid.cz/api/v3#mojefirma"


def _row() -> RequestBudget:
    return RequestBudget.objects.get(account=ACCOUNT)


def _set(**fields) -> None:
    RequestBudget.objects.update_or_create(account=ACCOUNT, defaults=fields)


def test_it_takes_the_first_request_of_an_unknown_account_at_once():
    assert budget.take(ACCOUNT) == 0.0
    row = _row()
    assert (row.quota, row.window, row.remaining) == (400, 60, 399)


def test_it_counts_every_request_taken():
    for _ in range(5):
        assert budget.take(ACCOUNT) == 0.0
    assert _row().remaining == 395


def test_it_makes_callers_wait_for_the_reset_when_nothing_is_left():
    _set(quota=10, window=15, remaining=0, resets_at=timezone.now() + timedelta(seconds=7))
    wait = budget.take(ACCOUNT)
    assert 7 <= wait <= 7.5
    assert _row().remaining == 0


def test_it_keeps_the_reserve_for_people_until_the_window_is_about_to_reset():
    _set(quota=100, window=60, remaining=3, resets_at=timezone.now() + timedelta(seconds=30))
    assert budget.take(ACCOUNT, reserve=5) > 25  # a worker waits
    assert budget.take(ACCOUNT, reserve=0) == 0.0  # a person does not
    assert _row().remaining == 2


def test_it_releases_the_reserve_to_workers_in_the_last_moment_of_a_window():
    _set(quota=100, window=60, remaining=3, resets_at=timezone.now() + timedelta(seconds=0.5))
    assert budget.take(ACCOUNT, reserve=5) == 0.0


def test_it_opens_the_next_window_once_the_reset_has_passed():
    _set(quota=100, window=15, remaining=0, resets_at=timezone.now() - timedelta(seconds=1))
    assert budget.take(ACCOUNT, reserve=5) == 0.0
    row = _row()
    assert row.remaining == 99
    assert row.resets_at > timezone.now() + timedelta(seconds=14)


def test_it_waits_a_margin_past_the_reset_before_opening_the_next_window():
    _set(quota=100, window=15, remaining=0, resets_at=timezone.now() - timedelta(milliseconds=50))
    assert 0 < budget.take(ACCOUNT) <= 0.25


def test_it_takes_the_lower_count_and_earlier_reset_of_the_same_window():
    resets_at = timezone.now() + timedelta(seconds=40.5)
    _set(quota=400, window=60, remaining=300, resets_at=resets_at)
    budget.observe(ACCOUNT, remaining=250, reset_seconds=40, quota=400, window=60)
    assert _row().remaining == 250  # another program used the account
    budget.observe(ACCOUNT, remaining=280, reset_seconds=40, quota=400, window=60)
    row = _row()
    assert row.remaining == 250  # an older answer does not give requests back
    assert row.resets_at < resets_at  # t is rounded up: the earlier estimate is the closer one


def test_it_starts_the_window_an_answer_names_when_it_is_later():
    _set(quota=400, window=60, remaining=0, resets_at=timezone.now() - timedelta(seconds=3))
    budget.observe(ACCOUNT, remaining=390, reset_seconds=58, quota=400, window=60)
    row = _row()
    assert row.remaining == 390
    assert row.resets_at > timezone.now() + timedelta(seconds=57)


def test_it_corrects_a_window_it_opened_too_early():
    _set(quota=400, window=60, remaining=380, resets_at=timezone.now() + timedelta(seconds=55))
    budget.observe(ACCOUNT, remaining=2, reset_seconds=3, quota=400, window=60)
    row = _row()
    assert row.remaining == 2
    assert row.resets_at < timezone.now() + timedelta(seconds=3.1)


def test_it_learns_the_limit_from_the_first_answer():
    budget.observe(ACCOUNT, remaining=99, reset_seconds=15, quota=100, window=15)
    row = _row()
    assert (row.quota, row.window, row.remaining) == (100, 15, 99)


def test_it_stops_everyone_until_the_reset_after_a_429():
    budget.take(ACCOUNT)
    budget.observe(ACCOUNT, remaining=0, reset_seconds=12)
    assert 11 <= budget.take(ACCOUNT) <= 13


def test_it_keeps_each_account_apart():
    _set(quota=10, window=15, remaining=0, resets_at=timezone.now() + timedelta(seconds=10))
    assert budget.take("https://app.fakturoid.cz/api/v3#other") == 0.0


def _answer(remaining: int, reset_seconds: int) -> RateLimit:
    return RateLimit(quota=400, window=60, remaining=remaining, reset_seconds=reset_seconds)


def test_an_answer_that_tells_the_budget_nothing_new_costs_no_write(
    django_assert_num_queries,
):
    """Every request taken has lowered the count already: in a window this process has
    written, answers with plenty left are not written again (a busy run saves a write each)."""
    budget.take(ACCOUNT)
    budget.correct(ACCOUNT, _answer(399, 60), limited=False)  # the window's first answer
    with django_assert_num_queries(0):
        budget.correct(ACCOUNT, _answer(398, 60), limited=False)


def test_answers_correct_the_budget_every_time_when_few_requests_are_left():
    """Near the end of a window another program's use must show at once."""
    budget.take(ACCOUNT)
    budget.correct(ACCOUNT, _answer(399, 40), limited=False)
    budget.correct(ACCOUNT, _answer(60, 40), limited=False)  # someone else used 300
    assert _row().remaining == 60
    budget.correct(ACCOUNT, _answer(20, 40), limited=False)
    assert _row().remaining == 20


def test_the_next_window_and_a_new_budget_are_corrected_by_their_first_answer():
    budget.take(ACCOUNT)
    budget.correct(ACCOUNT, _answer(399, 40), limited=False)
    budget.correct(ACCOUNT, _answer(390, 59), limited=False)  # a new window began
    assert _row().remaining == 390
    RequestBudget.objects.all().delete()
    budget.take(ACCOUNT)  # starts a new budget with Fakturoid's documented limit
    budget.correct(ACCOUNT, _answer(250, 59), limited=False)
    assert _row().remaining == 250


def _lease(expected: int, reserve: int = 5) -> budget.Lease:
    return budget.Lease(ACCOUNT, reserve=reserve, expected=expected)


def test_a_lease_takes_the_requests_it_expects_five_at_a_time(django_assert_num_queries):
    """A worker's batch of ten invoices costs two budget writes, not ten."""
    _set(quota=100, window=60, remaining=90, resets_at=timezone.now() + timedelta(seconds=30))
    lease = _lease(expected=10)
    with django_assert_num_queries(2):
        assert all(lease.use() for _ in range(10))
    assert _row().remaining == 80


def test_a_lease_gives_back_what_was_not_sent():
    _set(quota=100, window=60, remaining=90, resets_at=timezone.now() + timedelta(seconds=30))
    lease = _lease(expected=10)
    assert lease.use() and lease.use()  # two invoices, then the batch ends (the rest skipped)
    assert _row().remaining == 85
    lease.give_back()
    assert _row().remaining == 88
    lease.give_back()  # only once
    assert _row().remaining == 88


def test_a_lease_is_not_taken_from_the_reserve_or_the_last_seconds_of_a_window():
    """Where requests are scarce they are taken one at a time, precisely (`take`)."""
    _set(quota=100, window=60, remaining=8, resets_at=timezone.now() + timedelta(seconds=30))
    assert not _lease(expected=10, reserve=5).use()  # 5 would leave 3, under the reserve
    _set(remaining=90, resets_at=timezone.now() + timedelta(seconds=budget.LEASE_SECONDS + 0.5))
    assert not _lease(expected=10).use()  # it could outlive the window
    assert _row().remaining == 90


def test_a_lease_that_outlived_its_time_is_not_given_to_the_next_window(monkeypatch):
    now = timezone.now()
    _set(quota=100, window=60, remaining=90, resets_at=now + timedelta(seconds=30))
    lease = _lease(expected=10)
    assert lease.use()
    later = now + timedelta(seconds=budget.LEASE_SECONDS + 1)
    monkeypatch.setattr(budget, "_now", lambda: later)
    lease.give_back()
    assert _row().remaining == 85  # its window may be over: the four unsent are not returned


def test_a_client_expecting_one_request_leases_nothing(django_assert_num_queries):
    _set(quota=100, window=60, remaining=90, resets_at=timezone.now() + timedelta(seconds=30))
    with django_assert_num_queries(0):
        assert not _lease(expected=1).use()
