"""A client's invoice for a month: built from our data (`InvoiceDraft`, also the preview) and
created in Fakturoid exactly once (claimed locally under its custom_id before the POST; after
any answer we did not get, nothing is sent before the settle time, then it is looked up by
custom_id), and issued again under a new custom_id when it was deleted or cancelled there."""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from agencies.models import FakturoidSettings
from audit.models import ActivityEntry
from clients.models import Client
from clients.months import first_day, format_month, last_day
from fakturoid.client import FakturoidClient
from fakturoid.configuration import configured_settings
from fakturoid.documents import InvoiceDocument
from fakturoid.errors import (
    AlreadyInvoiced,
    ConfigurationError,
    FakturoidError,
    LookupFailed,
    NoExchangeRate,
    NothingToBill,
    NotSettled,
    explain,
)
from fakturoid.models import Invoice, invoice_custom_id
from fakturoid.services.sync import note_duplicates
from registries.cnb import CnbError
from registries.models import ExchangeRate
from registries.services import exchange_rate

logger = logging.getLogger(__name__)

CENT = Decimal("0.01")
# Called with the created invoice inside the transaction that records it.
OnCreated = Callable[[Invoice], None]


@dataclass(frozen=True)
class DraftLine:
    """One line of our draft (what we would send), not a line of Fakturoid's document."""

    name: str
    unit_price: Decimal
    vat_rate: int | None

    @property
    def vat(self) -> Decimal:
        if not self.vat_rate:
            return Decimal("0.00")
        return (self.unit_price * self.vat_rate / 100).quantize(CENT, ROUND_HALF_UP)

    def as_payload(self) -> dict:
        line = {"name": self.name, "quantity": "1", "unit_price": str(self.unit_price)}
        if self.vat_rate is not None:
            line["vat_rate"] = self.vat_rate
        return line


@dataclass(frozen=True)
class InvoiceDraft:
    """What we would send to Fakturoid for a client and month; also shown as the preview."""

    client: Client
    period: date
    lines: tuple[DraftLine, ...]
    currency: str
    payload: dict
    # ČNB's rate on the taxable supply date when the currency is not the account's.
    exchange_rate: ExchangeRate | None = None
    reverse_charge: bool = False

    @property
    def subtotal(self) -> Decimal:
        return sum((line.unit_price for line in self.lines), Decimal("0.00"))

    @property
    def vat(self) -> Decimal:
        return sum((line.vat for line in self.lines), Decimal("0.00"))

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.vat

    @property
    def native_total(self) -> Decimal | None:
        """The total in the account's currency (CZK) at the invoice's exchange rate."""
        if self.exchange_rate is None:
            return None
        return (self.total * self.exchange_rate.per_unit).quantize(CENT, ROUND_HALF_UP)

    @property
    def issued_on(self) -> date:
        return date.fromisoformat(self.payload["issued_on"])

    @property
    def taxable_supply(self) -> date:
        return date.fromisoformat(self.payload["taxable_fulfillment_due"])


def reverse_charge_applies(*, client: Client, fakturoid: FakturoidSettings) -> bool:
    """Reverse charge (the customer accounts for the VAT): a VAT-paying agency billing a VAT
    payer of another EU state whose current DIČ VIES has confirmed."""
    foreign = bool(client.vat_no) and not client.vat_no.startswith("CZ")
    return fakturoid.is_vat_payer and foreign and client.vies_valid


def _exchange_rate(*, client: Client, fakturoid: FakturoidSettings, on: date) -> ExchangeRate:
    """ČNB's rate of the client's currency for `on` (the taxable supply date). Raises
    NoExchangeRate when it cannot be had or the account does not keep its books in CZK."""
    account_currency = fakturoid.currency or "CZK"
    if account_currency != "CZK":
        raise NoExchangeRate(
            _(
                "Invoices in %(currency)s need an exchange rate, and the Czech National Bank "
                "quotes rates to CZK only; this Fakturoid account keeps its books in "
                "%(account)s."
            )
            % {"currency": client.currency, "account": account_currency},
            transient=False,
        )
    try:
        return exchange_rate(currency=client.currency, on=on)
    except CnbError as error:
        raise NoExchangeRate(error.message, transient=error.transient) from error


def build_invoice(*, client: Client, period: date, today: date | None = None) -> InvoiceDraft:
    """The invoice for `client` and month `period` from our data, per DESIGN "Invoice content".

    One line per monthly item running in the month and per one-off item of the month, of every
    active project. No VAT rates when the Fakturoid account is not a VAT payer, nor under
    reverse charge. A currency other than the account's gets ČNB's rate for the taxable
    supply date (the last day of the month, or the last rate published before it).
    Raises ConfigurationError (Fakturoid not set up or client not linked), NothingToBill or
    NoExchangeRate.
    """
    fakturoid = configured_settings(client.agency)
    if not client.fakturoid_subject_id:
        raise ConfigurationError(
            _("%(client)s is not linked to a Fakturoid contact yet.") % {"client": client.name}
        )
    period = first_day(period)
    items = client.billable_items(period)
    label = format_month(period)
    reverse_charge = reverse_charge_applies(client=client, fakturoid=fakturoid)
    charges_vat = fakturoid.is_vat_payer and not reverse_charge
    lines = tuple(
        DraftLine(
            name=f"{item.project.name} – {item.description} ({label})",
            unit_price=item.amount,
            vat_rate=item.vat_rate if charges_vat else None,
        )
        for item in items
    )
    if not lines:
        raise NothingToBill(
            _("%(client)s has nothing to bill for %(period)s.")
            % {"client": client.name, "period": label}
        )
    issued_on = today or timezone.localdate()
    taxable_on = last_day(period)
    rate = None
    if client.currency != (fakturoid.currency or "CZK"):
        rate = _exchange_rate(client=client, fakturoid=fakturoid, on=taxable_on)
    payload = {
        "custom_id": invoice_custom_id(agency=client.agency, client_id=client.pk, period=period),
        "subject_id": client.fakturoid_subject_id,
        "issued_on": issued_on.isoformat(),
        "taxable_fulfillment_due": taxable_on.isoformat(),
        "due": fakturoid.due_days,
        "currency": client.currency,
        "note": _("Invoice for services in %(period)s.") % {"period": label},
        "lines": [line.as_payload() for line in lines],
    }
    if rate is not None:
        payload["exchange_rate"] = format(rate.per_unit.normalize(), "f")
    if reverse_charge:
        payload["transferred_tax_liability"] = True
    return InvoiceDraft(client, period, lines, client.currency, payload, rate, reverse_charge)


@dataclass(frozen=True)
class Claim:
    """A claimed invoice row and the `payload` to POST for it. `needs_lookup`: an earlier
    attempt may have created it in Fakturoid; `prior_state`/`prior_since`: what the row said
    before it was taken over, put back when the look-up cannot be made (the outcome stays as
    uncertain as it was)."""

    invoice: Invoice
    payload: dict
    needs_lookup: bool
    prior_state: str = ""
    prior_since: datetime | None = None


def claim_invoice(*, draft: InvoiceDraft, user) -> Claim:  # noqa: ANN001
    """Claim the client's live invoice row for the month before anything is sent (the first
    half of `create_invoice`; `complete_claim` is the second). Inside a caller's transaction
    the claim commits with it.

    Raises AlreadyInvoiced when the invoice exists or another request is creating it right now,
    and NotSettled when an earlier POST of it may still be carried out by Fakturoid.
    """
    client = draft.client
    now = timezone.now()
    fields = {"state": Invoice.State.PENDING, "currency": draft.currency, "created_by": user}
    fields |= {"lines": draft.payload["lines"], "uncertain_since": now}
    # The usual case first: the month has no invoice yet, and the row is made in one INSERT
    # (with its activity entry); the constraints refuse it when there is one.
    try:
        with transaction.atomic():
            invoice = Invoice.objects.create(
                agency=client.agency,
                client=client,
                period=draft.period,
                custom_id=draft.payload["custom_id"],
                **fields,
            )
            return Claim(invoice, draft.payload, needs_lookup=False)
    except IntegrityError:
        months = Invoice.objects.filter(client=client, period=draft.period)
        live = months.live().first() or months.order_by("-created_at").first()
    # Compare-and-set: of several simultaneous retries exactly one moves the row to pending.
    taken = (
        Invoice.objects.filter(pk=live.pk)
        .live()
        .retryable()
        .update(error="", updated_at=now, **fields)
    )
    if not taken:
        live.refresh_from_db()
        until = live.settles_at
        waiting = live.state == live.State.UNKNOWN or live.is_stale
        if waiting and until is not None and until > now:
            raise NotSettled(live, until)
        raise AlreadyInvoiced(live)
    prior_state, prior_since = live.state, live.uncertain_since
    # A queryset update sends no signals: the audit trail is told who retried, from what state.
    ActivityEntry.objects.record_update(live, {"state": (prior_state, Invoice.State.PENDING)})
    live.refresh_from_db()
    payload = draft.payload | {"custom_id": live.custom_id}
    return Claim(live, payload, True, prior_state=prior_state, prior_since=prior_since)


def _web_url(value: str | None) -> str:
    """A link we may put in an href: only http(s) addresses, never `javascript:` and the like."""
    return value if value and value.startswith(("https://", "http://")) else ""


# What recording a created invoice changes on its row (the audit trail keeps the fields it
# tracks of these: not the links).
CREATED_FIELDS = (
    "state",
    "error",
    "uncertain_since",
    "fakturoid_id",
    "number",
    "status",
    "html_url",
    "public_html_url",
    "pdf_url",
    "subtotal",
    "total",
    "currency",
)


def _record_created(
    invoice: Invoice, document: InvoiceDocument, then: OnCreated | None = None
) -> Invoice:
    """Record Fakturoid's document on the claimed row: one UPDATE and its activity entry, in
    one transaction with `then(invoice)` (a month-end run closes its item there)."""
    before = {name: getattr(invoice, name) for name in CREATED_FIELDS}
    invoice.state = Invoice.State.CREATED
    invoice.error = ""
    invoice.uncertain_since = None
    invoice.fakturoid_id = document.id
    invoice.number = document.number or ""
    invoice.status = document.status or ""
    invoice.html_url = _web_url(document.html_url)
    invoice.public_html_url = _web_url(document.public_html_url)
    invoice.pdf_url = _web_url(document.pdf_url)
    invoice.subtotal = document.subtotal
    invoice.total = document.total
    invoice.currency = document.currency or invoice.currency
    invoice.updated_at = timezone.now()
    after = {name: getattr(invoice, name) for name in CREATED_FIELDS}
    with transaction.atomic():
        Invoice.objects.filter(pk=invoice.pk).update(updated_at=invoice.updated_at, **after)
        # A queryset update sends no signals: the trail is given the change itself.
        ActivityEntry.objects.record_update(
            invoice,
            {name: (before[name], after[name]) for name in after if before[name] != after[name]},
        )
        if then is not None:
            then(invoice)
    return invoice


def _record_found(
    invoice: Invoice, found: list[InvoiceDocument], then: OnCreated | None = None
) -> Invoice:
    """The look-up found the invoice: record the first, and any further copy as a duplicate."""
    _record_created(invoice, min(found, key=lambda document: document.id), then)
    note_duplicates(agency=invoice.agency, documents=found)
    invoice.refresh_from_db()
    return invoice


def _record_failure(invoice: Invoice, *, state: str, error: FakturoidError) -> None:
    invoice.state = state
    invoice.error = explain(error)
    invoice.uncertain_since = timezone.now() if state == Invoice.State.UNKNOWN else None
    invoice.save(update_fields=["state", "error", "uncertain_since", "updated_at"])


def _mark_unknown(invoice: Invoice) -> None:
    Invoice.objects.filter(pk=invoice.pk).update(
        state=Invoice.State.UNKNOWN, uncertain_since=timezone.now()
    )


def create_invoice(
    *,
    client: Client,
    period: date,
    user,  # noqa: ANN001
    fakturoid_api: FakturoidClient | None = None,
    then: OnCreated | None = None,
) -> Invoice:
    """Create the client's invoice for `period` in Fakturoid, exactly once.

    The local row (unique custom_id, one live row per client and month) is claimed before the
    POST, so a second click or browser gets AlreadyInvoiced. After an attempt whose outcome is
    unknown (timeout, lost response, a request that died) nothing is sent before the settle
    time has passed (NotSettled until then), and then the invoice is looked up by custom_id
    before anything is POSTed again; a look-up that fails keeps it uncertain (LookupFailed).
    `fakturoid_api` lets a background worker pass its own client (its session, its pacing);
    `then(invoice)` runs in the transaction that records the created invoice.
    Returns the created Invoice. Raises AlreadyInvoiced, NotSettled, LookupFailed,
    NothingToBill, ConfigurationError or the FakturoidError that stopped it (the row then
    records it as failed or unknown).
    """
    draft = build_invoice(client=client, period=period)
    claim = claim_invoice(draft=draft, user=user)
    return complete_claim(claim, fakturoid_api=fakturoid_api, then=then)


def complete_claim(
    claim: Claim, *, fakturoid_api: FakturoidClient | None = None, then: OnCreated | None = None
) -> Invoice:
    """Look the claimed invoice up when it may exist, else POST it; record what happened (the
    second half of `create_invoice`, which says what it returns and raises)."""
    invoice = claim.invoice
    fakturoid_api = fakturoid_api or FakturoidClient.for_agency(invoice.agency)
    if claim.needs_lookup:
        try:
            found = fakturoid_api.find_invoices(custom_id=invoice.custom_id)
        except BaseException as error:
            _put_back(claim, error)
            if isinstance(error, FakturoidError):
                raise LookupFailed(invoice, error) from error
            raise
        if found:
            return _record_found(invoice, found, then)
    try:
        document = fakturoid_api.create_invoice(claim.payload)
    except FakturoidError as error:
        if not error.maybe_processed:
            _record_failure(invoice, state=Invoice.State.FAILED, error=error)
            raise
        return _recover(invoice, fakturoid_api, error, then)
    except BaseException:
        # Anything unexpected: the POST may or may not have happened; the next click looks up.
        _mark_unknown(invoice)
        raise
    return _record_created(invoice, document, then)


def _put_back(claim: Claim, error: BaseException) -> None:
    """The look-up before a new POST could not be made: nothing was sent by this attempt, so
    the row says again what it said before (a failed row stays failed; an uncertain one stays
    uncertain, never "failed": the invoice may exist)."""
    state = claim.prior_state
    if state == Invoice.State.PENDING:
        state = Invoice.State.UNKNOWN
    message = explain(error) if isinstance(error, FakturoidError) else ""
    Invoice.objects.filter(pk=claim.invoice.pk).update(
        state=state, uncertain_since=claim.prior_since, error=message
    )


def _recover(
    invoice: Invoice,
    fakturoid_api: FakturoidClient,
    error: FakturoidError,
    then: OnCreated | None = None,
) -> Invoice:
    """The POST may have been carried out: look it up before saying anything."""
    try:
        found = fakturoid_api.find_invoices(custom_id=invoice.custom_id)
    except FakturoidError:
        found = []
    if found:
        logger.info("Invoice %s was created despite %s", invoice.custom_id, type(error).__name__)
        return _record_found(invoice, found, then)
    _record_failure(invoice, state=Invoice.State.UNKNOWN, error=error)
    raise error


def reissue_invoice(*, invoice: Invoice, user) -> Invoice:  # noqa: ANN001
    """Issue the month of `invoice` again, after it was deleted or cancelled in Fakturoid.

    The old row stays as history (`replaced`); the new one gets the next custom_id (`-2`, `-3`,
    …) and is claimed in the same transaction, so of simultaneous confirmations exactly one
    creates an invoice. Returns the new Invoice. Raises AlreadyInvoiced (the month was issued
    again already, or the invoice is not deleted or cancelled), NothingToBill,
    ConfigurationError or the FakturoidError that stopped it.
    """
    draft = build_invoice(client=invoice.client, period=invoice.period)
    with transaction.atomic():
        replaceable = Invoice.objects.filter(
            pk=invoice.pk,
            replaced=False,
            state=Invoice.State.CREATED,
            status__in=[Invoice.Status.DELETED, Invoice.Status.CANCELLED],
        )
        if not replaceable.update(replaced=True, updated_at=timezone.now()):
            months = Invoice.objects.filter(client=invoice.client, period=invoice.period)
            raise AlreadyInvoiced(months.live().first() or invoice)
        new = Invoice.objects.create(
            agency=invoice.agency,
            client=invoice.client,
            period=invoice.period,
            custom_id=invoice.reissue_custom_id(),
            state=Invoice.State.PENDING,
            currency=draft.currency,
            lines=draft.payload["lines"],
            created_by=user,
            uncertain_since=timezone.now(),
        )
    payload = draft.payload | {"custom_id": new.custom_id}
    return complete_claim(Claim(new, payload, needs_lookup=False))
