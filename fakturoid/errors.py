"""Everything that can stop work with Fakturoid, and the one sentence a person sees for each.

Two families under `IntegrationError`:

- `FakturoidError`: Fakturoid's own answer (a 4xx/5xx) or the lack of one (network, nonsense).
  Raised by `fakturoid.client`; carries the HTTP status and Fakturoid's message.
- `Refusal`: our own "no" before anything is sent (nothing to bill, already invoiced, the
  credentials reach another organisation). Not Fakturoid's answer, so not a FakturoidError.

`transient` says whether trying the same thing again later can help. `explain()` is the only
place that words a failure for the user: views, forms and stored invoice errors all use it.
"""

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

if TYPE_CHECKING:
    from clients.models import Client
    from fakturoid.models import Invoice

# Where Fakturoid's own web pages are; its messages link them (the sandbox has its own copies).
FAKTUROID_WEB = "https://app.fakturoid.cz"
# OAuth error codes at the token endpoint that mean the Client ID or Secret ID is wrong.
OAUTH_CREDENTIAL_ERRORS = {"invalid_client", "unauthorized_client"}


class IntegrationError(Exception):
    """Anything that stopped a piece of Fakturoid work; `message` says what."""

    transient = False  # Whether the same request may succeed later without anyone fixing it.
    maybe_processed = False  # Whether a POST may have been carried out despite the failure.

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class FakturoidError(IntegrationError):
    """Anything that went wrong talking to Fakturoid.

    `status` is the HTTP status (None when there was no answer), `message` Fakturoid's own
    message (its error_description or the joined validation messages) or ours, `errors` the
    validation map `{field: [message, ...]}` when Fakturoid sent one, and `maybe_processed`
    says that a POST may have been carried out even though it failed (look it up before
    sending it again).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        errors: dict[str, list[str]] | None = None,
        maybe_processed: bool = False,
        code: str = "",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.errors = errors or {}
        self.maybe_processed = maybe_processed
        self.code = code  # Fakturoid's `error` (upgrade_required, quota_exhausted, ...), if any

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, message={self.message!r})"


class ConfigurationError(FakturoidError):
    """Settings are missing (credentials, organisation, contact e-mail) or invalid."""


class AuthenticationError(FakturoidError):
    """Fakturoid refused the Client ID / Secret ID, or even a brand-new token (401)."""


class AccountBlocked(FakturoidError):
    """The Fakturoid account is blocked for an unpaid Fakturoid subscription (402)."""


class Forbidden(FakturoidError):
    """Fakturoid refused the action (403), e.g. no bank account or a plan limit."""


class NotFound(FakturoidError):
    """The record or URL does not exist (404)."""


class ValidationFailed(FakturoidError):
    """Fakturoid refused the data (422); `errors` maps fields to messages."""


class RateLimited(FakturoidError):
    """Too many requests (429); `retry_after` is the number of seconds until the reset."""

    transient = True

    def __init__(self, message: str, *, retry_after: int | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class Unavailable(FakturoidError):
    """Fakturoid failed or is in maintenance (5xx)."""

    transient = True


class NetworkError(FakturoidError):
    """No answer: the connection failed or timed out."""

    transient = True


class InvalidResponse(FakturoidError):
    """Fakturoid's answer cannot be read: not JSON, empty, a redirect or the wrong shape."""

    transient = True


# --- Our own refusals -----------------------------------------------------------------------


class Refusal(IntegrationError):
    """We did not send anything: the request makes no sense as it stands."""


class NoAccessToAccount(Refusal):
    """The credentials work, but not for the organisation the agency typed."""

    def __init__(self, slug: str, available: list[str]) -> None:
        self.slug = slug
        self.available = available
        names = ", ".join(f'"{name}"' for name in available) or _("none")
        super().__init__(
            _('These credentials have no access to "%(slug)s". They reach: %(names)s.')
            % {"slug": slug, "names": names}
        )


class NothingToBill(Refusal):
    """The client has no billable items in the month: no invoice is made."""


class NoExchangeRate(Refusal):
    """The invoice's currency needs the Czech National Bank's rate and we could not get it:
    Fakturoid requires `exchange_rate` then, so nothing is sent without it."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class AlreadyInvoiced(Refusal):
    """The client already has its invoice for the month (or one is being created right now)."""

    def __init__(self, invoice: "Invoice") -> None:
        self.invoice = invoice
        if invoice.state == invoice.State.PENDING:
            message = _("The invoice of %(client)s for %(period)s is being created right now.")
        else:
            message = _("%(client)s is already invoiced for %(period)s: invoice %(number)s.")
        super().__init__(
            message
            % {
                "client": invoice.client.name,
                "period": invoice.period_label,
                "number": invoice.number,
            }
        )


class AlreadyLinked(Refusal):
    """The client is linked to a Fakturoid contact already: no second contact is created."""

    def __init__(self, client: "Client") -> None:
        self.client = client
        super().__init__(
            _(
                "%(client)s is already linked to the Fakturoid contact #%(id)s: no new contact "
                "was created. Clear its Fakturoid Client ID first to link another one."
            )
            % {"client": client.name, "id": client.fakturoid_subject_id}
        )


class NotSettled(Refusal):
    """An earlier POST of this invoice may still be carried out by Fakturoid: nothing is looked
    up or sent before `until` (the settle time, see fakturoid/timeouts.py)."""

    transient = True

    def __init__(self, invoice: "Invoice", until: datetime) -> None:
        self.invoice = invoice
        self.until = until
        super().__init__(
            _(
                "%(client)s, %(period)s: Fakturoid may still be creating this invoice; check "
                "again at %(time)s (settle time)."
            )
            % {
                "client": invoice.client.name,
                "period": invoice.period_label,
                "time": clock_time(until),
            }
        )


class LookupFailed(IntegrationError):
    """The look-up by custom_id before a new POST failed (503, 429, timeout): we could not
    check whether the invoice exists, so nothing was sent and the outcome stays uncertain.
    `until` is when a new try makes sense."""

    transient = True
    maybe_processed = True  # The invoice may exist: never "was not created".

    def __init__(self, invoice: "Invoice", cause: "FakturoidError") -> None:
        self.invoice = invoice
        self.cause = cause
        wait = getattr(cause, "retry_after", None) or 0
        self.until = timezone.now() + timedelta(seconds=wait)
        super().__init__(
            _(
                "We could not check in Fakturoid whether the invoice of %(client)s for "
                "%(period)s exists: %(error)s Nothing was sent; the invoice stays unconfirmed. "
                "Try again at %(time)s: the check comes first."
            )
            % {
                "client": invoice.client.name,
                "period": invoice.period_label,
                "error": explain(cause),
                "time": clock_time(self.until),
            }
        )


def clock_time(moment: datetime) -> str:
    """HH:MM in the user's time zone, rounded up: at that minute the moment has passed."""
    local = timezone.localtime(moment)
    if local.second or local.microsecond:
        local = local.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return local.strftime("%H:%M")


# --- Reading Fakturoid's error answers ------------------------------------------------------


def api_message(body: Any) -> tuple[str, dict[str, list[str]]]:
    """Fakturoid's message and validation map from an error body (either may be empty)."""
    if not isinstance(body, dict):
        return "", {}
    errors: dict[str, list[str]] = {}
    raw = body.get("errors")
    if isinstance(raw, dict):
        for field, messages in raw.items():
            items = messages if isinstance(messages, list) else [messages]
            errors[str(field)] = [str(message) for message in items]
    elif isinstance(raw, list):
        errors["base"] = [str(message) for message in raw]
    if errors:
        message = "; ".join(f"{field}: {', '.join(msgs)}" for field, msgs in errors.items())
        return message, errors
    for key in ("error_description", "error", "status"):
        if isinstance(body.get(key), str) and body[key].strip():
            return body[key].strip(), {}
    return "", {}


def error_for_status(
    status: int,
    body: Any,
    *,
    readable: bool,
    what: str,
    retry_after: int | None,
    maybe_processed: bool,
    token_request: bool,
) -> FakturoidError:
    """The FakturoidError an error answer (3xx-5xx) means. `readable`: the body was JSON;
    `what`: what the body was instead (for messages)."""
    if 300 <= status < 400:
        return InvalidResponse(
            _("Fakturoid answered with a redirect (%(status)s): check FAKTUROID_API_URL.")
            % {"status": status},
            status=status,
        )
    message, errors = api_message(body)
    oauth_error = body.get("error") if isinstance(body, dict) else None
    code = oauth_error if isinstance(oauth_error, str) else ""
    details = {
        "status": status,
        "errors": errors,
        "maybe_processed": maybe_processed,
        "code": code,
    }
    if status == 401 or (token_request and oauth_error in OAUTH_CREDENTIAL_ERRORS):
        wording = wrong_credentials()
        return AuthenticationError(f"{wording} ({message})" if message else wording, **details)
    if status == 402:
        message = message or _("The Fakturoid account is blocked (unpaid subscription).")
        return AccountBlocked(message, **details)
    if status == 429:
        message = message or _("Too many requests to Fakturoid.")
        return RateLimited(message, retry_after=retry_after, **details)
    if status >= 500:
        if message:
            text = _("Fakturoid is unavailable (HTTP %(status)s): %(message)s")
        elif readable:
            text = _("Fakturoid is unavailable (HTTP %(status)s).")
        else:
            text = _("Fakturoid is unavailable (HTTP %(status)s, %(what)s instead of JSON).")
        return Unavailable(text % {"status": status, "message": message, "what": what}, **details)
    if not readable:
        return InvalidResponse(not_json(status, what), **details)
    error_class = {403: Forbidden, 404: NotFound, 422: ValidationFailed}.get(status, FakturoidError)
    message = message or _("Fakturoid answered %(status)s.") % {"status": status}
    return error_class(message, **details)


def not_json(status: int, what: str) -> str:
    return _("Fakturoid answered %(status)s with %(what)s instead of JSON.") % {
        "status": status,
        "what": what,
    }


# --- What the user reads --------------------------------------------------------------------

# Fakturoid's 403 codes for e-mail, worded for the user.
FORBIDDEN_CODES = {
    "upgrade_required": gettext_lazy(
        "Fakturoid sends e-mails only on paid plans: upgrade the Fakturoid account "
        "(Settings → Subscription), or send the invoice yourself and mark it as sent."
    ),
    "quota_exhausted": gettext_lazy(
        "Fakturoid's daily quota of sent e-mails is used up. Try again tomorrow."
    ),
    "email_delivery_disabled": gettext_lazy(
        "Fakturoid has blocked e-mail delivery for this account (suspected spam). Contact "
        "Fakturoid's support to have it enabled again."
    ),
}


def wrong_credentials() -> str:
    """The one sentence for a Client ID / Secret ID that Fakturoid refuses."""
    return _(
        "Fakturoid does not accept this Client ID and Secret ID. Copy both again from "
        "Fakturoid → Settings → User account → API v3 credentials."
    )


def web_url() -> str:
    """Where Fakturoid's web pages are: the API address without /api/v3 (the real service,
    or the local sandbox's pages)."""
    return settings.FAKTUROID_API_URL.rstrip("/").removesuffix("/api/v3")


def explain(error: IntegrationError) -> str:
    """A sentence for the user: what went wrong and what to do about it."""
    if isinstance(error, ValidationFailed) and "email" in error.errors:
        return _(
            "Fakturoid cannot send to this e-mail address (%(details)s). Check the e-mail of "
            "the contact in Fakturoid or the client's billing e-mail."
        ) % {"details": ", ".join(error.errors["email"])}
    if isinstance(error, ValidationFailed):
        details = "; ".join(
            f"{field}: {', '.join(str(m) for m in messages)}"
            for field, messages in error.errors.items()
        )
        return _("Fakturoid refused the data: %(details)s") % {"details": details or error.message}
    if isinstance(error, AuthenticationError):
        return wrong_credentials()
    if isinstance(error, AccountBlocked):
        return _(
            "The Fakturoid account is blocked (unpaid Fakturoid subscription). Pay it in "
            "Fakturoid, then try again."
        )
    if isinstance(error, Forbidden):
        bank = error.errors.get("bank_account")
        if bank:
            details = " ".join(bank).replace(FAKTUROID_WEB, web_url())
            return _("Fakturoid needs a bank account first: %(details)s") % {"details": details}
        if error.code in FORBIDDEN_CODES:
            return str(FORBIDDEN_CODES[error.code])
        return _("Fakturoid refused the request: %(details)s") % {"details": error.message}
    if isinstance(error, RateLimited):
        return _("Fakturoid's request limit is used up. Try again in %(seconds)s s.") % {
            "seconds": error.retry_after if error.retry_after is not None else 60
        }
    if isinstance(error, NotFound):
        return _("Fakturoid does not know this record: %(details)s") % {"details": error.message}
    if isinstance(error, Unavailable | NetworkError | InvalidResponse):
        return _(
            "Fakturoid could not be reached or answered nonsense (%(details)s). Try again."
        ) % {"details": error.message.rstrip(".")}
    return error.message
