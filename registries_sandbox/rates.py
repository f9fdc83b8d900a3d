"""The ČNB stand-in's rates: made up, but the same for the same day on every run.

Rates are published on Czech working days only (no weekends, no public holidays), at 14:30
Prague time; a day without its own rates gets the last ones before it, under their own date,
as from ČNB. Each rate wanders smoothly around its typical value (a year-long and a month-long
wave plus a small jitter from a hash of the day), rounded to three decimals.
"""

import hashlib
import math
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from registries_sandbox.data import CURRENCIES

PUBLISHED_AT = time(14, 30)
HEADER = "země|měna|množství|kód|kurz"
FIXED_HOLIDAYS = {(1, 1), (5, 1), (5, 8), (7, 5), (7, 6), (9, 28), (10, 28), (11, 17),
                  (12, 24), (12, 25), (12, 26)}  # fmt: skip


def easter_sunday(year: int) -> date:
    """Gregorian Easter Sunday (the anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    leap = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * leap) // 451
    month = (h + leap - 7 * m + 114) // 31
    day = (h + leap - 7 * m + 114) % 31 + 1
    return date(year, month, day)


def is_holiday(day: date) -> bool:
    """A Czech public holiday, Good Friday and Easter Monday included."""
    easter = easter_sunday(day.year)
    return (day.month, day.day) in FIXED_HOLIDAYS or day in (
        easter - timedelta(days=2),
        easter + timedelta(days=1),
    )


def is_publication_day(day: date) -> bool:
    return day.weekday() < 5 and not is_holiday(day)


def last_publication(on: date, now: datetime) -> date:
    """The day whose rates answer a question about `on`, asked at `now` (Prague time)."""
    today = now.date()
    day = min(on, today)
    if day == today and now.time() < PUBLISHED_AT:
        day -= timedelta(days=1)
    while not is_publication_day(day):
        day -= timedelta(days=1)
    return day


def serial(day: date) -> int:
    """The rates' number in their year: 1 for the first working day of January."""
    first = date(day.year, 1, 1)
    return sum(1 for n in range((day - first).days + 1) if is_publication_day(first + timedelta(n)))


def rate(code: str, typical: Decimal, day: date) -> Decimal:
    n = day.toordinal()
    jitter = int(hashlib.sha256(f"{code}{n}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF - 0.5
    wave = 0.04 * math.sin(2 * math.pi * n / 365.25) + 0.01 * math.sin(2 * math.pi * n / 29.5)
    return (typical * Decimal(str(round(1 + wave + 0.004 * jitter, 6)))).quantize(Decimal("0.001"))


def rates_file(day: date) -> str:
    """ČNB's daily file for the publication day `day`."""
    lines = [f"{day:%d.%m.%Y} #{serial(day)}", HEADER]
    for country, name, quantity, code, typical in CURRENCIES:
        value = str(rate(code, Decimal(typical), day)).replace(".", ",")
        lines.append(f"{country}|{name}|{quantity}|{code}|{value}")
    return "\n".join(lines) + "\n"
