"""Webhooks registered through the API and their deliveries (an outbox, see webhooks.py)."""

import os
import time
import uuid

from django.db import models

from fakturoid_sandbox.models.accounts import Account, Credential

INVOICE_EVENTS = (
    "invoice_created",
    "invoice_updated",
    "invoice_removed",
    "invoice_restored",
    "invoice_overdue",
    "invoice_paid",
    "invoice_payment_added",
    "invoice_payment_removed",
    "invoice_sent",
    "invoice_locked",
    "invoice_unlocked",
    "invoice_cancelled",
    "invoice_cancellation_removed",
    "invoice_uncollectible",
    "invoice_uncollectible_removed",
)
SUBJECT_EVENTS = ("subject_created", "subject_updated", "subject_removed")
EVENTS = INVOICE_EVENTS + SUBJECT_EVENTS
MAX_ATTEMPTS = 6  # the first delivery and up to five retries


def uuid7() -> uuid.UUID:
    """A time-ordered UUID version 7 (what Fakturoid sends as `Idempotency-Key`).

    Python 3.11 has no `uuid.uuid7`: 48 bits of Unix milliseconds, the version, random bits.
    """
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10)) & ((1 << 80) - 1)
    value = value & ~(0xF << 76) | 0x7 << 76  # version 7
    value = value & ~(0x3 << 62) | 0x2 << 62  # RFC 4122 variant
    return uuid.UUID(int=value)


class Webhook(models.Model):
    """A webhook of one API credential: integrations see and manage only their own."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="webhooks_set")
    credential = models.ForeignKey(Credential, on_delete=models.CASCADE, related_name="webhooks")
    webhook_url = models.URLField(max_length=2000)
    auth_header = models.CharField(max_length=1000, blank=True)
    active = models.BooleanField(default=True)
    events = models.JSONField(default=list)
    failed_deliveries_uuid = models.UUIDField(default=uuid.uuid4, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.account.slug}: {self.webhook_url}"


class WebhookDelivery(models.Model):
    """One event for one webhook: written with the change, POSTed after it is committed."""

    class State(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event_name = models.CharField(max_length=60)
    # The JSON text as sent: PostgreSQL's jsonb would reorder the keys of Fakturoid's shape.
    payload = models.TextField()
    idempotency_key = models.UUIDField(default=uuid7, unique=True)
    state = models.CharField(max_length=10, choices=State, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["state", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.event_name} → {self.webhook.webhook_url} ({self.state})"
