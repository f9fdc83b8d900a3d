"""Every figure of the dashboard, from our database only, through QuerySet methods: a fixed
number of grouped queries whatever the number of clients and invoices.

Amounts are before VAT except unpaid money (what the clients owe, VAT included). Only the
agency's main currency is counted (its Fakturoid account's, else CZK); amounts in other
currencies are left out and said so.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from agencies.models import Agency
from clients.models import BillingItem, Client
from clients.months import default_period, first_day, format_month, previous_month
from fakturoid.models import Invoice

MONTHS = 12
TOP_CLIENTS = 8
ZERO = Decimal("0.00")
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Bar:
    label: str
    value: Decimal
    href: str = ""


@dataclass(frozen=True)
class Stacked:
    """Columns (months) of stacked series (labels): values[series][column]."""

    columns: list[str]
    values: dict[str, list[Decimal]]

    @property
    def totals(self) -> list[Decimal]:
        return [sum(column, ZERO) for column in zip(*self.values.values(), strict=True)] or [
            ZERO for _ in self.columns
        ]


@dataclass(frozen=True)
class Figures:
    currency: str
    billed: Stacked
    mrr: Decimal
    mrr_previous: Decimal
    mrr_top: list[Bar]
    mrr_clients: int
    aging: list[Bar]
    unsynced: int
    plan_month: date
    plan: list[Bar]
    other_currencies: set[str] = field(default_factory=set)

    @property
    def mrr_change(self) -> Decimal:
        return self.mrr - self.mrr_previous


def agency_figures(agency: Agency, *, today: date | None = None) -> Figures:
    today = today or timezone.localdate()
    settings = agency.fakturoid_settings
    currency = (settings.currency if settings and settings.currency else "") or "CZK"
    this_month = first_day(today)
    months = [this_month]
    for _step in range(MONTHS - 1):
        months.insert(0, previous_month(months[0]))
    other: set[str] = set()

    invoices = Invoice.objects.for_agency(agency)
    billed_rows = invoices.billed_per_client_and_month(since=months[0])
    other |= {row["currency"] for row in billed_rows if row["currency"] != currency}
    billed_rows = [row for row in billed_rows if row["currency"] == currency]
    labels = Client.objects.for_agency(agency).label_names()

    plan_month = default_period(agency, today=today)
    items = BillingItem.objects
    this_fees = items.to_bill_per_client(agency=agency, month=this_month)
    previous_fees = items.to_bill_per_client(agency=agency, month=previous_month(this_month))
    planned = items.to_bill_per_client(agency=agency, month=plan_month)
    other |= {row["currency"] for row in this_fees + planned if row["currency"] != currency}

    mrr_rows = _monthly(this_fees, currency)
    return Figures(
        currency=currency,
        billed=_billed_by_label(billed_rows, labels, months),
        mrr=sum(mrr_rows.values(), ZERO),
        mrr_previous=sum(_monthly(previous_fees, currency).values(), ZERO),
        mrr_top=_top(mrr_rows),
        mrr_clients=len(mrr_rows),
        aging=_aging(invoices, currency, today),
        unsynced=invoices.without_status().count(),
        plan_month=plan_month,
        plan=[
            Bar(
                _("Planned"), sum((r["amount"] for r in planned if r["currency"] == currency), ZERO)
            ),
            Bar(
                _("Billed so far"),
                sum((r["amount"] for r in billed_rows if r["period"] == plan_month), ZERO),
            ),
        ],
        other_currencies=other,
    )


def _billed_by_label(rows: list[dict], labels: dict, months: list[date]) -> Stacked:
    """A client's amount is split evenly among its labels, so the stacks add up to what was
    billed; clients without a label are their own series."""
    index = {month: position for position, month in enumerate(months)}
    values: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO] * len(months))
    for row in rows:
        names = labels.get(row["client_id"]) or [_("No label")]
        share = (row["amount"] / len(names)).quantize(CENT)
        for name in names:
            values[name][index[row["period"]]] += share
    ordered = dict(sorted(values.items(), key=lambda item: -sum(item[1])))
    return Stacked([format_month(month) for month in months], ordered)


def _monthly(rows: list[dict], currency: str) -> dict[tuple[int, str], Decimal]:
    fees: dict[tuple[int, str], Decimal] = defaultdict(lambda: ZERO)
    for row in rows:
        if row["kind"] == BillingItem.Kind.MONTHLY and row["currency"] == currency:
            fees[row["client_id"], row["name"]] += row["amount"]
    return fees


def _top(fees: dict[tuple[int, str], Decimal]) -> list[Bar]:
    ranked = sorted(fees.items(), key=lambda item: (-item[1], item[0][1]))
    bars = [
        Bar(name, amount, reverse("clients:detail", args=[pk]))
        for (pk, name), amount in ranked[:TOP_CLIENTS]
    ]
    rest = sum((amount for _key, amount in ranked[TOP_CLIENTS:]), ZERO)
    if rest:
        bars.append(
            Bar(_("Other clients (%(count)s)") % {"count": len(ranked) - TOP_CLIENTS}, rest)
        )
    return bars


AGING = {
    "not_due": _lazy("Not due"),
    "days_1_30": _lazy("1–30 days"),
    "days_31_60": _lazy("31–60 days"),
    "days_61_90": _lazy("61–90 days"),
    "days_over_90": _lazy("90+ days"),
}


def _aging(invoices, currency: str, today: date) -> list[Bar]:  # noqa: ANN001
    """Unpaid money in `currency` by days past due: `InvoiceQuerySet.aging`, the same
    figures as the invoices page (live invoices only)."""
    rows = invoices.live().aging(today=today)
    row = next((row for row in rows if row["currency"] == currency), {})
    return [Bar(str(name), row.get(key) or ZERO) for key, name in AGING.items()]
