"""After creation: bring back from Fakturoid what changed there (statuses, payments,
deletions), notice duplicates, fetch PDFs.

Two ways in, one way to apply: the status sync lists the invoices changed since the last sync
(`invoices.json?updated_since=`), a webhook delivery carries one invoice; both go through
`apply_document()`, which never lets an older state overwrite a newer one. Every listing also
counts Fakturoid's invoices per custom_id (`note_duplicates`).
"""

import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from agencies.models import Agency
from fakturoid.client import CallRecord, FakturoidClient
from fakturoid.documents import InvoiceDocument
from fakturoid.errors import NotFound
from fakturoid.models import Invoice, StatusSync

# Fakturoid's clock and ours may disagree a little, and a change committed while we listed may
# carry an earlier updated_at: the next sync asks for changes from this long before the previous
# one started. Re-reading a few invoices twice costs nothing (they fit on the one short page).
CURSOR_OVERLAP = timedelta(seconds=60)
# Fakturoid answers 204 while it generates a PDF (it takes 1–2 s): wait this long before each
# further try within the request, then let the page retry by itself.
PDF_WAITS = (1.0, 2.0)

# Every wait goes through this name, so tests can replace it and stay fast.
_sleep = time.sleep


@dataclass(frozen=True)
class SyncResult:
    requests: int  # HTTP requests this sync made (token included)
    listed: int  # invoices Fakturoid listed as changed
    updated: int  # of ours whose state changed
    deleted: list[Invoice] = field(default_factory=list)  # found gone (full sync only)
    duplicated: int = 0  # custom_ids Fakturoid listed more than once


def note_duplicates(*, agency: Agency, documents: Iterable[InvoiceDocument]) -> int:
    """Record on our invoices when Fakturoid holds more than one invoice with their custom_id.

    `documents` are Fakturoid invoices from any listing we fetched anyway (no request is made
    here). Copies of our invoice other than the one we recorded are stored in
    `Invoice.duplicates` (id, number, link); a copy seen cancelled leaves the list, and copies
    not among `documents` are left as recorded. Nothing is deleted in Fakturoid.
    Returns how many custom_ids appear more than once (not cancelled) among `documents`.
    """
    groups: dict[str, list[InvoiceDocument]] = defaultdict(list)
    for document in documents:
        if document.custom_id:
            groups[document.custom_id].append(document)
    duplicated = 0
    rows = Invoice.objects.for_agency(agency).filter(custom_id__in=list(groups))
    for invoice in rows:
        copies = [d for d in groups[invoice.custom_id] if d.id != invoice.fakturoid_id]
        if invoice.fakturoid_id is None and copies:
            copies = copies[1:]  # not recorded yet: the first one becomes ours
        seen = {d.id for d in copies}
        kept = [d for d in invoice.duplicates if d.get("id") not in seen]
        live = [d for d in copies if d.status != Invoice.Status.CANCELLED]
        recorded = kept + [
            {"id": d.id, "number": d.number or "", "html_url": _web_url(d.html_url)} for d in live
        ]
        if recorded != invoice.duplicates:
            Invoice.objects.filter(pk=invoice.pk).update(duplicates=recorded)
    for documents_of_one in groups.values():
        if sum(d.status != Invoice.Status.CANCELLED for d in documents_of_one) > 1:
            duplicated += 1
    return duplicated


def _web_url(value: str | None) -> str:
    return value if value and value.startswith(("https://", "http://")) else ""


def apply_document(*, agency: Agency, document: InvoiceDocument) -> bool:
    """Store what Fakturoid says about one of the agency's invoices (status, due date, paid
    date, remaining amount, payments). Returns False when it is not ours or not newer than
    what we hold (deliveries may arrive out of order, a sync re-reads what it saw)."""
    fields = {
        "status": document.status or "",
        "due_on": document.due_on,
        "paid_on": document.paid_on,
        "remaining_amount": document.remaining_amount,
        "sent_at": document.sent_at,
        "payments": [
            {"id": p.id, "paid_on": str(p.paid_on or ""), "amount": str(p.amount or "")}
            for p in document.payments
        ],
        "fakturoid_updated_at": document.updated_at,
        "updated_at": timezone.now(),
    }
    if document.total is not None:
        fields["total"] = document.total
    changed = (
        Invoice.objects.for_agency(agency)
        .filter(_older_than(document.updated_at), fakturoid_id=document.id)
        .filter(state=Invoice.State.CREATED)
        .update(**fields)
    )
    return changed > 0


def _older_than(moment: datetime | None) -> Q:
    """Our rows whose state Fakturoid stated before `moment` (or never): those it may replace.
    Without a moment (a 404 says the invoice is gone now) every row may be replaced."""
    if moment is None:
        return Q()
    return Q(fakturoid_updated_at=None) | Q(fakturoid_updated_at__lt=moment)


def mark_deleted(*, agency: Agency, fakturoid_id: int, when: datetime | None = None) -> bool:
    """Mark the agency's invoice as moved to Fakturoid's trash (the row and its history stay),
    unless we hold a newer state (a restore delivered first). Returns False when it is not
    ours or not newer."""
    return (
        Invoice.objects.for_agency(agency)
        .filter(_older_than(when), fakturoid_id=fakturoid_id, state=Invoice.State.CREATED)
        .update(
            status=Invoice.Status.DELETED,
            fakturoid_updated_at=when or timezone.now(),
            updated_at=timezone.now(),
        )
        > 0
    )


def sync_statuses(*, agency: Agency, full: bool = False, background: bool = False) -> SyncResult:
    """Bring back every change Fakturoid has for the agency's invoices since the last sync.

    Lists `invoices.json?updated_since=<last sync>` (all invoices for the first or a `full`
    sync), 40 per page, stopping at a shorter page: an account with nothing new costs one
    request. Invoices past their due date are made overdue here, without asking. A full sync
    also finds our invoices Fakturoid no longer lists and, after a GET answers 404, marks them
    deleted. `background` (workers, cron) leaves the rate-limit reserve to people. Raises
    ConfigurationError or the FakturoidError that stopped it (the cursor then stays where it
    was, so nothing is skipped).
    """
    requests = 0
    fakturoid_api = FakturoidClient.for_agency(agency, background=background)
    log_call = fakturoid_api.on_call

    def count(call: CallRecord) -> None:
        nonlocal requests
        requests += 1
        log_call(call)

    fakturoid_api.on_call = count
    state, _created = StatusSync.objects.get_or_create(agency=agency)
    started = timezone.now()
    cursor = None if full else state.cursor
    documents = fakturoid_api.list_invoices_changed(updated_since=cursor)
    duplicated = note_duplicates(agency=agency, documents=documents)
    updated = sum(apply_document(agency=agency, document=d) for d in documents)
    deleted = []
    if cursor is None:
        deleted = _mark_missing_deleted(agency, fakturoid_api, {d.id for d in documents})
    mark_overdue(agency=agency)
    StatusSync.objects.filter(pk=state.pk).update(
        cursor=started - CURSOR_OVERLAP,
        finished_at=timezone.now(),
        requests=requests,
        updated=updated,
    )
    return SyncResult(
        requests=requests,
        listed=len(documents),
        updated=updated,
        deleted=deleted,
        duplicated=duplicated,
    )


def _mark_missing_deleted(
    agency: Agency, fakturoid_api: FakturoidClient, listed: set[int]
) -> list[Invoice]:
    """Our live invoices a complete listing left out: each is asked for once (an invoice
    created or deleted while we paged may have slipped between pages), and a 404 marks it
    deleted in Fakturoid (`Invoice.mark_deleted_in_fakturoid`). Returns those."""
    missing = (
        Invoice.objects.for_agency(agency)
        .live()
        .filter(state=Invoice.State.CREATED, fakturoid_id__isnull=False)
        .exclude(status=Invoice.Status.DELETED)
        .exclude(fakturoid_id__in=listed)
        .select_related("client")
    )
    deleted = []
    for invoice in list(missing):
        try:
            document = fakturoid_api.get_invoice(invoice.fakturoid_id)
        except NotFound:
            invoice.mark_deleted_in_fakturoid()
            deleted.append(invoice)
        else:
            apply_document(agency=agency, document=document)
    return deleted


def mark_overdue(*, agency: Agency) -> int:
    """Make the agency's open or sent invoices past their due date overdue (Fakturoid's daily
    job does the same, but a sync should not wait for it). Returns how many changed."""
    return (
        Invoice.objects.for_agency(agency)
        .filter(status__in=(Invoice.Status.OPEN, Invoice.Status.SENT))
        .filter(due_on__lt=timezone.localdate())
        .update(status=Invoice.Status.OVERDUE, updated_at=timezone.now())
    )


def invoice_pdf(*, invoice: Invoice) -> bytes | None:
    """The created invoice's PDF from Fakturoid. While Fakturoid answers that it is still
    generating it (204), waits and asks again (PDF_WAITS, bounded); None if it is still not
    ready then.

    Raises ConfigurationError, NotFound or another FakturoidError.
    """
    if invoice.fakturoid_id is None:
        raise NotFound(_("This invoice was not created in Fakturoid."))
    fakturoid_api = FakturoidClient.for_agency(invoice.agency)
    pdf = fakturoid_api.download_invoice_pdf(invoice.fakturoid_id)
    for wait in PDF_WAITS:
        if pdf is not None:
            break
        _sleep(wait)
        pdf = fakturoid_api.download_invoice_pdf(invoice.fakturoid_id)
    return pdf
