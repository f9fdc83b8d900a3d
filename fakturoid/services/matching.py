"""Linking our clients to Fakturoid contacts: typed by hand, matched automatically, or
created from our billing details."""

import re
from dataclasses import dataclass

from django.utils.translation import gettext as _

from agencies.models import Agency
from clients.models import Client
from fakturoid.client import FakturoidClient
from fakturoid.documents import Subject
from fakturoid.errors import (
    AccountBlocked,
    AlreadyLinked,
    AuthenticationError,
    FakturoidError,
    NetworkError,
    RateLimited,
    Unavailable,
    explain,
)


def check_subject(*, agency: Agency, subject_id: int) -> Subject:
    """The agency's Fakturoid contact `subject_id`: the one check of a typed Client ID.

    Raises NotFound for an unknown id, ConfigurationError, or another FakturoidError.
    """
    return FakturoidClient.for_agency(agency).get_subject(subject_id)


def link_client(*, client: Client, subject_id: int, source: str) -> Subject:
    """Check that contact `subject_id` exists in Fakturoid and link the client to it.

    Returns the contact. Raises NotFound for an unknown id, or another FakturoidError.
    """
    subject = check_subject(agency=client.agency, subject_id=subject_id)
    client.link_to_contact(subject.id, source=source)
    return subject


# Found on these, a contact is certainly the client's company; on e-mail or name it may not be
# (a shared accountant's e-mail, a namesake): the user confirms.
CERTAIN_SOURCES = (Client.LinkSource.REGISTRATION_NO, Client.LinkSource.VAT_NO)


@dataclass(frozen=True)
class MatchResult:
    """Contacts found for a client and the criterion that found them (None: nothing found).

    `subjects` are the candidates; `conflicts` were found too but carry an IČO or DIČ other
    than the client's, so they are never linked automatically.
    """

    subjects: tuple[Subject, ...]
    matched_on: str | None
    conflicts: tuple[Subject, ...] = ()

    @property
    def is_unique(self) -> bool:
        return len(self.subjects) == 1

    @property
    def is_certain(self) -> bool:
        """Link at once: one candidate, found on IČO or DIČ, and nothing conflicting."""
        return self.is_unique and self.matched_on in CERTAIN_SOURCES and not self.conflicts


def _normalise_name(value: str | None) -> str:
    return " ".join((value or "").split()).casefold()


def _normalise_code(value: str | None) -> str:
    return re.sub(r"\s+", "", value or "").upper()


def conflicts_with(client: Client, subject: Subject) -> bool:
    """Whether the contact names another company: both have an IČO (or a DIČ) and they differ."""
    pairs = ((client.registration_no, subject.registration_no), (client.vat_no, subject.vat_no))
    for ours, theirs in pairs:
        ours, theirs = _normalise_code(ours), _normalise_code(theirs)
        if ours and theirs and ours != theirs:
            return True
    return False


def missing_codes(client: Client, subject: Subject) -> list[str]:
    """The client's codes the contact lacks ("IČO", "DIČ"): invoices would go out without."""
    missing = []
    if _normalise_code(client.registration_no) and not _normalise_code(subject.registration_no):
        missing.append(_("IČO"))
    if _normalise_code(client.vat_no) and not _normalise_code(subject.vat_no):
        missing.append(_("DIČ"))
    return missing


def link_warning(client: Client, subject: Subject) -> str:
    """What the user must know before (or after) linking the contact by hand: it names another
    company, or it lacks the client's IČO/DIČ (invoices would go out without them). "" if
    nothing."""
    if conflicts_with(client, subject):
        return _("The contact's IČO or DIČ differs from the client's: it may be another company.")
    missing = missing_codes(client, subject)
    if missing:
        return _(
            "The contact has no %(codes)s in Fakturoid: invoices would go out without the "
            "client's %(codes)s. Add what is missing to the contact in Fakturoid."
        ) % {"codes": _(" and ").join(missing)}
    return ""


def find_subjects(*, client: Client, fakturoid_api: FakturoidClient | None = None) -> MatchResult:
    """Search the agency's Fakturoid contacts for `client`: by IČO, then DIČ, then billing
    e-mail, then exact name (case- and space-insensitive). The first criterion with hits wins;
    hits whose IČO or DIČ differs from the client's are set apart as conflicts.

    Raises FakturoidError subclasses from the API.
    """
    fakturoid_api = fakturoid_api or FakturoidClient.for_agency(client.agency)
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
        hits = [s for s in fakturoid_api.search_subjects(query) if matches(s)]
        if hits:
            conflicts = tuple(s for s in hits if conflicts_with(client, s))
            candidates = tuple(s for s in hits if s not in conflicts)
            return MatchResult(candidates, source, conflicts)
    return MatchResult((), None)


def match_client(*, client: Client, fakturoid_api: FakturoidClient | None = None) -> MatchResult:
    """Find the client's contact and link it when the match is certain (`is_certain`); any
    other result is a suggestion for the user to confirm. Returns the result."""
    result = find_subjects(client=client, fakturoid_api=fakturoid_api)
    if result.is_certain:
        client.link_to_contact(result.subjects[0].id, source=result.matched_on)
    return result


def subject_custom_id(client: Client) -> str:
    return f"{client.agency.key}-c{client.pk}"


def create_subject_for(*, client: Client) -> Subject:
    """Create the client's contact in Fakturoid from our billing details and link it.

    The contact's custom_id is made from the agency key and client id, so when it already
    exists (a second click, or a lost response) that contact is reused instead of a duplicate.
    Raises AlreadyLinked when the client has a contact already, ValidationFailed (e.g. a name
    Fakturoid refuses) or another FakturoidError.
    """
    if client.fakturoid_subject_id:
        raise AlreadyLinked(client)
    fakturoid_api = FakturoidClient.for_agency(client.agency)
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
        except (NetworkError, Unavailable) as error:
            if not error.maybe_processed:
                raise
            existing = fakturoid_api.list_subjects(custom_id=custom_id)
            if not existing:
                raise
            subject = existing[0]
    client.link_to_contact(subject.id, source=Client.LinkSource.CREATED)
    return subject


@dataclass(frozen=True)
class BulkMatchRow:
    client: Client
    outcome: str  # "linked", "suggested", "conflict", "not_found", "error"
    detail: str
    result: MatchResult | None = None


def match_unlinked_clients(*, agency: Agency) -> list[BulkMatchRow]:
    """Try automatic matching for every client of the agency without a Fakturoid contact.

    Links only the certain matches (`MatchResult.is_certain`). Returns one row per client:
    linked (with what it matched on), suggested (candidates the user confirms, in `result`),
    conflict (only contacts with another IČO/DIČ), not found, or error (the explained
    FakturoidError). Raises ConfigurationError when Fakturoid is not set up.
    """
    # One client object for the whole run: one connection, one token read.
    fakturoid_api = FakturoidClient.for_agency(agency)
    rows = []
    for client in Client.objects.for_agency(agency).filter(fakturoid_subject_id__isnull=True):
        try:
            result = match_client(client=client, fakturoid_api=fakturoid_api)
        except FakturoidError as error:
            rows.append(BulkMatchRow(client, "error", explain(error)))
            if isinstance(error, AuthenticationError | AccountBlocked | RateLimited):
                break
            continue
        if result.is_certain:
            label = Client.LinkSource(result.matched_on).label
            rows.append(BulkMatchRow(client, "linked", f"#{result.subjects[0].id} ({label})"))
        elif result.subjects:
            count = len(result.subjects)
            detail = _("%(n)s candidates") % {"n": count} if count > 1 else ""
            rows.append(BulkMatchRow(client, "suggested", detail, result))
        elif result.conflicts:
            rows.append(BulkMatchRow(client, "conflict", "", result))
        else:
            rows.append(BulkMatchRow(client, "not_found", ""))
    return rows
