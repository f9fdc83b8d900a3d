"""One way to show an amount of money: `{{ amount|money:currency }}`.

English puts the currency code first (CZK 19,000.00), Czech after the number with the Czech
symbol for crowns (19 000,00 Kč); separators come from the active language's formats, and the
spaces are non-breaking so an amount never wraps.
"""

from decimal import Decimal

from django import template
from django.utils import formats, translation

register = template.Library()

NBSP = "\N{NO-BREAK SPACE}"
CZECH_SYMBOLS = {"CZK": "Kč", "EUR": "€"}


def format_money(amount: Decimal | int | None, currency: str) -> str:
    """`amount` in `currency` as the active language writes it; "" for None."""
    if amount is None:
        return ""
    number = formats.number_format(amount, decimal_pos=2, use_l10n=True, force_grouping=True)
    number = number.replace(" ", NBSP)
    if (translation.get_language() or "").startswith("cs"):
        return f"{number}{NBSP}{CZECH_SYMBOLS.get(currency, currency)}"
    return f"{currency}{NBSP}{number}"


@register.filter
def money(amount: Decimal | int | None, currency: str) -> str:
    return format_money(amount, currency)
