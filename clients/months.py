"""Billing periods are calendar months, stored as the date of their first day."""

import calendar
import re
from datetime import date

from django.utils import timezone

from agencies.models import Agency, FakturoidSettings

MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


def first_day(day: date) -> date:
    return day.replace(day=1)


def last_day(month: date) -> date:
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def previous_month(month: date) -> date:
    return date(month.year - 1, 12, 1) if month.month == 1 else date(month.year, month.month - 1, 1)


def next_month(month: date) -> date:
    return date(month.year + 1, 1, 1) if month.month == 12 else date(month.year, month.month + 1, 1)


def parse_month(value: str) -> date | None:
    """'2026-10' → date(2026, 10, 1); anything else (or a year outside 2000-2100) → None."""
    match = MONTH_RE.match((value or "").strip())
    if not match:
        return None
    year, month = int(match[1]), int(match[2])
    if not (2000 <= year <= 2100 and 1 <= month <= 12):
        return None
    return date(year, month, 1)


def format_month(month: date) -> str:
    """The period as people write it on invoices: 10/2026."""
    return f"{month.month:02d}/{month.year}"


def iso_month(month: date) -> str:
    return f"{month.year:04d}-{month.month:02d}"


def default_period(agency: Agency, *, today: date | None = None) -> date:
    """The month the clients list shows and the invoice icon bills unless the user picks
    another: the previous month, or the current one when the agency's setting says so."""
    this_month = first_day(today or timezone.localdate())
    fakturoid = agency.fakturoid_settings
    if (
        fakturoid is not None
        and fakturoid.default_period == FakturoidSettings.DefaultPeriod.CURRENT
    ):
        return this_month
    return previous_month(this_month)
