"""The review of a month-end run: what would happen to each client, from our data alone.

No request goes to Fakturoid (an invoice made through the API is final at once, so the review
is ours). Each row that will be invoiced carries the very draft the invoice icon would send
(`invoicing.build_invoice`), so the review's figures are what the run creates.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import models
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from agencies.models import Agency
from clients.models import Client
from clients.months import first_day
from fakturoid.configuration import configured_settings
from fakturoid.errors import IntegrationError, NothingToBill, explain
from fakturoid.models import Invoice
from fakturoid.services.invoicing import InvoiceDraft, build_invoice


class Outcome(models.TextChoices):
    WILL_INVOICE = "will_invoice", gettext_lazy("will be invoiced")
    ALREADY_INVOICED = "already_invoiced", gettext_lazy("already invoiced")
    NOT_LINKED = "not_linked", gettext_lazy("not linked")
    NOTHING_TO_BILL = "nothing_to_bill", gettext_lazy("nothing to bill")
    NEEDS_ATTENTION = "needs_attention", gettext_lazy("needs attention")


@dataclass(frozen=True)
class ReviewRow:
    client: Client
    outcome: str
    draft: InvoiceDraft | None = None
    invoice: Invoice | None = None
    reason: str = ""

    @property
    def outcome_label(self) -> str:
        return Outcome(self.outcome).label

    @property
    def selectable(self) -> bool:
        """Whether the run may include the client (ticked by default only when all is well)."""
        return self.outcome in (Outcome.WILL_INVOICE, Outcome.NEEDS_ATTENTION) and bool(self.draft)

    @property
    def selected(self) -> bool:
        return self.outcome == Outcome.WILL_INVOICE


@dataclass(frozen=True)
class CurrencyTotal:
    currency: str
    invoices: int
    subtotal: Decimal
    vat: Decimal
    total: Decimal


@dataclass(frozen=True)
class Review:
    period: date
    rows: list[ReviewRow]

    @property
    def totals(self) -> list[CurrencyTotal]:
        """What the ticked-by-default rows bill, per currency."""
        sums: dict[str, list] = defaultdict(lambda: [0, Decimal("0"), Decimal("0"), Decimal("0")])
        for row in self.rows:
            if row.selected:
                figures = sums[row.draft.currency]
                figures[0] += 1
                figures[1] += row.draft.subtotal
                figures[2] += row.draft.vat
                figures[3] += row.draft.total
        return [CurrencyTotal(currency, *figures) for currency, figures in sorted(sums.items())]

    def client_ids(self, outcome: str = Outcome.WILL_INVOICE) -> list[int]:
        return [row.client.pk for row in self.rows if row.outcome == outcome]

    def count(self, outcome: str) -> int:
        return sum(1 for row in self.rows if row.outcome == outcome)


def review_month(*, agency: Agency, period: date) -> Review:
    """Every client of the agency with what a run for `period` would do to it.

    Sends nothing to Fakturoid. Raises ConfigurationError when Fakturoid is not set up.
    """
    configured_settings(agency)
    period = first_day(period)
    clients = (
        Client.objects.for_agency(agency)
        .select_related("agency")
        .with_month_invoices(month=period)
        .order_by("name", "pk")
    )
    return Review(period, [_review_client(client, period) for client in clients])


def _review_client(client: Client, period: date) -> ReviewRow:
    # The live invoice of the month (one re-issued after a deletion replaces the old row).
    invoice = next((found for found in client.month_invoices if not found.replaced), None)
    if invoice is not None and invoice.state == Invoice.State.CREATED:
        if invoice.duplicates:
            numbers = ", ".join(
                str(copy.get("number") or copy.get("id")) for copy in invoice.duplicates
            )
            reason = _("Fakturoid holds this month's invoice more than once (also %(numbers)s).")
            return ReviewRow(
                client,
                Outcome.NEEDS_ATTENTION,
                invoice=invoice,
                reason=reason % {"numbers": numbers},
            )
        return ReviewRow(client, Outcome.ALREADY_INVOICED, invoice=invoice)
    if not client.fakturoid_subject_id:
        return ReviewRow(client, Outcome.NOT_LINKED)
    try:
        draft = build_invoice(client=client, period=period)
    except NothingToBill:
        return ReviewRow(client, Outcome.NOTHING_TO_BILL)
    except IntegrationError as error:
        return ReviewRow(client, Outcome.NEEDS_ATTENTION, reason=explain(error))
    if invoice is not None and not invoice.can_retry:
        reason = _("Its invoice is being created right now.")
        return ReviewRow(client, Outcome.NEEDS_ATTENTION, draft, invoice, reason)
    if not client.registration_no:
        reason = _("The client has no IČO: check its billing details before invoicing.")
        return ReviewRow(client, Outcome.NEEDS_ATTENTION, draft, invoice, reason)
    reason = explain_earlier(invoice)
    return ReviewRow(client, Outcome.WILL_INVOICE, draft, invoice, reason)


def explain_earlier(invoice: Invoice | None) -> str:
    """What the row says about an earlier attempt that failed (the run will look it up)."""
    if invoice is None or not invoice.error:
        return ""
    return _("An earlier attempt failed (%(error)s); the run tries again.") % {
        "error": invoice.error
    }
