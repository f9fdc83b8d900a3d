"""The sandbox's Fakturoid API v3 views (JSON, Bearer tokens) and its control endpoint.

Every API request goes through `_serve`, in Fakturoid's order: the User-Agent header, then
authentication (Basic client credentials on the token endpoint, a Bearer token elsewhere, the
path's account must be the token's), then the account's rate limit and switches (`Account.admit`),
then the view. Once the account is known, every answer carries the rate-limit headers.
"""

import base64
import binascii
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt

from fakturoid_sandbox import control, invoice_actions, services, webhooks
from fakturoid_sandbox.errors import ApiError, api_error, forced_failure, not_found
from fakturoid_sandbox.models import PAGE_SIZE, Account, Credential, Invoice, Token
from fakturoid_sandbox.pdf import invoice_pdf
from fakturoid_sandbox.serializers import (
    account_json,
    invoice_api_url,
    invoice_json,
    payment_json,
    subject_api_url,
    subject_json,
    user_json,
)

JSON_TYPES = ("*/*", "application/*", "application/json")


@dataclass(frozen=True)
class Caller:
    """Who is calling: the credential behind the token and its account."""

    credential: Credential
    account: Account


def _error_response(error: ApiError) -> JsonResponse:
    return JsonResponse(error.body, status=error.status)


def no_content() -> HttpResponse:
    return HttpResponse(status=204)


def _sleep(milliseconds: int) -> None:
    if milliseconds > 0:
        time.sleep(min(milliseconds, control.MAX_DELAY_MS) / 1000)


def _client_credential(request: HttpRequest) -> Credential:
    """The credential of the HTTP Basic header; 401 when missing, malformed or wrong."""
    header = request.headers.get("Authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        body = _token_body(request)
        if "client_id" in body or "client_secret" in body:
            raise api_error(
                401,
                "invalid_request",
                "Client ID and Client Secret have to be sent via HTTP Basic Authorization",
            )
        raise _invalid_client()
    try:
        decoded = base64.b64decode(encoded.strip().translate(str.maketrans("-_", "+/")) + "==")
        client_id, _, client_secret = decoded.decode().partition(":")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise _invalid_client() from exc
    credential = (
        Credential.objects.select_related("account").filter(client_id=client_id).first()
        if client_id
        else None
    )
    if credential is None or not _same(credential.client_secret, client_secret):
        raise _invalid_client()
    return credential


def _same(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.encode())


def _invalid_client() -> ApiError:
    return api_error(
        401,
        "invalid_client",
        "Client authentication failed due to unknown client, no client authentication "
        "included, or unsupported authentication method.",
    )


def _bearer_credential(request: HttpRequest) -> Credential:
    """The credential of a valid, unexpired, unrevoked Bearer token; 401 otherwise."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise api_error(401, "invalid_token", "The access token is missing")
    token = Token.objects.select_related("credential__account").filter(token=value.strip()).first()
    if token is None:
        raise api_error(401, "invalid_token", "The access token is invalid")
    if token.revoked:
        raise api_error(401, "invalid_token", "The access token was revoked")
    if token.expires_at <= timezone.now():
        raise api_error(401, "invalid_token", "The access token expired")
    return token.credential


def _accepts_json(request: HttpRequest) -> bool:
    accept = request.headers.get("Accept", "")
    if not accept.strip():
        return True
    types = {part.split(";")[0].strip().lower() for part in accept.split(",")}
    return any(media_type in types for media_type in JSON_TYPES)


def _serve(
    request: HttpRequest,
    view: Callable[..., HttpResponse],
    *,
    methods: tuple[str, ...],
    scope: str,
    produces_json: bool,
    kwargs: dict[str, Any],
) -> HttpResponse:
    if not request.headers.get("User-Agent", "").strip():
        return _error_response(
            api_error(400, "invalid_request", 'Required header "User-Agent" is missing')
        )
    try:
        if produces_json and not _accepts_json(request):
            raise api_error(415, "unsupported_media_type", "Only JSON responses are available")
        if request.method not in methods:
            raise api_error(405, "method_not_allowed", f"{request.method} is not allowed here")
        if scope == "token":
            credential = _client_credential(request)
        else:
            credential = _bearer_credential(request)
        if scope == "account" and kwargs.get("slug") != credential.account.slug:
            raise not_found("Account")
    except ApiError as error:
        return _error_response(error)

    account = credential.account
    admission = Account.admit(account.pk)
    if admission.limited:
        response = _error_response(api_error(429, "too_many_requests", "Rate limit exceeded"))
    else:
        _sleep(admission.delay_ms)
        try:
            if scope == "account" and admission.blocked:
                raise api_error(
                    402,
                    "payment_required",
                    "Account blocked for an unpaid Fakturoid subscription",
                )
            if admission.fail_status and not admission.fail_after_processing:
                raise forced_failure(admission.fail_status)
            response = view(request, Caller(credential=credential, account=account), **kwargs)
        except ApiError as error:
            response = _error_response(error)
        if admission.fail_status and admission.fail_after_processing:
            # Carried out (and committed), but the client never learns it: a lost response.
            response = _error_response(forced_failure(admission.fail_status))
        _sleep(admission.delay_after_ms)
    for header, value in admission.headers.items():
        response[header] = value
    return response


def endpoint(
    *methods: str, scope: str = "account", produces_json: bool = True
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Make `view(request, caller, **kwargs)` an API view: no login, no CSRF, the pipeline."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_not_required
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, **kwargs: Any) -> HttpResponse:
            return _serve(
                request,
                view,
                methods=methods,
                scope=scope,
                produces_json=produces_json,
                kwargs=kwargs,
            )

        return wrapper

    return decorate


def _token_body(request: HttpRequest) -> dict:
    """The token request's parameters, JSON or form-encoded."""
    if not request.body:
        return {}
    if request.content_type == "application/json" or request.body.lstrip().startswith(b"{"):
        try:
            data = json.loads(request.body)
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return request.POST.dict()
    return QueryDict(request.body, encoding=request.encoding).dict()


def request_payload(request: HttpRequest) -> dict:
    """The JSON object of the request body ({} when empty); 400 for anything else."""
    if not request.body.strip():
        return {}
    try:
        data = json.loads(request.body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise api_error(400, "invalid_request", "The request body is not valid JSON") from exc
    return services.require_object(data)


def paginate(request: HttpRequest, queryset: QuerySet) -> QuerySet:
    try:
        page = max(int(request.GET.get("page", "1")), 1)
    except ValueError:
        page = 1
    start = (page - 1) * PAGE_SIZE
    return queryset[start : start + PAGE_SIZE]


def _datetime_filters(request: HttpRequest, queryset: QuerySet, names: dict) -> QuerySet:
    """Apply `since`-style filters; an unparseable datetime → 400 as in Fakturoid."""
    for name, lookup in names.items():
        raw = request.GET.get(name)
        if raw is None:
            continue
        try:
            moment = parse_datetime(raw)
        except ValueError:
            moment = None
        if moment is None:
            raise api_error(400, "invalid_request", f"Invalid date format for {name}")
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        queryset = queryset.filter(**{lookup: moment})
    return queryset


def created_response(body: dict, location: str) -> JsonResponse:
    response = JsonResponse(body, status=201)
    response["Location"] = location
    return response


def _invoices(account: Account) -> QuerySet:
    return (
        account.invoices.live()
        .select_related("account", "subject")
        .prefetch_related("lines", "payments")
    )


def _get_invoice(account: Account, pk: int) -> Invoice:
    invoice = _invoices(account).filter(pk=pk).first()
    if invoice is None:
        raise not_found("Invoice")
    return invoice


# OAuth and account


@endpoint("POST", scope="token")
def token(request: HttpRequest, caller: Caller) -> HttpResponse:
    grant_type = _token_body(request).get("grant_type")
    if not grant_type:
        raise api_error(400, "invalid_request", "Missing required parameter: grant_type.")
    if grant_type != "client_credentials":
        raise api_error(
            400,
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server.",
        )
    issued = caller.credential.issue_token()
    response = JsonResponse(
        {"access_token": issued.token, "token_type": "Bearer", "expires_in": 7200}
    )
    response["Cache-Control"] = "no-store"
    return response


@endpoint("GET", scope="user")
def user(request: HttpRequest, caller: Caller) -> HttpResponse:
    return JsonResponse(user_json(request, caller.credential))


@endpoint("GET")
def account(request: HttpRequest, caller: Caller, slug: str) -> HttpResponse:
    return JsonResponse(account_json(caller.account))


# Subjects


@endpoint("GET", "POST")
def subjects(request: HttpRequest, caller: Caller, slug: str) -> HttpResponse:
    if request.method == "POST":
        subject = services.create_subject(account=caller.account, data=request_payload(request))
        return created_response(subject_json(request, subject), subject_api_url(request, subject))
    queryset = caller.account.subjects.select_related("account")
    if "custom_id" in request.GET:
        queryset = queryset.filter(custom_id=request.GET["custom_id"])
    queryset = _datetime_filters(
        request, queryset, {"since": "created_at__gte", "updated_since": "updated_at__gte"}
    )
    return JsonResponse([subject_json(request, s) for s in paginate(request, queryset)], safe=False)


@endpoint("GET")
def subject_search(request: HttpRequest, caller: Caller, slug: str) -> HttpResponse:
    query = request.GET.get("query", "").strip()
    if not query:
        raise api_error(400, "invalid_request", "Missing required parameter: query")
    queryset = caller.account.subjects.select_related("account").search(query)
    return JsonResponse([subject_json(request, s) for s in paginate(request, queryset)], safe=False)


@endpoint("GET", "PATCH", "DELETE")
def subject(request: HttpRequest, caller: Caller, slug: str, pk: int) -> HttpResponse:
    found = caller.account.subjects.select_related("account").filter(pk=pk).first()
    if found is None:
        raise not_found("Subject")
    if request.method == "DELETE":
        services.delete_subject(subject=found)
        return no_content()
    if request.method == "PATCH":
        services.update_subject(subject=found, data=request_payload(request))
    return JsonResponse(subject_json(request, found))


# Invoices


@endpoint("GET", "POST")
def invoices(request: HttpRequest, caller: Caller, slug: str) -> HttpResponse:
    if request.method == "POST":
        created = services.create_invoice(account=caller.account, data=request_payload(request))
        invoice = _get_invoice(caller.account, created.pk)
        return created_response(invoice_json(request, invoice), invoice_api_url(request, invoice))
    webhooks.notice_overdue(account=caller.account)
    queryset = _invoices(caller.account).matching(request.GET, today=timezone.localdate())
    queryset = _datetime_filters(
        request,
        queryset,
        {
            "since": "created_at__gte",
            "until": "created_at__lte",
            "updated_since": "updated_at__gte",
            "updated_until": "updated_at__lte",
        },
    )
    return JsonResponse([invoice_json(request, i) for i in paginate(request, queryset)], safe=False)


@endpoint("GET", "PATCH", "DELETE")
def invoice(request: HttpRequest, caller: Caller, slug: str, pk: int) -> HttpResponse:
    found = _get_invoice(caller.account, pk)
    if request.method == "DELETE":
        invoice_actions.delete_invoice(invoice=found)
        return no_content()
    if request.method == "PATCH":
        services.update_invoice(invoice=found, data=request_payload(request))
        found = _get_invoice(caller.account, pk)
    return JsonResponse(invoice_json(request, found))


@endpoint("POST")
def invoice_fire(request: HttpRequest, caller: Caller, slug: str, pk: int) -> HttpResponse:
    found = _get_invoice(caller.account, pk)
    event = request.GET.get("event") or request_payload(request).get("event")
    invoice_actions.fire_event(invoice=found, event=event)
    return no_content()


@endpoint("POST")
def invoice_payments(request: HttpRequest, caller: Caller, slug: str, pk: int) -> HttpResponse:
    found = _get_invoice(caller.account, pk)
    payment = invoice_actions.add_payment(invoice=found, data=request_payload(request))
    return JsonResponse(payment_json(payment), status=201)


@endpoint("DELETE")
def invoice_payment(
    request: HttpRequest, caller: Caller, slug: str, pk: int, payment_pk: int
) -> HttpResponse:
    found = _get_invoice(caller.account, pk)
    invoice_actions.remove_payment(invoice=found, payment_id=payment_pk)
    return no_content()


@endpoint("POST")
def invoice_message(request: HttpRequest, caller: Caller, slug: str, pk: int) -> HttpResponse:
    found = _get_invoice(caller.account, pk)
    invoice_actions.send_message(invoice=found, data=request_payload(request))
    return no_content()


@endpoint("GET", produces_json=False)
def invoice_pdf_download(request: HttpRequest, caller: Caller, slug: str, pk: int) -> HttpResponse:
    """204 on the first request (the PDF "is being generated"), then the PDF."""
    found = _get_invoice(caller.account, pk)
    if not found.pdf_requested:
        Invoice.objects.filter(pk=found.pk).update(pdf_requested=True)
        return no_content()
    response = HttpResponse(invoice_pdf(found), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{found.number}.pdf"'
    return response


@login_not_required
@csrf_exempt
def unknown(request: HttpRequest, path: str = "") -> HttpResponse:
    """Any other path under the API: Fakturoid's 404 (after the User-Agent check)."""
    if not request.headers.get("User-Agent", "").strip():
        return _error_response(
            api_error(400, "invalid_request", 'Required header "User-Agent" is missing')
        )
    return _error_response(not_found("Page"))


# Control endpoint (not part of Fakturoid: the sandbox's switches over HTTP)


@login_not_required
@csrf_exempt
def control_state(request: HttpRequest, slug: str) -> HttpResponse:
    """GET the account's switches; POST a JSON object of the switches to change.

    JSON bodies only: a form or text/plain POST is what another site can make a browser send
    without asking (no CORS preflight), so refusing them stops cross-site switch flipping.
    """
    try:
        if request.method == "GET":
            return JsonResponse(control.get_state(slug))
        if request.method != "POST":
            raise api_error(405, "method_not_allowed", f"{request.method} is not allowed here")
        if request.content_type != "application/json":
            raise api_error(
                415,
                "unsupported_media_type",
                "The control endpoint takes JSON only (Content-Type: application/json)",
            )
        return JsonResponse(control.update_state(slug, **request_payload(request)))
    except Account.DoesNotExist:
        return _error_response(not_found("Account"))
    except control.SwitchError as exc:
        return _error_response(api_error(400, "invalid_request", str(exc)))
    except ApiError as error:
        return _error_response(error)
