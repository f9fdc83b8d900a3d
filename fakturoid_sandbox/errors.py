"""The API's error answers, raised anywhere in the sandbox and rendered by the API views.

Fakturoid has two error body shapes: `{"errors": {field: [messages]}}` for validation (422, and
the 403 of an account without a bank account) and `{"error": code, "error_description": text}`
for everything else.
"""

from http import HTTPStatus


class ApiError(Exception):
    """An HTTP error answer: a status code and the JSON body to send."""

    def __init__(self, status: int, body: dict) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body


def api_error(status: int, code: str, description: str) -> ApiError:
    return ApiError(status, {"error": code, "error_description": description})


class Invalid(ApiError):
    """422 with the field errors (`{"errors": {field: [messages]}}`)."""

    def __init__(self, errors: dict[str, list[str]], status: int = 422) -> None:
        super().__init__(status, {"errors": errors})
        self.errors = errors


def not_found(what: str = "Record") -> ApiError:
    return api_error(404, "not_found", f"{what} not found")


ERROR_CODES = {
    400: "invalid_request",
    401: "invalid_token",
    402: "payment_required",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    415: "unsupported_media_type",
    422: "unprocessable_entity",
    429: "too_many_requests",
}


def forced_failure(status: int) -> ApiError:
    """The answer of a request the `fail_next` switch makes fail with `status`."""
    if status == 503:
        return api_error(503, "server_error", "Temporarily Unavailable")
    if status == 429:
        return api_error(429, "too_many_requests", "Rate limit exceeded")
    if status == 402:
        return api_error(402, "payment_required", "Account blocked")
    code = "server_error" if status >= 500 else ERROR_CODES.get(status, "error")
    try:
        description = HTTPStatus(status).phrase
    except ValueError:
        description = "Error"
    return api_error(status, code, description)
