"""The one door to Fakturoid API v3 (https://www.fakturoid.cz/api/v3): transport and token.

`FakturoidClient.for_agency(agency)` holds one `requests.Session` and speaks for one agency:
it gets and shares the agency's OAuth token, sends every request through `_request()` (one HTTP
attempt: timeouts, error mapping, rate-limit headers, the ApiCall log), applies the retry policy
in `_call()` and hands the JSON to the parsers of `fakturoid.documents`.

Every failure is a `fakturoid.errors.FakturoidError` carrying the HTTP status and Fakturoid's
own message; no `requests` exception escapes, and no secret or token is put in a message or log.
"""

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

import requests
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from urllib3.exceptions import NewConnectionError

from agencies.models import Agency, FakturoidSettings
from fakturoid import budget
from fakturoid.configuration import configured_settings, contact_email
from fakturoid.documents import (
    Account,
    InvoiceDocument,
    PaymentDocument,
    RateLimit,
    Subject,
    User,
    WebhookDocument,
    parse,
    parse_account,
    parse_invoice,
    parse_payment,
    parse_rate_limit,
    parse_subject,
    parse_user,
    parse_webhook,
)
from fakturoid.errors import (
    AuthenticationError,
    FakturoidError,
    InvalidResponse,
    NetworkError,
    RateLimited,
    Unavailable,
    error_for_status,
    not_json,
)
from fakturoid.models import ApiCall

logger = logging.getLogger(__name__)

MAX_PAGES = 1000  # A server that never sends an empty page must not loop us forever.
PAGE_SIZE = 40  # A shorter page is the last one.
TOKEN_MARGIN_SECONDS = 60  # A token this close to expiry is replaced before use.
MAX_GET_ATTEMPTS = 3
BACKOFF_SECONDS = (0.5, 1.5)  # Waits before the 2nd and 3rd attempt of a GET.
DEFAULT_TOKEN_LIFETIME = 7200

# Every wait goes through this name, so tests can replace it and stay fast.
_sleep = time.sleep

# One keep-alive HTTP session per Fakturoid account and thread: a worker creating hundreds of
# invoices opens one TCP and TLS connection, not one per invoice.
_sessions = threading.local()


def _session(base_url: str, user_agent: str) -> requests.Session:
    sessions = _sessions.__dict__.setdefault("by_account", {})
    session = sessions.get((base_url, user_agent))
    if session is None:
        session = sessions[(base_url, user_agent)] = requests.Session()
        session.headers.update({"User-Agent": user_agent, "Accept": "application/json"})
        # What requests would read from the environment on every request (proxies, NO_PROXY,
        # a CA bundle) is read once, for the one address this session talks to: scanning the
        # environment cost more than the rest of sending a request.
        session.proxies = requests.utils.get_environ_proxies(base_url)
        # As requests does it: an empty variable means the default (verify), never "don't".
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        session.verify = bundle or True
        session.trust_env = False
    return session


# --- Transport ------------------------------------------------------------------------


@dataclass(frozen=True)
class CallRecord:
    """One HTTP attempt, as handed to the client's `on_call` hook (and the ApiCall log)."""

    method: str
    path: str
    status: int | None
    duration_ms: int
    rate_limit_remaining: int | None
    error: str
    created_at: datetime  # when the attempt was made


def log_calls(agency_id: int, calls: list[CallRecord]) -> None:
    """Write HTTP attempts to the agency's ApiCall log, any number in one INSERT (a worker
    logs a batch of invoices at once). Never raises: inside a caller's transaction the INSERT
    is a savepoint, so that a failed one does not break it."""
    if not calls:
        return
    try:
        inside = transaction.get_connection().in_atomic_block
        with transaction.atomic() if inside else nullcontext():
            ApiCall.objects.bulk_create(
                ApiCall(agency_id=agency_id, **asdict(call)) for call in calls
            )
    except DatabaseError:
        logger.warning("Could not write the Fakturoid API call log", exc_info=True)


class _BearerAuth(requests.auth.AuthBase):
    """Sets the Authorization header (as `auth`, so a ~/.netrc can never replace it)."""

    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request

    def __repr__(self) -> str:
        return "_BearerAuth(<hidden>)"


def _may_have_arrived(error: requests.RequestException) -> bool:
    """Whether Fakturoid may have received the request despite the failure.

    Only a connection that was never made is sure: a read timeout or a connection dropped
    mid-way may come after Fakturoid carried the request out.
    """
    if isinstance(error, requests.ConnectTimeout):
        return False
    if isinstance(error, requests.ConnectionError):
        reason = error.args[0] if error.args else None
        return not isinstance(getattr(reason, "reason", reason), NewConnectionError)
    return True


class FakturoidClient:
    """Fakturoid API v3 for one agency.

    `fakturoid` is the agency's FakturoidSettings. When it is saved, the access token is shared
    through its database row (refreshed under a lock, see `_locked_settings`) and each HTTP
    attempt is written to the ApiCall log. When it is unsaved (checking credentials typed in a
    form), the token lives on the instance only and nothing is written. Either way the token
    in use is set on the instance. `on_call` replaces the logging hook with any callable that
    takes a CallRecord.

    Every request first takes one from the account's request budget, shared by all processes
    (`fakturoid.budget`). A person's request (the default) may use the whole budget and waits
    at most FAKTUROID_MAX_RATE_LIMIT_WAIT for it. A `background` client (workers) leaves
    FAKTUROID_RATE_LIMIT_RESERVE requests of each window to people and waits up to
    FAKTUROID_BACKGROUND_MAX_WAIT. A longer wait raises RateLimited with `retry_after`, before
    anything is sent.
    A client that is about to send `expected_requests` (a worker's batch) takes them from the
    budget a few at a time; `close()` gives back those it did not send.

    Raises ConfigurationError when a setting needed for any request is missing.
    """

    def __init__(
        self,
        fakturoid: FakturoidSettings,
        *,
        on_call: Callable[[CallRecord], None] | None = None,
        background: bool = False,
        expected_requests: int = 1,
    ) -> None:
        self.fakturoid = fakturoid
        self.base_url = settings.FAKTUROID_API_URL.rstrip("/")
        email = contact_email(self.base_url, fakturoid)
        self.timeout = (settings.FAKTUROID_CONNECT_TIMEOUT, settings.FAKTUROID_READ_TIMEOUT)
        if background:
            self.max_rate_limit_wait = settings.FAKTUROID_BACKGROUND_MAX_WAIT
            self.reserve = settings.FAKTUROID_RATE_LIMIT_RESERVE
        else:
            self.max_rate_limit_wait = settings.FAKTUROID_MAX_RATE_LIMIT_WAIT
            self.reserve = 0
        self.budget_account = f"{self.base_url}#{fakturoid.account_slug}"
        self.lease = budget.Lease(
            self.budget_account, reserve=self.reserve, expected=expected_requests
        )
        self.on_call = on_call or self._log_call
        self.rate_limit: RateLimit | None = None
        self.session = _session(self.base_url, f"{settings.FAKTUROID_APP_NAME} ({email})")

    @classmethod
    def for_agency(cls, agency: Agency, **kwargs: Any) -> "FakturoidClient":
        """The client for an agency whose Fakturoid is set up; raises ConfigurationError when
        it is not."""
        return cls(configured_settings(agency), **kwargs)

    def close(self) -> None:
        """Give back the requests taken from the budget ahead and not sent."""
        self.lease.give_back()

    # --- Endpoints --------------------------------------------------------------------------

    # https://www.fakturoid.cz/api/v3/users
    def get_user(self) -> User:
        """The user the credentials belong to, with the accounts they reach (GET /user.json).

        Raises AuthenticationError, NetworkError, Unavailable or another FakturoidError.
        """
        return parse(parse_user, self._call("GET", "/user.json"))

    # https://www.fakturoid.cz/api/v3/account
    def get_account(self) -> Account:
        """The agency's Fakturoid account: name, VAT mode, currency, due days.

        Raises AuthenticationError, NotFound (no such organisation), AccountBlocked,
        NetworkError, Unavailable or another FakturoidError.
        """
        return parse(parse_account, self._call("GET", self._account_path("/account.json")))

    # https://www.fakturoid.cz/api/v3/subjects
    def search_subjects(self, query: str) -> list[Subject]:
        """Contacts whose name, full name, e-mail, IČO, DIČ or note contain `query`
        (every page). Raises FakturoidError subclasses."""
        path = self._account_path("/subjects/search.json")
        return [parse(parse_subject, item) for item in self._pages(path, {"query": query})]

    # https://www.fakturoid.cz/api/v3/subjects
    def list_subjects(self, custom_id: str | None = None) -> list[Subject]:
        """All contacts (every page), or those with our `custom_id`. Raises FakturoidError
        subclasses."""
        params = {"custom_id": custom_id} if custom_id is not None else {}
        path = self._account_path("/subjects.json")
        return [parse(parse_subject, item) for item in self._pages(path, params)]

    # https://www.fakturoid.cz/api/v3/subjects
    def get_subject(self, subject_id: int) -> Subject:
        """The contact `subject_id`. Raises NotFound for an unknown id, or another
        FakturoidError."""
        path = self._account_path(f"/subjects/{int(subject_id)}.json")
        return parse(parse_subject, self._call("GET", path))

    # https://www.fakturoid.cz/api/v3/subjects
    def create_subject(self, data: dict) -> Subject:
        """Create a contact from `data` (only `name` is required); returns it (201).

        Raises ValidationFailed (with `errors`), Forbidden (plan limit), or another
        FakturoidError; NetworkError/Unavailable with `maybe_processed` when it may exist.
        """
        body = self._call("POST", self._account_path("/subjects.json"), data)
        return parse(parse_subject, body, maybe_processed=True)

    # https://www.fakturoid.cz/api/v3/invoices
    def create_invoice(self, data: dict) -> InvoiceDocument:
        """Create an invoice from `data`; returns it, final and numbered (201). Never retried.

        Raises ValidationFailed, Forbidden (e.g. no bank account: `errors["bank_account"]`),
        AccountBlocked, or NetworkError/Unavailable/InvalidResponse with `maybe_processed`
        True when the invoice may exist: look it up by custom_id before trying again.
        """
        body = self._call("POST", self._account_path("/invoices.json"), data)
        return parse(parse_invoice, body, maybe_processed=True)

    # https://www.fakturoid.cz/api/v3/invoices
    def get_invoice(self, invoice_id: int) -> InvoiceDocument:
        """The invoice `invoice_id`. Raises NotFound for an unknown id, or another
        FakturoidError."""
        path = self._account_path(f"/invoices/{int(invoice_id)}.json")
        return parse(parse_invoice, self._call("GET", path))

    # https://www.fakturoid.cz/api/v3/invoices
    def find_invoices(self, *, custom_id: str) -> list[InvoiceDocument]:
        """Invoices with our `custom_id` (every page; normally none or one). Raises
        FakturoidError subclasses."""
        path = self._account_path("/invoices.json")
        return [parse(parse_invoice, item) for item in self._pages(path, {"custom_id": custom_id})]

    # https://www.fakturoid.cz/api/v3/invoices (download invoice PDF)
    def download_invoice_pdf(self, invoice_id: int) -> bytes | None:
        """The invoice's PDF, or None while Fakturoid is still generating it (204).

        Raises NotFound for an unknown id, or another FakturoidError.
        """
        path = self._account_path(f"/invoices/{int(invoice_id)}/download.pdf")
        return self._call("GET", path, raw=True) or None

    # https://www.fakturoid.cz/api/v3/invoices (index filter updated_since)
    def list_invoices_changed(self, *, updated_since: datetime | None) -> list[InvoiceDocument]:
        """Every invoice changed since `updated_since` (all invoices for None), page by page,
        stopping at a page shorter than 40: 1,000 unchanged invoices cost one request.

        Raises FakturoidError subclasses.
        """
        path = self._account_path("/invoices.json")
        params = {"updated_since": updated_since.isoformat()} if updated_since else {}
        return [parse(parse_invoice, item) for item in self._pages(path, params)]

    # https://www.fakturoid.cz/api/v3/invoices (fire action)
    def fire_invoice(self, invoice_id: int, event: str) -> None:
        """Fire `event` (mark_as_sent, cancel, ...) on the invoice (204). Raises
        ValidationFailed when the event cannot be fired, or another FakturoidError."""
        path = self._account_path(f"/invoices/{int(invoice_id)}/fire.json")
        self._call("POST", path, params={"event": event}, expect_body=False)

    # https://www.fakturoid.cz/api/v3/invoice-payments
    def create_payment(self, invoice_id: int, data: dict) -> PaymentDocument:
        """Record a payment of the invoice (`paid_on`, `amount`, `send_thank_you_email`, ...);
        returns it (201). Raises Forbidden (already paid, cancelled), ValidationFailed (bad
        amount or date), or another FakturoidError."""
        path = self._account_path(f"/invoices/{int(invoice_id)}/payments.json")
        return parse(parse_payment, self._call("POST", path, data), maybe_processed=True)

    # https://www.fakturoid.cz/api/v3/invoice-payments
    def delete_payment(self, invoice_id: int, payment_id: int) -> None:
        """Remove a payment of the invoice (204). Raises NotFound, Forbidden (cancelled
        invoice) or another FakturoidError."""
        path = f"/invoices/{int(invoice_id)}/payments/{int(payment_id)}.json"
        self._call("DELETE", self._account_path(path), expect_body=False)

    # https://www.fakturoid.cz/api/v3/invoice-messages
    def send_invoice_message(self, invoice_id: int, data: dict | None = None) -> None:
        """E-mail the invoice (or a reminder) through Fakturoid (204); `data` may set `email`,
        `email_copy`, `subject`, `message`. Raises Forbidden (free plan `upgrade_required`,
        `quota_exhausted`, `email_delivery_disabled`), ValidationFailed (bad e-mail), or
        another FakturoidError."""
        path = self._account_path(f"/invoices/{int(invoice_id)}/message.json")
        self._call("POST", path, data or {}, expect_body=False)

    # https://www.fakturoid.cz/api/v3/webhooks
    def create_webhook(self, data: dict) -> WebhookDocument:
        """Register a webhook (`webhook_url`, `events`, `auth_header`); returns it (201).
        Raises Forbidden when webhooks are not enabled for the credentials or the plan."""
        body = self._call("POST", self._account_path("/webhooks.json"), data)
        return parse(parse_webhook, body, maybe_processed=True)

    # https://www.fakturoid.cz/api/v3/webhooks
    def delete_webhook(self, webhook_id: int) -> None:
        """Remove a webhook (204). Raises NotFound when it is gone already."""
        path = self._account_path(f"/webhooks/{int(webhook_id)}.json")
        self._call("DELETE", path, expect_body=False)

    # --- Plumbing ---------------------------------------------------------------------------

    def _account_path(self, path: str) -> str:
        return f"/accounts/{quote(self.fakturoid.account_slug, safe='')}{path}"

    def _pages(self, path: str, params: dict[str, str]) -> Iterator[Any]:
        """Every item of a collection: ?page=1, 2, ... until a page holds fewer than 40 items
        (an empty page, too, says there are no more)."""
        for page in range(1, MAX_PAGES + 1):
            items = self._call("GET", path, params={**params, "page": page})
            if not isinstance(items, list):
                raise InvalidResponse(_("Fakturoid answered a list request without a list."))
            yield from items
            if len(items) < PAGE_SIZE:
                return
        raise InvalidResponse(_("Fakturoid kept sending pages beyond %(n)s.") % {"n": MAX_PAGES})

    def _call(
        self,
        method: str,
        path: str,
        data: dict | None = None,
        *,
        params: dict | None = None,
        expect_body: bool = True,
        raw: bool = False,
    ) -> Any:
        """One API request under the retry policy; returns the JSON body (None if none), or
        with `raw` the body's bytes.

        A 401 gets one new token and one repeat. A 429 whose reset is near is waited out once,
        until the reset and a margin. Only a GET is repeated after a network error or 5xx (at
        most MAX_GET_ATTEMPTS tries).
        """
        attempt = 1
        refreshed = waited = False
        while True:
            token = self._token()
            try:
                return self._request(
                    method,
                    path,
                    json=data,
                    params=params,
                    auth=_BearerAuth(token),
                    expect_body=expect_body,
                    raw=raw,
                )
            except AuthenticationError:
                if refreshed:
                    raise
                refreshed = True
                self._refresh_token(failed_token=token)
            except RateLimited as error:
                wait = error.retry_after
                if waited or wait is None or wait > self.max_rate_limit_wait:
                    raise
                waited = True
                logger.info("Fakturoid rate limit reached, waiting %s s", wait)
                _sleep(wait + budget.RESET_MARGIN.total_seconds())
            except (NetworkError, Unavailable) as error:
                if method != "GET" or attempt >= MAX_GET_ATTEMPTS:
                    raise
                logger.warning("Fakturoid %s %s failed (%r), retrying", method, path, error)
                _sleep(BACKOFF_SECONDS[attempt - 1])
                attempt += 1

    def _request(
        self,
        method: str,
        path: str,
        *,
        auth: requests.auth.AuthBase | tuple[str, str],
        json: dict | None = None,
        params: dict | None = None,
        expect_body: bool = True,
        token_request: bool = False,
        raw: bool = False,
    ) -> Any:
        """One HTTP attempt: send it, log it, and return the JSON body or raise its error."""
        if not token_request and not self.lease.use():
            budget.wait_for_request(
                self.budget_account,
                reserve=self.reserve,
                max_wait=self.max_rate_limit_wait,
                sleep=_sleep,
            )
        status, rate_limit, result, error = None, None, None, None
        started, at = time.monotonic(), timezone.now()
        try:
            response = self.session.request(
                method,
                self.base_url + path,
                params=params,
                json=json,
                auth=auth,
                headers={"Accept": "application/pdf"} if raw else None,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            error = self._network_error(method, exc)
        else:
            status = response.status_code
            rate_limit = parse_rate_limit(response.headers)
            if rate_limit is not None:
                self.rate_limit = rate_limit
                budget.correct(self.budget_account, rate_limit, limited=status == 429)
            try:
                if raw and 200 <= response.status_code < 300:
                    result = response.content
                else:
                    result = self._read(method, response, rate_limit, expect_body, token_request)
            except FakturoidError as exc:
                error = exc
        self._record(
            CallRecord(
                method=method,
                path=(f"{path}?{urlencode(params)}" if params else path)[:500],
                status=status,
                duration_ms=round((time.monotonic() - started) * 1000),
                rate_limit_remaining=rate_limit.remaining if rate_limit else None,
                error=f"{type(error).__name__}: {error.message}"[:500] if error else "",
                created_at=at,
            )
        )
        if error is not None:
            raise error
        return result

    def _read(
        self,
        method: str,
        response: requests.Response,
        rate_limit: RateLimit | None,
        expect_body: bool,
        token_request: bool,
    ) -> Any:
        """The JSON body of a successful response, or the FakturoidError its status means.

        When the body is not JSON, the status still decides where it alone says what happened
        (401, 402, 429, 5xx); anything else becomes InvalidResponse.
        """
        status = response.status_code
        body, readable = None, False
        if response.content:
            try:
                body, readable = response.json(), True
            except ValueError:
                pass
        # A POST answered 2xx or 5xx may have been carried out: the caller must look it up.
        maybe_processed = method != "GET" and (200 <= status < 300 or status >= 500)
        if 200 <= status < 300:
            if readable or (not expect_body and not response.content):
                return body
            raise InvalidResponse(
                not_json(status, _describe_body(response)),
                status=status,
                maybe_processed=maybe_processed,
            )
        raise error_for_status(
            status,
            body,
            readable=readable,
            what=_describe_body(response),
            retry_after=rate_limit.reset_seconds if rate_limit else None,
            maybe_processed=maybe_processed,
            token_request=token_request,
        )

    def _network_error(self, method: str, error: requests.RequestException) -> NetworkError:
        if isinstance(error, requests.Timeout):
            message = _("Fakturoid did not answer in time (%(kind)s).")
        elif isinstance(error, requests.ConnectionError):
            message = _("Could not connect to Fakturoid (%(kind)s).")
        else:
            message = _("The request to Fakturoid failed (%(kind)s).")
        return NetworkError(
            message % {"kind": type(error).__name__},
            maybe_processed=method != "GET" and _may_have_arrived(error),
        )

    def _record(self, call: CallRecord) -> None:
        if call.error:
            logger.info("Fakturoid %s %s failed: %s", call.method, call.path, call.error)
        else:
            logger.debug("Fakturoid %s %s: %s", call.method, call.path, call.status)
        self.on_call(call)

    def _log_call(self, call: CallRecord) -> None:
        """The default `on_call` hook: an ApiCall row for saved settings. Never raises."""
        if self.fakturoid.pk is not None:
            log_calls(self.fakturoid.agency_id, [call])

    # --- Token ------------------------------------------------------------------------------

    def _token(self) -> str:
        """An access token that is not about to expire: the one held, or a new one."""
        if self.fakturoid.token_is_fresh(margin_seconds=TOKEN_MARGIN_SECONDS):
            return self.fakturoid.access_token
        return self._refresh_token()

    def _refresh_token(self, *, failed_token: str | None = None) -> str:
        """A fresh token other than `failed_token`, requested from Fakturoid only if needed.

        For saved settings the stored token is re-read under a lock first: of several
        processes needing a token at once, one requests it and the others reuse it (a new
        token may invalidate the old one, so there must be only one).
        """
        if self.fakturoid.pk is None:
            credentials = (self.fakturoid.api_client_id, self.fakturoid.api_client_secret)
            return self._adopt(*self._request_token(*credentials))
        with _locked_settings(self.fakturoid.pk) as row:
            fresh = row.token_is_fresh(margin_seconds=TOKEN_MARGIN_SECONDS)
            if fresh and row.access_token != failed_token:
                return self._adopt(row.access_token, row.token_expires_at)
            try:
                # The row's credentials: an owner may have changed them since we loaded ours.
                token, expires_at = self._request_token(row.api_client_id, row.api_client_secret)
            except FakturoidError as error:
                # Leave the block normally, so the log row of the failed attempt is kept.
                failure = error
            else:
                row.access_token, row.token_expires_at = token, expires_at
                row.save(update_fields=["access_token", "token_expires_at", "updated_at"])
                return self._adopt(token, expires_at)
        raise failure

    # https://www.fakturoid.cz/api/v3/authorization (client credentials flow)
    def _request_token(self, client_id: str, client_secret: str) -> tuple[str, datetime]:
        """A new access token and when it expires. Raises AuthenticationError for wrong
        credentials, or another FakturoidError."""
        try:
            body = self._request(
                "POST",
                "/oauth/token",
                json={"grant_type": "client_credentials"},
                auth=(client_id, client_secret),
                token_request=True,
            )
        except FakturoidError as error:
            # Whatever became of the token request, the request that needed the token was
            # never sent: nothing of the caller's may have been carried out.
            error.maybe_processed = False
            raise
        token = body.get("access_token") if isinstance(body, dict) else None
        try:
            expires_in = int(body.get("expires_in") or DEFAULT_TOKEN_LIFETIME)
        except (TypeError, ValueError, AttributeError):
            expires_in = DEFAULT_TOKEN_LIFETIME
        if not isinstance(token, str) or not token:
            raise InvalidResponse(_("Fakturoid's token answer has no access token."))
        return token, timezone.now() + timedelta(seconds=expires_in)

    def _adopt(self, token: str, expires_at: datetime) -> str:
        """Hold `token` on the settings instance (callers may save it or read it)."""
        self.fakturoid.access_token = token
        self.fakturoid.token_expires_at = expires_at
        return token


_process_locks: dict[int, threading.Lock] = {}
_process_locks_guard = threading.Lock()


@contextmanager
def _locked_settings(pk: int) -> Iterator[FakturoidSettings]:
    """The stored settings row, locked against other token refreshes until the block ends.

    Threads of this process wait on a process lock. Across processes the row is locked with
    SELECT ... FOR UPDATE (PostgreSQL), held while the token is requested. SQLite has no row
    locks: its transaction would lock the whole database for the duration of the request,
    stalling every writer, the local sandbox serving that very request included. There the
    process lock is all (SQLite deployments run one process); should two processes still
    both get a token, the one whose token was invalidated gets a 401 and re-reads the row.
    """
    with _process_locks_guard:
        process_lock = _process_locks.setdefault(pk, threading.Lock())
    with process_lock:
        if not connection.features.has_select_for_update:
            yield FakturoidSettings.objects.get(pk=pk)
            return
        with transaction.atomic():
            yield FakturoidSettings.objects.select_for_update().get(pk=pk)


def _describe_body(response: requests.Response) -> str:
    """What a response carries, for messages; never the body itself (it could hold a token)."""
    if not response.content:
        return _("an empty body")
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type == "text/html" or response.content.lstrip()[:1] == b"<":
        return _("an HTML page")
    if "json" in content_type:
        return _("invalid JSON")
    return _("unreadable content (%(type)s)") % {"type": content_type or "?"}
