"""Czech business identifiers: IČO (registration number) and DIČ (VAT number)."""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# ASCII digits only: \d and str.isdigit() also accept fullwidth and Arabic-Indic digits.
ICO_RE = re.compile(r"^[0-9]{8}\Z")
# CZ + 8 digits (legal entities) or 9-10 digits (individuals); other EU states: 2 letters + 2-13
# alphanumerics, the common shape of EU VAT numbers.
DIC_RE = re.compile(r"^(CZ[0-9]{8,10}|(?!CZ)[A-Z]{2}[0-9A-Z+*.]{2,13})\Z")


def ico_checksum_ok(ico: str) -> bool:
    """The IČO mod-11 check: weights 8..2 over the first seven digits decide the eighth."""
    if not ICO_RE.match(ico):
        return False
    total = sum(int(digit) * weight for digit, weight in zip(ico[:7], range(8, 1, -1), strict=True))
    check = (11 - total % 11) % 10
    return int(ico[7]) == check


def validate_ico(value: str) -> None:
    if not ICO_RE.match(value):
        raise ValidationError(_("IČO must be exactly 8 digits."), code="ico_format")
    if not ico_checksum_ok(value):
        raise ValidationError(
            _("IČO %(value)s has a wrong check digit; please check for a typo."),
            code="ico_checksum",
            params={"value": value},
        )


def validate_dic(value: str) -> None:
    if not DIC_RE.match(value):
        raise ValidationError(
            _("DIČ must be a country code followed by the number, e.g. CZ12345678."),
            code="dic_format",
        )


def normalize_ico(value: str) -> str:
    """Strip spaces; pad short numbers to 8 digits, as the business register writes them."""
    value = re.sub(r"\s+", "", value or "")
    if value and len(value) < 8 and ICO_RE.match(value.zfill(8)):
        value = value.zfill(8)
    return value


def normalize_dic(value: str) -> str:
    return re.sub(r"\s+", "", value or "").upper()
