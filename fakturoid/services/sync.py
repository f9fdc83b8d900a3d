"""After creation: bring back from Fakturoid what changed there (statuses), fetch PDFs."""

from datetime import date

from django.utils import timezone
from django.utils.translation import gettext as _

from agencies.models import Agency
from clients.months import first_day
from fakturoid.client import FakturoidClient
from fakturoid.errors import NotFound
from fakturoid.models import Invoice

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
    fakturoid_api = FakturoidClient.for_agency(agency)
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
        raise NotFound(_("This invoice was not created in Fakturoid."))
    fakturoid_api = FakturoidClient.for_agency(invoice.agency)
    return fakturoid_api.download_invoice_pdf(invoice.fakturoid_id)
