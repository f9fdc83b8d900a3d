"""Fakturoid work that crosses apps: verifying a connection, linking clients to contacts,
building invoices from our data and creating them exactly once.

Views call these functions and catch only `FakturoidError` subclasses; `explain()` turns any of
them into a sentence a person can act on.
"""

import logging
import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from agencies.models import Agency, FakturoidSettings
from clients.models import BillingItem, Client
from clients.months import first_day, format_month, last_day, previous_month
from fakturoid import client as api
from fakturoid.models import Invoice, invoice_custom_id

logger = logging.getLogger(__name__)

CENT = Decimal("0.01")
# A pending claim older than this belongs to a request that died mid-way: it may be taken over
# (after looking the invoice up in Fakturoid). Longer than any request may take.
STALE_CLAIM = timedelta(minutes=2)


class NoAccessToAccount(api.FakturoidError):
    """The credentials work, but not for the organisation the agency typed."""

    def __init__(self, slug: str, available: list[str]) -> None:
        self.slug = slug
        self.available = available
        names = ", ".join(f'"{name}"' for name in available) or _("none")
        super().__init__(
            _('These credentials have no access to "%(slug)s". They reach: %(names)s.')
            % {"slug": slug, "names": names},
            status=None,
        )


class NothingToBill(api.FakturoidError):
    """The client has no billable items in the month: no invoice is made."""


class AlreadyInvoiced(api.FakturoidError):
    """The client already has its invoice for the month (or one is being created right now)."""

    def __init__(self, invoice: Invoice) -> None:
        self.invoice = invoice
        if invoice.state == Invoice.State.PENDING:
            message = _("The invoice of %(client)s for %(period)s is being created right now.")
        else:
            message = _("%(client)s is already invoiced for %(period)s: invoice %(number)s.")
        super().__init__(
            message
            % {
                "client": invoice.client.name,
                "period": invoice.period_label,
                "number": invoice.number,
            },
            status=None,
        )


def fakturoid_for(agency: Agency) -> FakturoidSettings:
    """The agency's configured Fakturoid settings; raises ConfigurationError when not set up."""
    fakturoid = agency.fakturoid_settings
    if fakturoid is None or not fakturoid.is_configured:
        raise api.ConfigurationError(
            _(
                "Fakturoid is not set up for this agency: "
                "an owner can do it in Settings → Fakturoid."
            )
        )
    return fakturoid


FAKTUROID_WEB = "https://app.fakturoid.cz"


def web_url() -> str:
    """Where Fakturoid's web pages are: the API address without /api/v3 (the real service,
    or the local sandbox's pages)."""
    return settings.FAKTUROID_API_URL.rstrip("/").removesuffix("/api/v3")


def explain(error: api.FakturoidError) -> str:
    """A sentence for the user: what went wrong and what to do about it."""
    if isinstance(error, api.ValidationFailed):
        details = "; ".join(
            f"{field}: {', '.join(str(m) for m in messages)}"
            for field, messages in error.errors.items()
        )
        return _("Fakturoid refused the data: %(details)s") % {"details": details or error.message}
    if isinstance(error, api.AuthenticationError):
        return _(
            "Fakturoid did not accept the Client ID or Secret ID. An owner can fix them in "
            "Settings → Fakturoid."
        )
    if isinstance(error, api.AccountBlocked):
        return _(
            "The Fakturoid account is blocked (unpaid Fakturoid subscription). Pay it in "
            "Fakturoid, then try again."
        )
    if isinstance(error, api.Forbidden):
        bank = error.errors.get("bank_account")
        if bank:
            # Fakturoid's message links its own settings page; the sandbox has its own copy.
            details = " ".join(bank).replace(FAKTUROID_WEB, web_url())
            return _("Fakturoid needs a bank account first: %(details)s") % {"details": details}
        return _("Fakturoid refused the request: %(details)s") % {"details": error.message}
    if isinstance(error, api.RateLimited):
        return _("Fakturoid's request limit is used up. Try again in %(seconds)s s.") % {
            "seconds": error.retry_after if error.retry_after is not None else 60
        }
    if isinstance(error, api.NotFound):
        return _("Fakturoid does not know this record: %(details)s") % {"details": error.message}
    if isinstance(error, api.Unavailable | api.NetworkError | api.InvalidResponse):
        return _(
            "Fakturoid could not be reached or answered nonsense (%(details)s). Try again."
        ) % {"details": error.message.rstrip(".")}
    return error.message


# --- Settings → Fakturoid -------------------------------------------------------------------


def verify_connection(*, fakturoid: FakturoidSettings) -> api.Account:
    """Check the credentials end to end and record what Fakturoid says about the account.

    Token → GET /user.json must list the organisation → GET account.json. On success the
    account name, VAT mode and currency are set on `fakturoid` (not saved: the caller saves).
    Raises AuthenticationError (wrong Client ID/Secret ID), NoAccessToAccount, AccountBlocked,
    NetworkError/Unavailable (unreachable) or another FakturoidError.
    """
    fakturoid_api = api.FakturoidClient(fakturoid)
    user = fakturoid_api.get_user()
    slugs = [account.slug for account in user.accounts]
    if fakturoid.account_slug not in slugs:
        raise NoAccessToAccount(fakturoid.account_slug, slugs)
    account = fakturoid_api.get_account()
    fakturoid.account_name = account.name or ""
    fakturoid.vat_mode = account.vat_mode or ""
    fakturoid.currency = account.currency or ""
    fakturoid.verified_at = timezone.now()
    return account


class SavedUnverified(api.FakturoidError):
    """The settings were saved, but Fakturoid could not be asked whether they work."""

    def __init__(self, cause: api.FakturoidError) -> None:
        self.cause = cause
        super().__init__(explain(cause), status=cause.status)


def connect(*, fakturoid: FakturoidSettings, credentials_changed: bool) -> None:
    """Verify the settings an owner entered, then save them with what Fakturoid told us.

    Verification runs on an unsaved copy, so wrong credentials never replace working ones and
    never touch the stored token. Raises AuthenticationError, NoAccessToAccount, AccountBlocked
    or ConfigurationError without saving; when Fakturoid cannot be reached the settings are
    saved as not verified and SavedUnverified is raised.
    """
    # agency_id, not agency: assigning the agency would make `agency.fakturoid` the probe.
    probe = FakturoidSettings(
        agency_id=fakturoid.agency_id,
        account_slug=fakturoid.account_slug,
        api_client_id=fakturoid.api_client_id,
        api_client_secret=fakturoid.api_client_secret,
        contact_email=fakturoid.contact_email,
    )
    try:
        verify_connection(fakturoid=probe)
    except (api.NetworkError, api.Unavailable, api.InvalidResponse, api.RateLimited) as error:
        if credentials_changed:
            fakturoid.forget_connection()
        fakturoid.save()
        raise SavedUnverified(error) from error
    for field in ("account_name", "vat_mode", "currency", "verified_at"):
        setattr(fakturoid, field, getattr(probe, field))
    # The probe's token is the newest one (a new token may invalidate older ones): keep it.
    fakturoid.access_token = probe.access_token
    fakturoid.token_expires_at = probe.token_expires_at
    fakturoid.save()


SLUG_IN_URL = re.compile(r"^(?:https?://)?[^/]*fakturoid\.cz/(?:api/v\d/accounts/)?([^/?#]+)")


def parse_account_slug(value: str) -> str:
    """'mojefirma' or a pasted 'https://app.fakturoid.cz/mojefirma/invoices' → 'mojefirma'."""
    value = value.strip()
    match = SLUG_IN_URL.match(value)
    if match:
        value = match[1]
    return value.strip("/").lower()


# --- Linking clients to Fakturoid contacts --------------------------------------------------


@dataclass(frozen=True)
class MatchResult:
    """Contacts found for a client and the criterion that found them (None: nothing found)."""

    subjects: tuple[api.Subject, ...]
    matched_on: str | None

    @property
    def is_unique(self) -> bool:
        return len(self.subjects) == 1


def _normalise_name(value: str | None) -> str:
    return " ".join((value or "").split()).casefold()


def _normalise_code(value: str | None) -> str:
    return re.sub(r"\s+", "", value or "").upper()


def find_subjects(
    *, client: Client, fakturoid_api: api.FakturoidClient | None = None
) -> MatchResult:
    """Search the agency's Fakturoid contacts for `client`: by IČO, then DIČ, then billing
    e-mail, then exact name (case- and space-insensitive). The first criterion with hits wins.

    Raises FakturoidError subclasses from the API.
    """
    fakturoid_api = fakturoid_api or api.FakturoidClient(fakturoid_for(client.agency))
    email = client.email.strip().casefold()
    criteria = [
        (
            Client.LinkSource.REGISTRATION_NO,
            client.registration_no,
            lambda s: _normalise_code(s.registration_no) == _normalise_code(client.registration_no),
        ),
        (
            Client.LinkSource.VAT_NO,
            client.vat_no,
            lambda s: _normalise_code(s.vat_no) == _normalise_code(client.vat_no),
        ),
        (
            Client.LinkSource.EMAIL,
            client.email,
            lambda s: email in {(s.email or "").strip().casefold()},
        ),
        (
            Client.LinkSource.NAME,
            client.name,
            lambda s: _normalise_name(s.name) == _normalise_name(client.name),
        ),
    ]
    for source, value, matches in criteria:
        if not value or not value.strip():
            continue
        query = value.strip() if source != Client.LinkSource.NAME else " ".join(value.split())
        hits = tuple(s for s in fakturoid_api.search_subjects(query) if matches(s))
        if hits:
            return MatchResult(hits, source)
    return MatchResult((), None)


def link_client(*, client: Client, subject_id: int, source: str) -> api.Subject:
    """Check that contact `subject_id` exists in Fakturoid and link the client to it.

    Returns the contact. Raises NotFound for an unknown id, or another FakturoidError.
    """
    subject = api.FakturoidClient(fakturoid_for(client.agency)).get_subject(subject_id)
    client.fakturoid_subject_id = subject.id
    client.fakturoid_link_source = source
    client.save(update_fields=["fakturoid_subject_id", "fakturoid_link_source", "updated_at"])
    return subject


def match_client(
    *, client: Client, fakturoid_api: api.FakturoidClient | None = None
) -> MatchResult:
    """Find the client's contact and link it when exactly one matches. Returns the result."""
    result = find_subjects(client=client, fakturoid_api=fakturoid_api)
    if result.is_unique:
        client.fakturoid_subject_id = result.subjects[0].id
        client.fakturoid_link_source = result.matched_on
        client.save(update_fields=["fakturoid_subject_id", "fakturoid_link_source", "updated_at"])
    return result


def subject_custom_id(client: Client) -> str:
    return f"{client.agency.key}-c{client.pk}"


def create_subject_for(*, client: Client) -> api.Subject:
    """Create the client's contact in Fakturoid from our billing details and link it.

    The contact's custom_id is made from the agency key and client id, so when it already
    exists (a second click, or a lost response) that contact is reused instead of a duplicate.
    Raises ValidationFailed (e.g. a name Fakturoid refuses) or another FakturoidError.
    """
    fakturoid_api = api.FakturoidClient(fakturoid_for(client.agency))
    custom_id = subject_custom_id(client)
    existing = fakturoid_api.list_subjects(custom_id=custom_id)
    if existing:
        subject = existing[0]
    else:
        data = {
            "custom_id": custom_id,
            "name": client.name,
            "registration_no": client.registration_no or None,
            "vat_no": client.vat_no or None,
            "street": client.street or None,
            "city": client.city or None,
            "zip": client.zip or None,
            "country": client.country or None,
            "email": client.email or None,
            "phone": client.phone or None,
            "currency": client.currency or None,
        }
        try:
            subject = fakturoid_api.create_subject({k: v for k, v in data.items() if v})
        except (api.NetworkError, api.Unavailable) as error:
            if not error.maybe_processed:
                raise
            existing = fakturoid_api.list_subjects(custom_id=custom_id)
            if not existing:
                raise
            subject = existing[0]
    client.fakturoid_subject_id = subject.id
    client.fakturoid_link_source = Client.LinkSource.CREATED
    client.save(update_fields=["fakturoid_subject_id", "fakturoid_link_source", "updated_at"])
    return subject


@dataclass(frozen=True)
class BulkMatchRow:
    client: Client
    outcome: str  # "linked", "ambiguous", "not_found", "error"
    detail: str


def match_unlinked_clients(*, agency: Agency) -> list[BulkMatchRow]:
    """Try automatic matching for every client of the agency without a Fakturoid contact.

    Returns one row per client: linked (with what it matched on), ambiguous (how many
    candidates), not found, or error (the explained FakturoidError). Raises ConfigurationError
    when Fakturoid is not set up.
    """
    # One client object for the whole run: one connection, one token read.
    fakturoid_api = api.FakturoidClient(fakturoid_for(agency))
    rows = []
    for client in Client.objects.for_agency(agency).filter(fakturoid_subject_id__isnull=True):
        try:
            result = match_client(client=client, fakturoid_api=fakturoid_api)
        except api.FakturoidError as error:
            rows.append(BulkMatchRow(client, "error", explain(error)))
            if isinstance(error, api.AuthenticationError | api.AccountBlocked | api.RateLimited):
                break
            continue
        if result.is_unique:
            label = Client.LinkSource(result.matched_on).label
            rows.append(BulkMatchRow(client, "linked", f"#{result.subjects[0].id} ({label})"))
        elif result.subjects:
            count = len(result.subjects)
            rows.append(BulkMatchRow(client, "ambiguous", _("%(n)s candidates") % {"n": count}))
        else:
            rows.append(BulkMatchRow(client, "not_found", ""))
    return rows


# --- Invoices -------------------------------------------------------------------------------


def default_period(agency: Agency, *, today: date | None = None) -> date:
    """The month the invoice icon bills unless the user picks another: per the agency setting."""
    this_month = first_day(today or timezone.localdate())
    fakturoid = agency.fakturoid_settings
    if (
        fakturoid is not None
        and fakturoid.default_period == FakturoidSettings.DefaultPeriod.CURRENT
    ):
        return this_month
    return previous_month(this_month)


@dataclass(frozen=True)
class InvoiceLine:
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
    lines: tuple[InvoiceLine, ...]
    currency: str
    payload: dict

    @property
    def subtotal(self) -> Decimal:
        return sum((line.unit_price for line in self.lines), Decimal("0.00"))

    @property
    def vat(self) -> Decimal:
        return sum((line.vat for line in self.lines), Decimal("0.00"))

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.vat


def build_invoice(*, client: Client, period: date, today: date | None = None) -> InvoiceDraft:
    """The invoice for `client` and month `period` from our data, per DESIGN "Invoice content".

    One line per monthly item running in the month and per one-off item of the month, of every
    active project. No VAT rates when the Fakturoid account is not a VAT payer.
    Raises ConfigurationError (Fakturoid not set up or client not linked) or NothingToBill.
    """
    fakturoid = fakturoid_for(client.agency)
    if not client.fakturoid_subject_id:
        raise api.ConfigurationError(
            _("%(client)s is not linked to a Fakturoid contact yet.") % {"client": client.name}
        )
    period = first_day(period)
    items = (
        BillingItem.objects.for_month(period)
        .filter(project__client=client, project__active=True)
        .select_related("project")
        .order_by("project__name", "project_id", "kind", "description", "pk")
    )
    label = format_month(period)
    lines = tuple(
        InvoiceLine(
            name=f"{item.project.name} – {item.description} ({label})",
            unit_price=item.amount,
            vat_rate=item.vat_rate if fakturoid.is_vat_payer else None,
        )
        for item in items
    )
    if not lines:
        raise NothingToBill(
            _("%(client)s has nothing to bill for %(period)s.")
            % {"client": client.name, "period": label}
        )
    issued_on = today or timezone.localdate()
    payload = {
        "custom_id": invoice_custom_id(agency=client.agency, client_id=client.pk, period=period),
        "subject_id": client.fakturoid_subject_id,
        "issued_on": issued_on.isoformat(),
        "taxable_fulfillment_due": last_day(period).isoformat(),
        "due": fakturoid.due_days,
        "currency": client.currency,
        "note": _("Invoice for services in %(period)s.") % {"period": label},
        "lines": [line.as_payload() for line in lines],
    }
    return InvoiceDraft(client, period, lines, client.currency, payload)


def _claim(*, draft: InvoiceDraft, user) -> tuple[Invoice, bool]:  # noqa: ANN001
    """Claim the local invoice row before anything is sent.

    Returns (invoice, needs_lookup): needs_lookup is True when an earlier attempt may already
    have created the invoice in Fakturoid. Raises AlreadyInvoiced when the invoice exists or
    another request is creating it right now.
    """
    client = draft.client
    custom_id = draft.payload["custom_id"]
    fields = {
        "agency": client.agency,
        "client": client,
        "period": draft.period,
        "state": Invoice.State.PENDING,
        "currency": draft.currency,
        "lines": draft.payload["lines"],
        "created_by": user,
    }
    try:
        with transaction.atomic():
            return Invoice.objects.create(custom_id=custom_id, **fields), False
    except IntegrityError:
        pass
    invoice = Invoice.objects.select_related("client").get(custom_id=custom_id)
    retryable = Invoice.objects.filter(
        Q(state__in=[Invoice.State.FAILED, Invoice.State.UNKNOWN])
        | Q(state=Invoice.State.PENDING, updated_at__lt=timezone.now() - STALE_CLAIM),
        pk=invoice.pk,
    )
    # Compare-and-set: of several simultaneous retries exactly one moves the row to pending.
    taken = retryable.update(
        state=Invoice.State.PENDING,
        error="",
        lines=fields["lines"],
        currency=fields["currency"],
        created_by=user,
        updated_at=timezone.now(),
    )
    if not taken:
        invoice.refresh_from_db()
        raise AlreadyInvoiced(invoice)
    invoice.refresh_from_db()
    return invoice, True


def _web_url(value: str | None) -> str:
    """A link we may put in an href: only http(s) addresses, never `javascript:` and the like."""
    return value if value and value.startswith(("https://", "http://")) else ""


def _record_created(invoice: Invoice, document: api.Invoice) -> Invoice:
    invoice.state = Invoice.State.CREATED
    invoice.error = ""
    invoice.fakturoid_id = document.id
    invoice.number = document.number or ""
    invoice.status = document.status or ""
    invoice.html_url = _web_url(document.html_url)
    invoice.public_html_url = _web_url(document.public_html_url)
    invoice.pdf_url = _web_url(document.pdf_url)
    invoice.subtotal = document.subtotal
    invoice.total = document.total
    invoice.currency = document.currency or invoice.currency
    invoice.save()
    return invoice


def _record_failure(invoice: Invoice, *, state: str, error: api.FakturoidError) -> None:
    invoice.state = state
    invoice.error = explain(error)
    invoice.save(update_fields=["state", "error", "updated_at"])


def create_invoice(*, client: Client, period: date, user) -> Invoice:  # noqa: ANN001
    """Create the client's invoice for `period` in Fakturoid, exactly once.

    The local row (unique custom_id) is claimed before the POST, so a second click or browser
    gets AlreadyInvoiced. After an attempt whose outcome is unknown (timeout, lost response)
    the invoice is looked up by custom_id before anything is POSTed again.
    Returns the created Invoice. Raises AlreadyInvoiced, NothingToBill, ConfigurationError or
    the FakturoidError that stopped it (the row then records it as failed or unknown).
    """
    draft = build_invoice(client=client, period=period)
    invoice, needs_lookup = _claim(draft=draft, user=user)
    fakturoid_api = api.FakturoidClient(fakturoid_for(client.agency))
    try:
        if needs_lookup:
            found = fakturoid_api.find_invoices(custom_id=invoice.custom_id)
            if found:
                return _record_created(invoice, found[0])
        document = fakturoid_api.create_invoice(draft.payload)
    except api.FakturoidError as error:
        if not error.maybe_processed:
            _record_failure(invoice, state=Invoice.State.FAILED, error=error)
            raise
        return _recover(invoice, fakturoid_api, error)
    except BaseException:
        # Anything unexpected: the POST may or may not have happened; the next click looks up.
        Invoice.objects.filter(pk=invoice.pk).update(state=Invoice.State.UNKNOWN)
        raise
    return _record_created(invoice, document)


def _recover(invoice: Invoice, fakturoid_api: api.FakturoidClient, error: api.FakturoidError):
    """The POST may have been carried out: look it up before saying anything."""
    try:
        found = fakturoid_api.find_invoices(custom_id=invoice.custom_id)
    except api.FakturoidError:
        found = []
    if found:
        logger.info("Invoice %s was created despite %s", invoice.custom_id, type(error).__name__)
        return _record_created(invoice, found[0])
    _record_failure(invoice, state=Invoice.State.UNKNOWN, error=error)
    raise error


# --- After creation: status and PDF ---------------------------------------------------------

# Statuses after which an invoice does not change by itself any more.
SETTLED = {Invoice.Status.PAID, Invoice.Status.CANCELLED, Invoice.Status.UNCOLLECTIBLE}
# Leave this many requests of the rate-limit window to the people clicking invoice icons.
RATE_LIMIT_RESERVE = 20


def refresh_statuses(*, agency: Agency, period: date) -> int:
    """Bring back from Fakturoid the status (open, sent, overdue, paid, ...) of the agency's
    created invoices of `period` that are not settled yet. Returns how many were checked.

    Stops early, keeping what it learnt, when the rate-limit budget runs low. Raises
    ConfigurationError or the FakturoidError that stopped it.
    """
    fakturoid_api = api.FakturoidClient(fakturoid_for(agency))
    invoices = (
        Invoice.objects.for_agency(agency)
        .filter(period=first_day(period), state=Invoice.State.CREATED)
        .exclude(status__in=SETTLED)
        .exclude(fakturoid_id=None)
    )
    checked = 0
    for invoice in invoices:
        document = fakturoid_api.get_invoice(invoice.fakturoid_id)
        Invoice.objects.filter(pk=invoice.pk).update(
            status=document.status or "", total=document.total, updated_at=timezone.now()
        )
        checked += 1
        budget = fakturoid_api.rate_limit
        if budget is not None and budget.remaining is not None:
            if budget.remaining < RATE_LIMIT_RESERVE:
                break
    return checked


def invoice_pdf(*, invoice: Invoice) -> bytes | None:
    """The created invoice's PDF from Fakturoid, or None while Fakturoid is generating it.

    Raises ConfigurationError, NotFound or another FakturoidError.
    """
    if invoice.fakturoid_id is None:
        raise api.NotFound(_("This invoice was not created in Fakturoid."))
    return api.FakturoidClient(fakturoid_for(invoice.agency)).download_invoice_pdf(
        invoice.fakturoid_id
    )
