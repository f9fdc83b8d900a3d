"""What the app does with the public registers: ARES prefill and check, VIES check, ČNB rates.

The HTTP and parsing live in `registries.ares`, `registries.vies` and `registries.cnb`; this
module compares, stores and caches.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from django.db import transaction
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from agencies.models import Agency
from clients.models import Client
from registries import ares, cnb, errors, vies
from registries.ares import AresError, AresSubject
from registries.models import ExchangeRate
from registries.vies import ViesError

# The billing details ARES knows, in the order the client form shows them.
ARES_FIELDS = ("name", "vat_no", "street", "city", "zip", "country")
HOUSE_NUMBER_RE = re.compile(r"^(?P<place>.*?)\s+(?P<number>\d+[a-zA-Z]?(?:/\d+[a-zA-Z]?)?)$")


@dataclass(frozen=True)
class FieldChange:
    field: str
    label: str
    current: str
    proposed: str


@dataclass(frozen=True)
class AresProposal:
    """What filling the form from ARES would change (only fields ARES has a value for)."""

    subject: AresSubject
    changes: tuple[FieldChange, ...]

    @property
    def values(self) -> dict[str, str]:
        return {change.field: change.proposed for change in self.changes}


def _squash(value: str) -> str:
    return " ".join(value.split()).casefold()


def _same_street(ours: str, theirs: str) -> bool:
    """ "Lidická 42" is the same place as ARES's "Lidická 700/42": people write either the
    orientation or the descriptive number, ARES writes both."""
    if _squash(ours) == _squash(theirs):
        return True
    mine, registered = HOUSE_NUMBER_RE.match(ours.strip()), HOUSE_NUMBER_RE.match(theirs.strip())
    if not mine or not registered or _squash(mine["place"]) != _squash(registered["place"]):
        return False
    numbers = registered["number"].lower().split("/")
    return mine["number"].lower() in numbers


def same_value(field: str, ours: str, theirs: str) -> bool:
    """Whether our value of a billing detail says what ARES says, ignoring spacing and case."""
    if field == "street":
        return _same_street(ours, theirs)
    if field == "zip":
        return ours.replace(" ", "") == theirs.replace(" ", "")
    return _squash(ours) == _squash(theirs)


def _changes(subject: AresSubject, current: Mapping[str, str]) -> tuple[FieldChange, ...]:
    changes = []
    for field in ARES_FIELDS:
        proposed = getattr(subject, field)
        ours = str(current.get(field) or "")
        if proposed and not same_value(field, ours, proposed):
            label = capfirst(str(Client._meta.get_field(field).verbose_name))
            changes.append(FieldChange(field, label, ours, proposed))
    return tuple(changes)


def prefill_from_ares(*, ico: str, current: Mapping[str, str]) -> AresProposal:
    """The billing details ARES registers under `ico`, as changes to the `current` values
    (the form as typed: nothing is saved). Raises AresError."""
    subject = ares.get_subject(ico)
    return AresProposal(subject=subject, changes=_changes(subject, current))


@dataclass(frozen=True)
class AresFinding:
    """One client compared with ARES: what differs, whether the company is dissolved, or why
    it could not be compared."""

    client: Client
    changes: tuple[FieldChange, ...] = ()
    dissolved_on: date | None = None
    error: AresError | None = None

    @property
    def renamed(self) -> bool:
        return any(change.field == "name" for change in self.changes)

    @property
    def moved(self) -> bool:
        return any(change.field in ("street", "city", "zip", "country") for change in self.changes)


@dataclass(frozen=True)
class AresReport:
    findings: tuple[AresFinding, ...]  # only clients with something to say
    checked: int  # clients ARES answered for
    skipped: int  # clients without a Czech IČO
    stopped: AresError | None  # ARES failed for everyone: the rest was not asked


def check_all_clients_against_ares(*, agency: Agency) -> AresReport:
    """Compare every Czech client of `agency` that has an IČO with ARES.

    A client ARES does not know is a finding; when ARES itself is down or slow the check stops
    at once (asking again for every client would only multiply the wait) and says so.
    """
    findings: list[AresFinding] = []
    checked = skipped = 0
    for client in Client.objects.for_agency(agency).order_by("name", "pk"):
        # ARES registers Czech companies only: a Slovak IČO would come back "unknown".
        if not client.registration_no or client.country != "CZ":
            skipped += 1
            continue
        try:
            subject = ares.get_subject(client.registration_no)
        except AresError as error:
            if error.transient:
                return AresReport(tuple(findings), checked, skipped, stopped=error)
            findings.append(AresFinding(client, error=error))
            continue
        checked += 1
        current = {field: getattr(client, field) for field in ARES_FIELDS}
        changes = _changes(subject, current)
        if changes or subject.dissolved:
            findings.append(AresFinding(client, changes, dissolved_on=subject.dissolved_on))
    return AresReport(tuple(findings), checked, skipped, stopped=None)


def check_vat_number(*, client: Client) -> Client.ViesStatus:
    """Check the client's DIČ in VIES and store the result with today's date on the client.

    Returns the stored status. When VIES cannot answer, a definite earlier result for the same
    number is kept (a VIES outage must not turn a confirmed VAT payer into an unknown one),
    otherwise "could not be checked" is stored; then the ViesError is raised for its message.
    """
    if not client.vat_no:
        raise ViesError(
            _("%(client)s has no DIČ to check.") % {"client": client.name},
            code=errors.REFUSED,
            transient=False,
        )
    vat_no = client.vat_no
    try:
        result = vies.check_vat_number(vat_no)
    except ViesError as error:
        if error.code == errors.REFUSED:
            _store_vies(client, vat_no, Client.ViesStatus.INVALID)
        elif not (client.vies_current and client.vies_status != Client.ViesStatus.UNAVAILABLE):
            _store_vies(client, vat_no, Client.ViesStatus.UNAVAILABLE)
        raise
    status = Client.ViesStatus.VALID if result.valid else Client.ViesStatus.INVALID
    _store_vies(client, vat_no, status)
    return status


def _store_vies(client: Client, vat_no: str, status: str) -> None:
    client.vies_status = status
    client.vies_vat_no = vat_no
    client.vies_checked_at = timezone.now()
    client.save(update_fields=["vies_status", "vies_vat_no", "vies_checked_at", "updated_at"])


def exchange_rate(*, currency: str, on: date) -> ExchangeRate:
    """ČNB's rate of `currency` for the day `on`: the one published that day, or the last one
    before it (weekends, holidays). Raises CnbError.

    Kept in our database per day: the first question about a day fetches ČNB's file once and
    stores every currency in it, so a month-end run over many clients asks ČNB once. A day
    whose own rates are not out yet (today before 14:30, a future day) is not stored.
    """
    cached = ExchangeRate.objects.filter(day=on, currency=currency).first()
    if cached is not None:
        return cached
    table = cnb.get_rates(on)
    if table.published_on > on:
        raise cnb.CnbError(
            _("The Czech National Bank sent exchange rates we cannot read. Try again later."),
            code=errors.MALFORMED,
            transient=True,
        )
    rows = {
        code: ExchangeRate(
            day=on,
            currency=code,
            published_on=table.published_on,
            quantity=rate.quantity,
            rate=rate.rate,
        )
        for code, rate in table.rates.items()
    }
    if table.published_on == on or on < timezone.localdate():
        with transaction.atomic():
            # Two processes asking about the same day both store it; the second adds nothing.
            ExchangeRate.objects.bulk_create(rows.values(), ignore_conflicts=True)
    if currency not in rows:
        raise cnb.CnbError(
            _("The Czech National Bank publishes no daily rate for %(currency)s.")
            % {"currency": currency},
            code=errors.NOT_FOUND,
            transient=False,
        )
    return rows[currency]
