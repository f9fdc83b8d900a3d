"""Fakturoid's answers as we use them: small frozen dataclasses with Decimal amounts and real
dates, parsed at the boundary by `fakturoid.client` (https://www.fakturoid.cz/api/v3).

Names say whose thing it is: `InvoiceDocument` is Fakturoid's invoice, `fakturoid.models.Invoice`
our record of it, and `fakturoid.services.invoicing.InvoiceDraft` what we would send.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from django.utils.translation import gettext as _

from fakturoid.errors import InvalidResponse


@dataclass(frozen=True)
class RateLimit:
    """Fakturoid's request budget as the last response stated it (None: not stated)."""

    quota: int | None
    window: int | None
    remaining: int | None
    reset_seconds: int | None


def parse_rate_limit(headers: Any) -> RateLimit | None:
    """Read `X-RateLimit-Policy: default;q=400;w=60` and `X-RateLimit: default;r=398;t=55`.

    Returns None when neither header is present; a missing or malformed value is None.
    """
    policy = headers.get("X-RateLimit-Policy")
    state = headers.get("X-RateLimit")
    if policy is None and state is None:
        return None
    values = {**_header_values(policy), **_header_values(state)}
    return RateLimit(
        quota=values.get("q"),
        window=values.get("w"),
        remaining=values.get("r"),
        reset_seconds=values.get("t"),
    )


def _header_values(header: str | None) -> dict[str, int]:
    values = {}
    for part in (header or "").split(";"):
        key, _sep, value = part.partition("=")
        try:
            number = int(value.strip())
        except ValueError:
            continue
        if number >= 0:
            values[key.strip()] = number
    return values


@dataclass(frozen=True)
class AccountRef:
    slug: str
    name: str | None
    permission: str | None


@dataclass(frozen=True)
class User:
    id: int
    full_name: str | None
    email: str | None
    accounts: tuple[AccountRef, ...]


@dataclass(frozen=True)
class Account:
    slug: str
    name: str | None
    full_name: str | None
    registration_no: str | None
    vat_no: str | None
    vat_mode: str | None
    vat_price_mode: str | None
    currency: str | None
    due: int | None
    plan: str | None


@dataclass(frozen=True)
class Subject:
    id: int
    custom_id: str | None
    name: str | None
    full_name: str | None
    email: str | None
    registration_no: str | None
    vat_no: str | None
    street: str | None
    city: str | None
    zip: str | None
    country: str | None
    html_url: str | None
    url: str | None


@dataclass(frozen=True)
class InvoiceDocumentLine:
    name: str
    quantity: Decimal | None
    unit_price: Decimal | None
    vat_rate: Decimal | None


@dataclass(frozen=True)
class PaymentDocument:
    id: int
    paid_on: date | None
    amount: Decimal | None
    currency: str | None


@dataclass(frozen=True)
class InvoiceDocument:
    id: int
    custom_id: str | None
    number: str | None
    status: str | None
    subject_id: int | None
    issued_on: date | None
    due_on: date | None
    currency: str | None
    subtotal: Decimal | None
    total: Decimal | None
    html_url: str | None
    public_html_url: str | None
    pdf_url: str | None
    url: str | None
    lines: tuple[InvoiceDocumentLine, ...]
    paid_on: date | None = None
    remaining_amount: Decimal | None = None
    sent_at: datetime | None = None
    updated_at: datetime | None = None
    payments: tuple[PaymentDocument, ...] = ()


@dataclass(frozen=True)
class WebhookDocument:
    id: int
    webhook_url: str | None
    active: bool
    events: tuple[str, ...]


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    number = Decimal(str(value))
    if not number.is_finite():
        raise ValueError(f"not a finite amount: {value!r}")
    return number


def _date(value: Any) -> date | None:
    return None if value is None else date.fromisoformat(value)


def _datetime(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def parse_user(data: dict) -> User:
    return User(
        id=int(data["id"]),
        full_name=_text(data.get("full_name")),
        email=_text(data.get("email")),
        accounts=tuple(
            AccountRef(
                slug=str(account["slug"]),
                name=_text(account.get("name")),
                permission=_text(account.get("permission")),
            )
            for account in data.get("accounts") or ()
        ),
    )


def parse_account(data: dict) -> Account:
    return Account(
        slug=str(data["subdomain"]),
        name=_text(data.get("name")),
        full_name=_text(data.get("full_name")),
        registration_no=_text(data.get("registration_no")),
        vat_no=_text(data.get("vat_no")),
        vat_mode=_text(data.get("vat_mode")),
        vat_price_mode=_text(data.get("vat_price_mode")),
        currency=_text(data.get("currency")),
        due=_int(data.get("due")),
        plan=_text(data.get("plan")),
    )


def parse_subject(data: dict) -> Subject:
    fields = ("name", "full_name", "email", "registration_no", "vat_no", "street", "city")
    return Subject(
        id=int(data["id"]),
        custom_id=_text(data.get("custom_id")),
        **{field: _text(data.get(field)) for field in fields},
        zip=_text(data.get("zip")),
        country=_text(data.get("country")),
        html_url=_text(data.get("html_url")),
        url=_text(data.get("url")),
    )


def parse_invoice(data: dict) -> InvoiceDocument:
    return InvoiceDocument(
        id=int(data["id"]),
        custom_id=_text(data.get("custom_id")),
        number=_text(data.get("number")),
        status=_text(data.get("status")),
        subject_id=_int(data.get("subject_id")),
        issued_on=_date(data.get("issued_on")),
        due_on=_date(data.get("due_on")),
        currency=_text(data.get("currency")),
        subtotal=_decimal(data.get("subtotal")),
        total=_decimal(data.get("total")),
        html_url=_text(data.get("html_url")),
        public_html_url=_text(data.get("public_html_url")),
        pdf_url=_text(data.get("pdf_url")),
        url=_text(data.get("url")),
        lines=tuple(
            InvoiceDocumentLine(
                name=str(line["name"]),
                quantity=_decimal(line.get("quantity")),
                unit_price=_decimal(line.get("unit_price")),
                vat_rate=_decimal(line.get("vat_rate")),
            )
            for line in data.get("lines") or ()
        ),
        paid_on=_date(data.get("paid_on")),
        remaining_amount=_decimal(data.get("remaining_amount")),
        sent_at=_datetime(data.get("sent_at")),
        updated_at=_datetime(data.get("updated_at")),
        payments=tuple(parse_payment(item) for item in data.get("payments") or ()),
    )


def parse_payment(data: dict) -> PaymentDocument:
    return PaymentDocument(
        id=int(data["id"]),
        paid_on=_date(data.get("paid_on")),
        amount=_decimal(data.get("amount")),
        currency=_text(data.get("currency")),
    )


def parse_webhook(data: dict) -> WebhookDocument:
    return WebhookDocument(
        id=int(data["id"]),
        webhook_url=_text(data.get("webhook_url")),
        active=bool(data.get("active", True)),
        events=tuple(str(event) for event in data.get("events") or ()),
    )


T = TypeVar("T")


def parse(parser: Callable[[dict], T], data: Any, *, maybe_processed: bool = False) -> T:
    """Apply a parser to one JSON object; a wrong shape becomes InvalidResponse."""
    try:
        return parser(data)
    except (KeyError, TypeError, ValueError, ArithmeticError, AttributeError) as error:
        raise InvalidResponse(
            _("Fakturoid answered with data in an unexpected shape (%(problem)s).")
            % {"problem": f"{type(error).__name__}: {error}"},
            maybe_processed=maybe_processed,
        ) from error
