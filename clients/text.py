"""Text that reaches invoices: names and descriptions without invisible characters."""

import unicodedata

# Control characters and line/paragraph separators become spaces (a pasted line break must
# not glue two words together); format characters (right-to-left overrides and isolates,
# zero-width spaces and joiners, soft hyphens, byte-order marks) are dropped: they reorder or
# hide what an invoice shows while the stored value looks harmless.
_AS_SPACE = {"Cc", "Zl", "Zp"}
_DROPPED = {"Cf"}


def visible_text(value: str) -> str:
    """`value` without invisible characters, stripped of surrounding spaces."""
    kept = []
    for char in value:
        category = unicodedata.category(char)
        if category in _AS_SPACE:
            kept.append(" ")
        elif category not in _DROPPED:
            kept.append(char)
    return "".join(kept).strip()
