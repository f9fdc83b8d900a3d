"""What the sandbox does with a request's data: validate it the way Fakturoid does, then store.

Every function takes the account (already authorised) and the parsed JSON payload, returns the
stored object and raises `Invalid` (422), or `ApiError` for other refusals. Subject messages
are Czech and invoice messages English, as in the Fakturoid docs' examples.
"""

from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_date

from fakturoid_sandbox import webhooks
from fakturoid_sandbox.errors import ApiError, Invalid, api_error
from fakturoid_sandbox.models import (
    NUMBER_FORMAT,
    Account,
    Invoice,
    InvoiceLine,
    Subject,
)

BLANK = "je povinná položka"
TOO_SHORT = "je příliš krátký/á/é (min. 2 znaků)"
TOO_LONG = "je příliš dlouhý/á/é (max. 255 znaků)"
TAKEN = "již existuje"
BAD_EMAIL = "Prosím zkontrolujte email."
NOT_IN_LIST = "není v seznamu povolených hodnot"
NOT_A_NUMBER = "není číslo"
INVALID = "je neplatná hodnota"

SUBJECT_TEXT_FIELDS = (
    "full_name",
    "email",
    "email_copy",
    "phone",
    "web",
    "street",
    "city",
    "zip",
    "country",
    "registration_no",
    "vat_no",
    "local_vat_no",
    "bank_account",
    "iban",
    "variable_symbol",
    "currency",
    "language",
)
MAX_AMOUNT = Decimal("1e12")


def to_text(value: Any) -> str | None:
    """A JSON scalar as text (None stays None); lists, objects and booleans are not text."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise TypeError
    return str(value)


def to_decimal(value: Any) -> Decimal:
    """A JSON number or numeric string as Decimal; raises ValueError for anything else."""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise ValueError(value)
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueError(value) from exc
    if not number.is_finite() or abs(number) >= MAX_AMOUNT:
        raise ValueError(value)
    return number


def to_integer(value: Any) -> int:
    number = to_decimal(value)
    if number != number.to_integral_value() or number < 0:
        raise ValueError(value)
    return int(number)


def to_date(value: Any) -> date:
    parsed = parse_date(value) if isinstance(value, str) else None
    if parsed is None:
        raise ValueError(value)
    return parsed


def _custom_id(value: Any) -> str:
    return (to_text(value) or "").strip()


# Subjects


def _apply_subject_fields(subject: Subject, data: dict, *, creating: bool) -> None:
    errors: dict[str, list[str]] = {}
    if creating or "name" in data:
        try:
            name = (to_text(data.get("name")) or "").strip()
        except TypeError:
            name = ""
        if not name:
            errors["name"] = [BLANK, TOO_SHORT]
        elif len(name) < 2:
            errors["name"] = [TOO_SHORT]
        elif len(name) > 255:
            errors["name"] = [TOO_LONG]
        subject.name = name
    for field in SUBJECT_TEXT_FIELDS:
        if field not in data:
            continue
        try:
            value = (to_text(data[field]) or "").strip()
        except TypeError:
            errors[field] = [INVALID]
            continue
        if len(value) > 255:
            errors[field] = [TOO_LONG]
        elif field in ("email", "email_copy") and value:
            try:
                validate_email(value)
            except ValidationError:
                errors[field] = [BAD_EMAIL]
        setattr(subject, field, value)
    if "private_note" in data:
        try:
            subject.private_note = to_text(data["private_note"]) or ""
        except TypeError:
            errors["private_note"] = [INVALID]
    if "type" in data:
        if data["type"] in Subject.Type.values:
            subject.type = data["type"]
        else:
            errors["type"] = [NOT_IN_LIST]
    if "due" in data:
        try:
            subject.due = None if data["due"] in (None, "") else to_integer(data["due"])
        except ValueError:
            errors["due"] = [NOT_A_NUMBER]
    if "custom_id" in data:
        try:
            subject.custom_id = _custom_id(data["custom_id"])
        except TypeError:
            errors["custom_id"] = [INVALID]
        else:
            taken = Subject.objects.filter(account=subject.account, custom_id=subject.custom_id)
            if subject.custom_id and taken.exclude(pk=subject.pk).exists():
                errors["custom_id"] = [TAKEN]
    if errors:
        raise Invalid(errors)


def _save_subject(subject: Subject) -> Subject:
    try:
        with transaction.atomic():
            subject.save()
    except IntegrityError as exc:  # a concurrent request took the same custom_id
        raise Invalid({"custom_id": [TAKEN]}) from exc
    return subject


def create_subject(*, account: Account, data: dict) -> Subject:
    """A new subject; only `name` is required, the country defaults to the account's."""
    subject = Subject(account=account, country=account.country)
    _apply_subject_fields(subject, data, creating=True)
    return _save_subject(subject)


def update_subject(*, subject: Subject, data: dict) -> Subject:
    """Change the fields the payload names (PATCH)."""
    _apply_subject_fields(subject, data, creating=False)
    return _save_subject(subject)


def delete_subject(*, subject: Subject) -> None:
    """Delete the subject; one with documents cannot be deleted (422)."""
    if subject.invoices.exists():
        raise Invalid({"document": ["Document cannot be deleted"]})
    subject.delete()


# Invoices


def _parse_lines(
    raw: Any, account: Account, *, creating: bool
) -> tuple[list[dict], dict[str, list[str]]]:
    """Validated line fields and the errors, keyed like Rails nested attributes.

    On update a line with an `id` changes that line (or removes it with `_destroy`); on create
    every line is new.
    """
    errors: dict[str, list[str]] = {}

    def add(key: str, message: str) -> None:
        if message not in errors.setdefault(key, []):
            errors[key].append(message)

    if not isinstance(raw, list):
        add("lines", "can't be blank")
        return [], errors
    lines = []
    for item in raw:
        if not isinstance(item, dict):
            add("lines", "is invalid")
            continue
        line_id = None
        if not creating and item.get("id") is not None:
            try:
                line_id = to_integer(item["id"])
            except ValueError:
                add("lines.id", "is invalid")
                continue
        destroy = line_id is not None and item.get("_destroy") is True
        line: dict[str, Any] = {"id": line_id, "destroy": destroy}
        if line["destroy"]:
            lines.append(line)
            continue
        if "name" in item or line["id"] is None:
            try:
                name = (to_text(item.get("name")) or "").strip()
            except TypeError:
                name = ""
            if not name:
                add("lines.name", "can't be blank")
            line["name"] = name[:255]
        if "unit_price" in item or line["id"] is None:
            if item.get("unit_price") in (None, ""):
                add("lines.unit_price", "can't be blank")
            else:
                try:
                    line["unit_price"] = to_decimal(item["unit_price"])
                except ValueError:
                    add("lines.unit_price", "is not a number")
        for field, default in (("quantity", Decimal("1")), ("vat_rate", Decimal("0"))):
            if field in item and item[field] not in (None, ""):
                try:
                    line[field] = to_decimal(item[field])
                except ValueError:
                    add(f"lines.{field}", "is not a number")
            elif line["id"] is None:
                line[field] = default
        rate = line.get("vat_rate")
        if rate is not None and not Decimal("0") <= rate <= Decimal("100"):
            add("lines.vat_rate", "is not included in the list")
        if not account.charges_vat and "vat_rate" in line:
            line["vat_rate"] = Decimal("0")
        if "unit_name" in item:
            try:
                line["unit_name"] = (to_text(item["unit_name"]) or "")[:50]
            except TypeError:
                add("lines.unit_name", "is invalid")
        lines.append(line)
    return lines, errors


def _apply_invoice_fields(
    invoice: Invoice, data: dict, errors: dict[str, list[str]], *, creating: bool
) -> None:
    for field in ("note", "footer_note", "private_note", "order_number"):
        if field in data:
            try:
                setattr(invoice, field, to_text(data[field]) or "")
            except TypeError:
                errors[field] = ["is invalid"]
    if "custom_id" in data:
        try:
            invoice.custom_id = _custom_id(data["custom_id"])
        except TypeError:
            errors["custom_id"] = ["is invalid"]
    for field in ("issued_on", "taxable_fulfillment_due"):
        if field in data and data[field] not in (None, ""):
            try:
                setattr(invoice, field, to_date(data[field]))
            except ValueError:
                errors[field] = ["is not a date"]
    if "due" in data and data["due"] not in (None, ""):
        try:
            invoice.due = to_integer(data["due"])
        except ValueError:
            errors["due"] = ["is not a number"]
    if creating and "currency" in data:
        currency = data["currency"]
        if isinstance(currency, str) and len(currency) == 3 and currency.isalpha():
            invoice.currency = currency.upper()
        else:
            errors["currency"] = ["is not included in the list"]
    if data.get("exchange_rate") not in (None, ""):
        try:
            invoice.exchange_rate = to_decimal(data["exchange_rate"])
        except ValueError:
            errors["exchange_rate"] = ["is not a number"]
        else:
            if invoice.exchange_rate <= 0:
                errors["exchange_rate"] = ["must be greater than 0"]


def _check_exchange_rate(
    invoice: Invoice, data: dict, errors: dict[str, list[str]], *, creating: bool
) -> None:
    """A foreign-currency invoice needs `exchange_rate` (the reference: "required if currency ≠
    account currency"); in the account's own currency the rate is 1."""
    if invoice.currency == invoice.account.currency:
        invoice.exchange_rate = Decimal("1")
    elif creating and data.get("exchange_rate") in (None, "") and "exchange_rate" not in errors:
        errors["exchange_rate"] = ["can't be blank"]


def _store_lines(invoice: Invoice, lines: list[dict]) -> None:
    for line in lines:
        if line["id"] is not None:
            existing = invoice.lines.filter(pk=line["id"]).first()
            if existing is None:
                continue
            if line["destroy"]:
                existing.delete()
                continue
        else:
            existing = InvoiceLine(invoice=invoice)
        for field in ("name", "quantity", "unit_name", "unit_price", "vat_rate"):
            if field in line:
                setattr(existing, field, line[field])
        existing.compute()
        existing.save()


def _require_bank_account(account: Account) -> None:
    if not account.has_bank_account:
        raise Invalid(
            {
                "bank_account": [
                    "Please set up a bank account in your Fakturoid account "
                    f"https://app.fakturoid.cz/{account.slug}/settings/bank_accounts "
                    "to create an invoice."
                ]
            },
            status=403,
        )


def create_invoice(*, account: Account, data: dict) -> Invoice:
    """Issue an invoice: numbered `YYYY-NNNN` in the year of `issued_on`, status open.

    Raises 403 when the account has no bank account, 422 for an unknown subject, lines
    without a name or unit price, or a foreign currency without `exchange_rate`.
    """
    _require_bank_account(account)
    errors: dict[str, list[str]] = {}
    subject = None
    subject_id = data.get("subject_id")
    if subject_id in (None, ""):
        errors["subject_id"] = ["can't be blank"]
    else:
        try:
            subject = account.subjects.filter(pk=to_integer(subject_id)).first()
        except ValueError:
            subject = None
        if subject is None:
            errors["subject_id"] = ["Contact does not exist."]
    lines, line_errors = _parse_lines(data.get("lines"), account, creating=True)
    if not lines and not line_errors:
        line_errors["lines"] = ["can't be blank"]
    errors.update(line_errors)
    invoice = Invoice(
        account=account,
        issued_on=timezone.localdate(),
        due=(subject.due if subject and subject.due is not None else account.due),
        currency=(subject.currency if subject and subject.currency else account.currency),
        note=account.invoice_note,
        bank_account=account.bank_account,
        iban=account.iban,
    )
    _apply_invoice_fields(invoice, data, errors, creating=True)
    _check_exchange_rate(invoice, data, errors, creating=True)
    requested_number = data.get("number")
    if requested_number not in (None, ""):
        valid = isinstance(requested_number, str) and invoice.issued_on is not None
        match = NUMBER_FORMAT.match(requested_number) if valid else None
        if match is None or int(match["year"]) != invoice.issued_on.year:
            errors["number"] = ["The number does not match the number format in the settings"]
    if errors:
        raise Invalid(errors)
    invoice.subject = subject
    invoice.copy_client(subject)
    invoice.due_on = invoice.issued_on + timedelta(days=invoice.due)
    with transaction.atomic():
        Account.objects.select_for_update().get(pk=account.pk)  # one numbering at a time
        if requested_number:
            if account.invoices.filter(number=requested_number).exists():
                raise Invalid({"number": ["has already been taken"]})
            invoice.number = requested_number
        else:
            invoice.number = account.next_invoice_number(invoice.issued_on.year)
        invoice.variable_symbol = invoice.number.replace("-", "")
        invoice.save()
        _store_lines(invoice, lines)
        invoice.recompute_totals()
        invoice.save(update_fields=["subtotal", "total"])
        webhooks.record_event(invoice, "invoice_created")
    return invoice


def update_invoice(*, invoice: Invoice, data: dict) -> Invoice:
    """Change an invoice (PATCH): notes, ids, dates, due; lines with an `id` are updated,
    lines without one appended, `{"id": …, "_destroy": true}` removed. Locked → 403."""
    if invoice.locked_at is not None:
        raise api_error(
            403, "document_locked", "Document first needs to be unlocked to perform the action"
        )
    errors: dict[str, list[str]] = {}
    _apply_invoice_fields(invoice, data, errors, creating=False)
    _check_exchange_rate(invoice, data, errors, creating=False)
    lines: list[dict] = []
    if "lines" in data:
        lines, line_errors = _parse_lines(data["lines"], invoice.account, creating=False)
        errors.update(line_errors)
    if errors:
        raise Invalid(errors)
    invoice.due_on = invoice.issued_on + timedelta(days=invoice.due)
    with transaction.atomic():
        invoice.save()
        _store_lines(invoice, lines)
        invoice.recompute_totals()
        invoice.save(update_fields=["subtotal", "total"])
        webhooks.record_event(invoice, "invoice_updated")
    return invoice


def require_object(payload: Any) -> dict:
    """The request body must be a JSON object."""
    if not isinstance(payload, dict):
        raise ApiError(400, {"error": "invalid_request", "error_description": "Invalid JSON"})
    return payload
