"""The sandbox's Python API: test switches of an account, and idempotent seeding.

Switches (also over HTTP at `GET/POST /sandbox/fakturoid/control/<slug>.json`)::

    {
      "rate_limit": {"quota": 400, "window": 60},   # fixed window; setting it starts a new one
      "fail_next": null,                             # or {"status": 500, "after_processing": false,
                                                     #     "count": 1}
      "delay_ms": 0,                                 # sleep BEFORE the request is carried out
      "delay_after_ms": 0,                           # sleep AFTER it was carried out (and saved)
      "blocked": false,                              # 402 on every account-scoped request
      "bank_account": true,                          # false: creating an invoice → 403
      "vat_mode": "vat_payer",                       # vat_payer | non_vat_payer | identified_person
      "token_invalidates_previous": true,            # a new token revokes the older ones
      "email_delivery": "enabled",                   # or "upgrade_required" |
                                                     #    "email_delivery_disabled" (403)
      "email_daily_quota": null,                     # or messages per day, then 403
                                                     #    quota_exhausted
      "webhooks": "enabled",                         # or "not_enabled" (credentials) |
                                                     #    "upgrade_required" (plan): 403
      "webhook_backoff": [1, 2, 4, 8, 16]            # seconds before each of the 5 retries
    }

`fail_next` makes the next `count` API requests of the account (the token request too, the
control endpoint never) answer `status` with a JSON error body. With `after_processing` the
request is carried out first and its answer replaced by the error: a lost response. Delays are
capped at MAX_DELAY_MS; the request is still carried out in full, so a client that timed out
during `delay_ms` finds the work done afterwards, and one that timed out during
`delay_after_ms` was told nothing about work that had already been committed.
"""

from decimal import Decimal
from typing import Any

from django.core.validators import validate_slug
from django.db import transaction

from fakturoid_sandbox.models import Account, Credential, Subject, VatMode
from fakturoid_sandbox.models.accounts import (
    EmailDelivery,
    WebhookAccess,
    default_webhook_backoff,
)

MAX_DELAY_MS = 30_000
RESERVED_SLUGS = frozenset({"api", "control"})
FAIL_NEXT_KEYS = frozenset({"status", "after_processing", "count"})
MAX_BACKOFF_SECONDS = 3600
RETRIES = 5


class SwitchError(ValueError):
    """A switch was given an unknown name or a value it cannot take."""


def _state(account: Account) -> dict[str, Any]:
    fail_next = None
    if account.fail_next_status and account.fail_next_count > 0:
        fail_next = {
            "status": account.fail_next_status,
            "after_processing": account.fail_next_after_processing,
            "count": account.fail_next_count,
        }
    return {
        "rate_limit": {"quota": account.rate_limit_quota, "window": account.rate_limit_window},
        "fail_next": fail_next,
        "delay_ms": account.delay_ms,
        "delay_after_ms": account.delay_after_ms,
        "blocked": account.blocked,
        "bank_account": account.has_bank_account,
        "vat_mode": account.vat_mode,
        "token_invalidates_previous": account.token_invalidates_previous,
        "email_delivery": account.email_delivery,
        "email_daily_quota": account.email_daily_quota,
        "webhooks": account.webhooks,
        "webhook_backoff": account.webhook_backoff,
    }


def get_state(slug: str) -> dict[str, Any]:
    """The switches of the account. Raises Account.DoesNotExist for an unknown slug."""
    return _state(Account.objects.get(slug=slug))


def _positive_int(name: str, value: Any, *, minimum: int = 1, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SwitchError(f"{name} must be an integer of at least {minimum}")
    if maximum is not None and value > maximum:
        raise SwitchError(f"{name} must be at most {maximum}")
    return value


def _boolean(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise SwitchError(f"{name} must be true or false")
    return value


def _apply(account: Account, changes: dict[str, Any]) -> list[str]:
    """Set the named switches on `account`; returns the model fields changed."""
    fields: list[str] = []
    for name, value in changes.items():
        if name == "rate_limit":
            if not isinstance(value, dict) or set(value) - {"quota", "window"}:
                raise SwitchError('rate_limit must be {"quota": int, "window": int}')
            account.rate_limit_quota = _positive_int(
                "rate_limit.quota", value.get("quota", account.rate_limit_quota)
            )
            account.rate_limit_window = _positive_int(
                "rate_limit.window", value.get("window", account.rate_limit_window)
            )
            account.rate_window_started_at = None
            account.rate_window_count = 0
            fields += [
                "rate_limit_quota",
                "rate_limit_window",
                "rate_window_started_at",
                "rate_window_count",
            ]
        elif name == "fail_next":
            if value is None:
                status, after, count = None, False, 0
            elif isinstance(value, dict) and not set(value) - FAIL_NEXT_KEYS:
                status = _positive_int("fail_next.status", value.get("status", 500), minimum=400)
                if status > 599:
                    raise SwitchError("fail_next.status must be between 400 and 599")
                after = _boolean("fail_next.after_processing", value.get("after_processing", False))
                count = _positive_int("fail_next.count", value.get("count", 1), minimum=0)
            else:
                raise SwitchError(
                    'fail_next must be null or {"status": int, "after_processing": bool, '
                    '"count": int}'
                )
            account.fail_next_status = status
            account.fail_next_after_processing = after
            account.fail_next_count = count
            fields += ["fail_next_status", "fail_next_after_processing", "fail_next_count"]
        elif name in ("delay_ms", "delay_after_ms"):
            setattr(account, name, _positive_int(name, value, minimum=0, maximum=MAX_DELAY_MS))
            fields.append(name)
        elif name == "blocked":
            account.blocked = _boolean(name, value)
            fields.append("blocked")
        elif name == "bank_account":
            account.has_bank_account = _boolean(name, value)
            fields.append("has_bank_account")
        elif name == "vat_mode":
            if value not in VatMode.values:
                raise SwitchError(f"vat_mode must be one of {', '.join(VatMode.values)}")
            account.vat_mode = value
            fields.append("vat_mode")
        elif name == "token_invalidates_previous":
            account.token_invalidates_previous = _boolean(name, value)
            fields.append("token_invalidates_previous")
        else:
            fields += _apply_feature_switch(account, name, value)
    return fields


def _choice(name: str, value: Any, choices: type[EmailDelivery] | type[WebhookAccess]) -> str:
    if value not in choices.values:
        raise SwitchError(f"{name} must be one of {', '.join(choices.values)}")
    return value


def _backoff(value: Any) -> list[float]:
    valid = (
        isinstance(value, list)
        and len(value) == RETRIES
        and all(
            isinstance(seconds, int | float | Decimal)  # the HTTP API parses floats as Decimal
            and not isinstance(seconds, bool)
            and 0 <= seconds <= MAX_BACKOFF_SECONDS
            for seconds in value
        )
    )
    if not valid:
        raise SwitchError(
            f"webhook_backoff must be a list of {RETRIES} numbers of seconds, each 0 to "
            f"{MAX_BACKOFF_SECONDS}"
        )
    return [seconds if isinstance(seconds, int) else float(seconds) for seconds in value]


def _apply_feature_switch(account: Account, name: str, value: Any) -> list[str]:
    """The switches of e-mail delivery and webhooks; returns the model field changed."""
    if name == "email_delivery":
        account.email_delivery = _choice(name, value, EmailDelivery)
    elif name == "email_daily_quota":
        quota = None if value is None else _positive_int(name, value, minimum=0)
        account.email_daily_quota = quota
    elif name == "webhooks":
        account.webhooks = _choice(name, value, WebhookAccess)
    elif name == "webhook_backoff":
        account.webhook_backoff = _backoff(value)
    else:
        raise SwitchError(f"Unknown switch {name!r}")
    return [name]


def update_state(slug: str, **changes: Any) -> dict[str, Any]:
    """Change only the named switches and return the whole state.

    Raises Account.DoesNotExist for an unknown slug and SwitchError for a bad name or value
    (then nothing is changed).
    """
    with transaction.atomic():
        account = Account.objects.select_for_update().get(slug=slug)
        fields = _apply(account, changes)
        if fields:
            account.save(update_fields=[*fields, "updated_at"])
        return _state(account)


def reset_state(slug: str) -> dict[str, Any]:
    """All switches back to their defaults (a fresh rate-limit window, no failures, no delay)."""
    return update_state(
        slug,
        rate_limit={"quota": 400, "window": 60},
        fail_next=None,
        delay_ms=0,
        delay_after_ms=0,
        blocked=False,
        bank_account=True,
        token_invalidates_previous=True,
        email_delivery=EmailDelivery.ENABLED,
        email_daily_quota=None,
        webhooks=WebhookAccess.ENABLED,
        webhook_backoff=default_webhook_backoff(),
    )


def ensure_account(
    slug: str,
    *,
    name: str | None = None,
    vat_mode: str = VatMode.VAT_PAYER,
    bank_account: bool = True,
    registration_no: str | None = None,
    vat_no: str | None = None,
    street: str | None = None,
    city: str | None = None,
    zip: str | None = None,  # noqa: A002 - the field is called zip in Fakturoid
    currency: str | None = None,
    due: int | None = None,
) -> Credential:
    """Create or update the sandbox account `slug`; return its API credential.

    Idempotent: the account keeps its data, subjects and invoices, and its first credential
    (client_id and client_secret stay the same across calls). `vat_mode` and `bank_account`
    are always set as given; the other fields only when given (a new account is named after
    its slug unless `name` is given). Raises ValueError for a slug that is not a valid slug or
    is reserved by the sandbox's URLs ("api", "control").
    """
    validate_slug(slug)
    if slug in RESERVED_SLUGS:
        raise ValueError(f"{slug!r} is reserved by the sandbox")
    if vat_mode not in VatMode.values:
        raise ValueError(f"vat_mode must be one of {', '.join(VatMode.values)}")
    given = {
        "name": name,
        "registration_no": registration_no,
        "vat_no": vat_no,
        "street": street,
        "city": city,
        "zip": zip,
        "currency": currency,
        "due": due,
    }
    with transaction.atomic():
        account, _created = Account.objects.select_for_update().get_or_create(
            slug=slug, defaults={"name": name or slug.replace("-", " ").title()}
        )
        for field, value in given.items():
            if value is not None:
                setattr(account, field, value)
        account.vat_mode = vat_mode
        account.has_bank_account = bank_account
        account.save()
        credential = account.credentials.order_by("pk").first()
        if credential is None:
            credential = account.credentials.create(
                user_full_name=account.name,
                user_email=f"{slug}@sandbox.invalid",
            )
    return credential


def ensure_subject(
    slug: str,
    *,
    name: str,
    registration_no: str = "",
    vat_no: str = "",
    email: str = "",
    street: str = "",
    city: str = "",
    zip: str = "",  # noqa: A002 - the field is called zip in Fakturoid
    country: str = "CZ",
    custom_id: str | None = None,
    **fields: str,
) -> Subject:
    """Find the account's subject by name + registration_no + email, or create it.

    Other details (vat_no, address, any further Subject text field passed as a keyword, e.g.
    `phone`, `web`, `full_name`, and `custom_id` unless None) are set on the subject either
    way. Raises
    Account.DoesNotExist for an unknown slug and ValueError for a name under two characters.
    """
    if len(name.strip()) < 2:
        raise ValueError("A subject's name needs at least two characters")
    account = Account.objects.get(slug=slug)
    details = {
        "vat_no": vat_no,
        "street": street,
        "city": city,
        "zip": zip,
        "country": country,
        **fields,
    }
    if custom_id is not None:
        details["custom_id"] = custom_id
    subject = (
        account.subjects.filter(name=name, registration_no=registration_no, email=email)
        .order_by("pk")
        .first()
    ) or Subject(account=account, name=name, registration_no=registration_no, email=email)
    for field, value in details.items():
        setattr(subject, field, value)
    subject.save()
    return subject
