"""The invoices export: our invoice records with their state, Fakturoid status, totals and
dates, written by clients.exports (CSV or XLSX)."""

from collections.abc import Iterable

from django.utils import timezone
from django.utils.translation import gettext as _

from clients.exports import Money, Table
from fakturoid.models import Invoice


def invoices_table(invoices) -> Table:  # noqa: ANN001
    """`invoices` (an Invoice QuerySet) as a table, newest period first."""
    headings = [
        _("Number"),
        _("Client"),
        _("IČO"),
        _("Period"),
        _("State"),
        _("Status"),
        _("Without VAT"),
        _("Total"),
        _("Created"),
        _("Created by"),
        _("Link to Fakturoid"),
    ]
    ordered = invoices.select_related("client", "created_by").order_by(
        "-period", "client__name", "pk"
    )

    def rows() -> Iterable[list]:
        for invoice in ordered.iterator(chunk_size=1000):
            yield [
                invoice.number,
                invoice.client.name,
                invoice.client.registration_no,
                invoice.period_label,
                invoice.get_state_display(),
                invoice.get_status_display(),
                _money(invoice.subtotal, invoice),
                _money(invoice.total, invoice),
                timezone.localtime(invoice.created_at).date(),
                invoice.created_by.get_username() if invoice.created_by else "",
                invoice.html_url,
            ]

    return Table(_("Invoices"), headings, rows())


def _money(amount, invoice: Invoice) -> Money | None:  # noqa: ANN001
    return Money(amount, invoice.currency) if amount is not None else None
