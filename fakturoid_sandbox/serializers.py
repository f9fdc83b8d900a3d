"""Sandbox models as the JSON Fakturoid API v3 returns them (field order as in the docs).

Decimals are Rails-style strings ("1000.0", "173.92"), dates `YYYY-MM-DD`, datetimes ISO 8601
with milliseconds and the Prague offset, empty texts `null`. Links are absolute, built from the
request, so they work on whatever host and port the sandbox is served.
"""

import json
from datetime import date, datetime
from decimal import Decimal

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from fakturoid_sandbox.models import (
    Account,
    Credential,
    Invoice,
    InvoiceLine,
    Payment,
    Subject,
    Webhook,
    WebhookDelivery,
)


class SiteRoot:
    """Absolute links from settings.SITE_URL, for JSON built outside a request (webhooks).

    Has the one method of HttpRequest the serializers use, so it can stand in for a request.
    """

    def build_absolute_uri(self, location: str) -> str:
        return f"{settings.SITE_URL}{location}"


Linker = HttpRequest | SiteRoot


def decimal_str(value: Decimal | int) -> str:
    """Rails BigDecimal style: no trailing zeros, but at least one decimal place."""
    text = format(Decimal(value).normalize(), "f")
    return text if "." in text else f"{text}.0"


def rate_value(value: Decimal) -> int | str:
    """A VAT rate as Fakturoid emits it: an integer when whole."""
    return int(value) if value == value.to_integral_value() else decimal_str(value)


def datetime_str(value: datetime | None) -> str | None:
    if value is None:
        return None
    return timezone.localtime(value).isoformat(timespec="milliseconds")


def date_str(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _or_null(value: str) -> str | None:
    return value or None


def absolute(request: Linker, name: str, *args: object) -> str:
    return request.build_absolute_uri(reverse(f"sandbox:{name}", args=args))


def subject_api_url(request: Linker, subject: Subject) -> str:
    return absolute(request, "api_subject", subject.account.slug, subject.pk)


def invoice_api_url(request: Linker, invoice: Invoice) -> str:
    return absolute(request, "api_invoice", invoice.account.slug, invoice.pk)


def user_json(request: Linker, credential: Credential) -> dict:
    account = credential.account
    return {
        "id": credential.pk,
        "full_name": credential.user_full_name,
        "email": credential.user_email,
        "avatar_url": None,
        "default_account": account.slug,
        "accounts": [
            {
                "slug": account.slug,
                "logo": None,
                "name": account.name,
                "registration_no": _or_null(account.registration_no),
                "permission": "owner",
                "allowed_scope": ["invoices", "expenses", "reports"],
            }
        ],
    }


def account_json(account: Account) -> dict:
    return {
        "subdomain": account.slug,
        "plan": "Sandbox",
        "plan_price": 0,
        "plan_paid_users": 0,
        "invoice_email": _or_null(account.invoice_email),
        "phone": None,
        "web": None,
        "name": account.name,
        "full_name": None,
        "registration_no": _or_null(account.registration_no),
        "vat_no": _or_null(account.vat_no),
        "local_vat_no": None,
        "vat_mode": account.vat_mode,
        "vat_price_mode": "without_vat",
        "street": _or_null(account.street),
        "city": _or_null(account.city),
        "zip": _or_null(account.zip),
        "country": account.country,
        "currency": account.currency,
        "unit_name": "",
        "vat_rate": 21 if account.charges_vat else 0,
        "displayed_note": "",
        "invoice_note": account.invoice_note,
        "due": account.due,
        "invoice_language": "cz",
        "invoice_payment_method": None,
        "invoice_proforma": False,
        "invoice_hide_bank_account_for_payments": None,
        "fixed_exchange_rate": False,
        "invoice_selfbilling": False,
        "default_estimate_type": None,
        "send_overdue_email": False,
        "overdue_email_days": 3,
        "send_repeated_reminders": False,
        "send_invoice_from_proforma_email": False,
        "send_thank_you_email": False,
        "invoice_paypal": False,
        "invoice_gopay": False,
        "digitoo_enabled": False,
        "digitoo_auto_processing_enabled": False,
        "digitoo_remaining_extractions": 0,
        "created_at": datetime_str(account.created_at),
        "updated_at": datetime_str(account.updated_at),
    }


def subject_json(request: Linker, subject: Subject) -> dict:
    return {
        "id": subject.pk,
        "custom_id": _or_null(subject.custom_id),
        "user_id": None,
        "type": subject.type,
        "name": subject.name,
        "full_name": _or_null(subject.full_name),
        "email": _or_null(subject.email),
        "email_copy": _or_null(subject.email_copy),
        "phone": _or_null(subject.phone),
        "web": _or_null(subject.web),
        "street": _or_null(subject.street),
        "city": _or_null(subject.city),
        "zip": _or_null(subject.zip),
        "country": _or_null(subject.country),
        "has_delivery_address": False,
        "delivery_name": None,
        "delivery_street": None,
        "delivery_city": None,
        "delivery_zip": None,
        "delivery_country": None,
        "due": subject.due,
        "currency": _or_null(subject.currency),
        "language": _or_null(subject.language),
        "private_note": _or_null(subject.private_note),
        "registration_no": _or_null(subject.registration_no),
        "vat_no": _or_null(subject.vat_no),
        "local_vat_no": _or_null(subject.local_vat_no),
        "unreliable": None,
        "unreliable_checked_at": None,
        "legal_form": None,
        "vat_mode": None,
        "bank_account": _or_null(subject.bank_account),
        "iban": _or_null(subject.iban),
        "swift_bic": None,
        "variable_symbol": _or_null(subject.variable_symbol),
        "setting_update_from_ares": "inherit",
        "ares_update": False,
        "setting_invoice_pdf_attachments": "inherit",
        "setting_estimate_pdf_attachments": "inherit",
        "setting_invoice_send_reminders": "inherit",
        "suggestion_enabled": True,
        "custom_email_text": None,
        "overdue_email_text": None,
        "invoice_from_proforma_email_text": None,
        "thank_you_email_text": None,
        "custom_estimate_email_text": None,
        "webinvoice_history": None,
        "html_url": absolute(request, "subject_page", subject.account.slug, subject.pk),
        "url": subject_api_url(request, subject),
        "created_at": datetime_str(subject.created_at),
        "updated_at": datetime_str(subject.updated_at),
    }


def line_json(line: InvoiceLine, invoice: Invoice) -> dict:
    total_vat = decimal_str(line.total_vat)
    total_price = decimal_str(line.total_price)
    return {
        "id": line.pk,
        "name": line.name,
        "quantity": decimal_str(line.quantity),
        "unit_name": line.unit_name,
        "unit_price": decimal_str(line.unit_price),
        "vat_rate": rate_value(line.vat_rate),
        "unit_price_without_vat": decimal_str(line.unit_price),
        "unit_price_with_vat": decimal_str(line.unit_price_with_vat),
        "total_price_without_vat": total_price,
        "total_vat": total_vat,
        "native_total_price_without_vat": decimal_str(invoice.native(line.total_price)),
        "native_total_vat": decimal_str(invoice.native(line.total_vat)),
        "inventory": None,
    }


def payment_json(payment: Payment) -> dict:
    return {
        "id": payment.pk,
        "paid_on": date_str(payment.paid_on),
        "currency": payment.currency,
        "amount": decimal_str(payment.amount),
        "native_amount": decimal_str(payment.invoice.native(payment.amount)),
        "variable_symbol": payment.variable_symbol,
        "bank_account_id": None,
        "tax_document_id": None,
        "created_at": datetime_str(payment.created_at),
        "updated_at": datetime_str(payment.updated_at),
    }


def invoice_json(request: Linker, invoice: Invoice) -> dict:
    account = invoice.account
    slug = account.slug
    subtotal = decimal_str(invoice.subtotal)
    total = decimal_str(invoice.total)
    remaining = invoice.remaining_amount
    summary = [
        {
            "vat_rate": rate_value(row["vat_rate"]),
            "base": decimal_str(row["base"]),
            "vat": decimal_str(row["vat"]),
            "currency": invoice.currency,
            "native_base": decimal_str(invoice.native(row["base"])),
            "native_vat": decimal_str(invoice.native(row["vat"])),
            "native_currency": account.currency,
        }
        for row in invoice.vat_rates_summary()
    ]
    return {
        "id": invoice.pk,
        "custom_id": _or_null(invoice.custom_id),
        "document_type": "invoice",
        "proforma_followup_document": None,
        "correction_id": None,
        "number": invoice.number,
        "number_format_id": 1,
        "variable_symbol": invoice.variable_symbol,
        "your_name": account.name,
        "your_street": _or_null(account.street),
        "your_city": _or_null(account.city),
        "your_zip": _or_null(account.zip),
        "your_country": account.country,
        "your_registration_no": _or_null(account.registration_no),
        "your_vat_no": _or_null(account.vat_no),
        "your_local_vat_no": None,
        "client_name": invoice.client_name,
        "client_street": _or_null(invoice.client_street),
        "client_city": _or_null(invoice.client_city),
        "client_zip": _or_null(invoice.client_zip),
        "client_country": _or_null(invoice.client_country),
        "client_registration_no": _or_null(invoice.client_registration_no),
        "client_vat_no": _or_null(invoice.client_vat_no),
        "client_local_vat_no": _or_null(invoice.client_local_vat_no),
        "client_has_delivery_address": False,
        "client_delivery_name": None,
        "client_delivery_street": None,
        "client_delivery_city": None,
        "client_delivery_zip": None,
        "client_delivery_country": None,
        "subject_id": invoice.subject_id,
        "subject_custom_id": _or_null(invoice.subject.custom_id),
        "generator_id": None,
        "related_id": None,
        "paypal": False,
        "gopay": False,
        "token": invoice.token,
        "status": invoice.reported_status(),
        "order_number": _or_null(invoice.order_number),
        "issued_on": date_str(invoice.issued_on),
        "taxable_fulfillment_due": date_str(invoice.taxable_fulfillment_due),
        "due": invoice.due,
        "due_on": date_str(invoice.due_on),
        "sent_at": datetime_str(invoice.sent_at),
        "paid_on": date_str(invoice.paid_on),
        "reminder_sent_at": datetime_str(invoice.reminder_sent_at),
        "last_reminder_sent_at": datetime_str(invoice.last_reminder_sent_at),
        "cancelled_at": datetime_str(invoice.cancelled_at),
        "uncollectible_at": datetime_str(invoice.uncollectible_at),
        "locked_at": datetime_str(invoice.locked_at),
        "webinvoice_seen_on": None,
        "note": invoice.note,
        "footer_note": invoice.footer_note,
        "private_note": _or_null(invoice.private_note),
        "tags": [],
        "bank_account": _or_null(invoice.bank_account),
        "iban": _or_null(invoice.iban),
        "swift_bic": None,
        "iban_visibility": "automatically",
        "show_already_paid_note_in_pdf": False,
        "payment_method": "bank",
        "custom_payment_method": None,
        "hide_bank_account": False,
        "currency": invoice.currency,
        "exchange_rate": decimal_str(invoice.exchange_rate),
        "language": "cz",
        "transferred_tax_liability": False,
        "supply_code": None,
        "oss": "disabled",
        "vat_price_mode": "without_vat",
        "subtotal": subtotal,
        "total": total,
        "native_subtotal": decimal_str(invoice.native(invoice.subtotal)),
        "native_total": decimal_str(invoice.native(invoice.total)),
        "rounding_adjustment": "0.0",
        "remaining_amount": decimal_str(remaining),
        "remaining_native_amount": decimal_str(invoice.native(remaining)),
        "eet_records": [],
        "lines": [line_json(line, invoice) for line in invoice.lines.all()],
        "vat_rates_summary": summary,
        "paid_advances": [],
        "payments": [payment_json(payment) for payment in invoice.payments.all()],
        "attachments": [],
        "html_url": absolute(request, "invoice_page", slug, invoice.pk),
        "public_html_url": absolute(request, "public_invoice", slug, invoice.token, invoice.number),
        "url": invoice_api_url(request, invoice),
        "pdf_url": absolute(request, "api_invoice_pdf", slug, invoice.pk),
        "subject_url": absolute(request, "api_subject", slug, invoice.subject_id),
        "created_at": datetime_str(invoice.created_at),
        "updated_at": datetime_str(invoice.updated_at),
    }


def webhook_json(request: Linker, webhook: Webhook) -> dict:
    return {
        "id": webhook.pk,
        "failed_deliveries_uuid": str(webhook.failed_deliveries_uuid),
        "webhook_url": webhook.webhook_url,
        "auth_header": _or_null(webhook.auth_header),
        "active": webhook.active,
        "events": webhook.events,
        "url": absolute(request, "api_webhook", webhook.account.slug, webhook.pk),
        "created_at": datetime_str(webhook.created_at),
        "updated_at": datetime_str(webhook.updated_at),
    }


def failed_delivery_json(item: WebhookDelivery) -> dict:
    """[INF] The reference names the list but not its fields."""
    return {
        "id": item.pk,
        "event_name": item.event_name,
        "idempotency_key": str(item.idempotency_key),
        "attempts": item.attempts,
        "last_status": item.last_status,
        "last_error": _or_null(item.last_error),
        "payload": json.loads(item.payload),
        "created_at": datetime_str(item.created_at),
        "updated_at": datetime_str(item.updated_at),
    }
