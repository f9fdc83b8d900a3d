"""After creation: bring back from Fakturoid what changed there (statuses, deletions), notice
duplicates, fetch PDFs."""

import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from django.utils import timezone
from django.utils.translation import gettext as _

from agencies.models import Agency
from clients.months import first_day
from fakturoid.client import FakturoidClient
from fakturoid.documents import InvoiceDocument
from fakturoid.errors import NotFound
from fakturoid.models import Invoice

# Statuses after which an invoice does not change by itself any more.
SETTLED = {
    Invoice.Status.PAID,
    Invoice.Status.CANCELLED,
    Invoice.Status.UNCOLLECTIBLE,
    Invoice.Status.DELETED,
}
# Leave this many requests of the rate-limit window to the people clicking invoice icons.
RATE_LIMIT_RESERVE = 20
# Fakturoid answers 204 while it generates a PDF (it takes 1–2 s): wait this long before each
# further try within the request, then let the page retry by itself.
PDF_WAITS = (1.0, 2.0)

# Every wait goes through this name, so tests can replace it and stay fast.
_sleep = time.sleep


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


@dataclass
class Refresh:
    """What a status refresh learnt: how many invoices it checked, which were deleted in
    Fakturoid, and how many custom_ids Fakturoid holds more than once."""

    checked: int = 0
    deleted: list[Invoice] = field(default_factory=list)
    duplicated: int = 0


def refresh_statuses(*, agency: Agency, period: date) -> Refresh:
    """Bring back from Fakturoid the status (open, sent, overdue, paid, cancelled, ...) of the
    agency's created invoices of `period` that are not settled yet.

    Each invoice is read by its custom_id (one list request, which also shows any duplicate:
    `note_duplicates`). One that is no longer there and answers 404 by its id was deleted in
    Fakturoid: it is marked so (`Invoice.mark_deleted_in_fakturoid`) and the refresh goes on
    with the others. Stops early, keeping what it learnt, when the rate-limit budget runs low.
    Raises ConfigurationError or the FakturoidError that stopped it.
    """
    fakturoid_api = FakturoidClient.for_agency(agency)
    invoices = (
        Invoice.objects.for_agency(agency)
        .filter(period=first_day(period), state=Invoice.State.CREATED)
        .exclude(status__in=SETTLED)
        .exclude(fakturoid_id=None)
        .select_related("client")
    )
    result = Refresh()
    for invoice in invoices:
        found = fakturoid_api.find_invoices(custom_id=invoice.custom_id)
        result.duplicated += note_duplicates(agency=agency, documents=found)
        document = next((d for d in found if d.id == invoice.fakturoid_id), None)
        if document is None:
            try:
                document = fakturoid_api.get_invoice(invoice.fakturoid_id)
            except NotFound:
                invoice.mark_deleted_in_fakturoid()
                result.deleted.append(invoice)
        if document is not None:
            Invoice.objects.filter(pk=invoice.pk).update(
                status=document.status or "", total=document.total, updated_at=timezone.now()
            )
        result.checked += 1
        budget = fakturoid_api.rate_limit
        if budget is not None and budget.remaining is not None:
            if budget.remaining < RATE_LIMIT_RESERVE:
                break
    return result


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
