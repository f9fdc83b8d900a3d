"""Spreadsheet exports (CSV and XLSX) of what a list shows, for the clients and the invoices.

A table is a title, column headings and rows of plain values: str, Decimal (money: a number
with the currency in the cell's format), date, int or None. Text that a spreadsheet would run
as a formula (starting with =, +, -, @, a tab or a carriage return) is written with a leading
apostrophe. Czech CSV uses semicolons and the decimal comma, as Czech Excel expects; XLSX cells
hold real numbers and dates whose formats the spreadsheet shows in the reader's locale.
"""

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.http import HttpResponse
from django.utils import translation
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from clients.months import format_month

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS = ("csv", "xlsx")


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class Table:
    title: str
    headings: Sequence[str]
    rows: Iterable[Sequence[object]]


def neutralise(text: str) -> str:
    """Text a spreadsheet would take for a formula, made plain text."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def _czech() -> bool:
    return (translation.get_language() or "").startswith("cs")


def _csv_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, Money):
        value = value.amount
    if isinstance(value, Decimal):
        text = f"{value:.2f}"
        return text.replace(".", ",") if _czech() else text
    if isinstance(value, date):
        return value.isoformat()
    return neutralise(str(value))


def _xlsx_cell(sheet, value: object) -> WriteOnlyCell:  # noqa: ANN001
    if isinstance(value, Money):
        cell = WriteOnlyCell(sheet, value=value.amount)
        symbol = {"CZK": "Kč"}.get(value.currency, value.currency) if _czech() else None
        cell.number_format = f'#,##0.00 "{symbol}"' if symbol else f'"{value.currency}" #,##0.00'
        return cell
    if isinstance(value, date):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = "d. m. yyyy" if _czech() else "d mmm yyyy"
        return cell
    if isinstance(value, str):
        return WriteOnlyCell(sheet, value=neutralise(value))
    return WriteOnlyCell(sheet, value=value)


def export_response(table: Table, *, file_format: str, filename: str) -> HttpResponse:
    """The table as a CSV or XLSX download named `filename`.<format>."""
    if file_format == "xlsx":
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet(table.title[:31])
        bold = Font(bold=True)
        headings = []
        for heading in table.headings:
            cell = WriteOnlyCell(sheet, value=heading)
            cell.font = bold
            headings.append(cell)
        sheet.append(headings)
        for row in table.rows:
            sheet.append([_xlsx_cell(sheet, value) for value in row])
        buffer = io.BytesIO()
        workbook.save(buffer)
        response = HttpResponse(buffer.getvalue(), content_type=XLSX_TYPE)
    else:
        buffer = io.StringIO()
        # The BOM makes Excel read UTF-8; Czech Excel splits on semicolons.
        buffer.write("\ufeff")
        writer = csv.writer(buffer, delimiter=";" if _czech() else ",")
        writer.writerow(table.headings)
        writer.writerows([_csv_value(value) for value in row] for row in table.rows)
        response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.{file_format}"'
    return response


def clients_table(clients, *, month: date) -> Table:  # noqa: ANN001
    """Clients with their billing details, labels, monthly fees and what `month` bills.

    `clients` is a ClientQuerySet; it is read in chunks with its figures prefetched per chunk.
    """
    label = format_month(month)
    headings = [
        _("Name"),
        _("IČO"),
        _("DIČ"),
        _("Street"),
        _("City"),
        _("ZIP"),
        _("Country"),
        _("Billing e-mail"),
        _("Phone"),
        _("Currency"),
        _("Labels"),
        _("Fakturoid Client ID"),
        _("Monthly fees (%(month)s)") % {"month": label},
        _("To bill for %(month)s (excl. VAT)") % {"month": label},
    ]
    chunked = clients.with_billable_items(month=month).prefetch_related("labels")

    def rows() -> Iterable[list]:
        for client in chunked.iterator(chunk_size=1000):
            items = client.billable_items(month)
            fees = sum(
                (item.amount for item in items if item.kind == item.Kind.MONTHLY),
                Decimal("0.00"),
            )
            yield [
                client.name,
                client.registration_no,
                client.vat_no,
                client.street,
                client.city,
                client.zip,
                client.country,
                client.email,
                client.phone,
                client.currency,
                ", ".join(label.name for label in client.labels.all()),
                client.fakturoid_subject_id,
                Money(fees, client.currency),
                Money(sum((item.amount for item in items), Decimal("0.00")), client.currency),
            ]

    return Table(_("Clients"), headings, rows())
