"""The sandbox's own data: Fakturoid accounts, API credentials and tokens, subjects, invoices,
webhooks.

Independent of the rest of the project on purpose: it stands for a remote service, so nothing
here imports from the other apps and nothing there should import from here except through the
HTTP API (or `fakturoid_sandbox.control` for tests and demo seeding).
"""

from fakturoid_sandbox.models.accounts import (
    CENT,
    NUMBER_FORMAT,
    PAGE_SIZE,
    TOKEN_LIFETIME,
    Account,
    Admission,
    Credential,
    Subject,
    SubjectQuerySet,
    Token,
    VatMode,
    new_access_token,
    new_client_id,
    new_client_secret,
    new_invoice_token,
    round_money,
)
from fakturoid_sandbox.models.invoices import (
    Invoice,
    InvoiceLine,
    InvoiceQuerySet,
    InvoiceStatus,
    Payment,
    SentMessage,
)
from fakturoid_sandbox.models.webhooks import Webhook, WebhookDelivery

__all__ = [
    "CENT",
    "NUMBER_FORMAT",
    "PAGE_SIZE",
    "TOKEN_LIFETIME",
    "Account",
    "Admission",
    "Credential",
    "Invoice",
    "InvoiceLine",
    "InvoiceQuerySet",
    "InvoiceStatus",
    "Payment",
    "SentMessage",
    "Subject",
    "SubjectQuerySet",
    "Token",
    "VatMode",
    "Webhook",
    "WebhookDelivery",
    "new_access_token",
    "new_client_id",
    "new_client_secret",
    "new_invoice_token",
    "round_money",
]
