"""A Fakturoid account inside `responses`, for month-end runs over many clients: invoices are
created (numbered, remembered by custom_id), found by custom_id, e-mailed; `fail` queues the
answers the next requests of a kind get instead (a status, (status, body), "timeout", or
"lost" = carried out and then answered 503).
"""

import copy
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlparse

import requests
from responses import RequestsMock

from tests.support import FAKTUROID_API
from tests.support.fakturoid_mocks import ACCOUNT, RATE, payload

ERRORS = {
    401: {"error": "invalid_token", "error_description": "The access token is invalid"},
    402: {"error": "payment_required", "error_description": "Account is blocked"},
    403: {"errors": {"bank_account": ["Add a bank account in Settings."]}},
    422: {"errors": {"subject_id": ["Contact does not exist."]}},
    429: {"error": "too_many_requests"},
    503: {"error": "service_unavailable"},
}


@dataclass
class FakeAccount:
    invoices: dict[str, list[dict]] = field(default_factory=dict)
    sent: list[int] = field(default_factory=list)
    posted: list[dict] = field(default_factory=list)
    calls: Counter = field(default_factory=Counter)
    fail: dict[str, list] = field(default_factory=dict)  # kind → answers to give first

    def install(self, api: RequestsMock) -> "FakeAccount":
        api.assert_all_requests_are_fired = False
        api.add_callback("POST", f"{ACCOUNT}/invoices.json", callback=self._create)
        api.add_callback("GET", f"{ACCOUNT}/invoices.json", callback=self._find)
        api.add_callback("POST", f"{FAKTUROID_API}/oauth/token", callback=self._token)
        api.add_callback(
            "POST",
            re.compile(rf"{ACCOUNT}/invoices/\d+/message\.json"),
            callback=self._message,
        )
        return self

    def created(self) -> int:
        return sum(len(found) for found in self.invoices.values())

    def duplicates(self) -> int:
        return sum(len(found) - 1 for found in self.invoices.values() if len(found) > 1)

    def _failure(self, kind: str, request) -> tuple | None:  # noqa: ANN001
        self.calls[kind] += 1
        queue = self.fail.get(kind) or []
        if not queue:
            return None
        answer = queue.pop(0)
        if answer == "timeout":
            raise requests.ReadTimeout("read timed out")
        if answer == "lost":
            return "lost"
        if isinstance(answer, tuple):  # (status, body)
            return (answer[0], RATE, json.dumps(answer[1]))
        if answer == 429:
            headers = {**RATE, "X-RateLimit": "default;r=0;t=7"}
            return (429, headers, json.dumps(ERRORS[429]))
        body = ERRORS.get(answer, {"error": "error"})
        return (answer, RATE, json.dumps(body))

    def _create(self, request) -> tuple:  # noqa: ANN001
        failure = self._failure("create", request)
        if failure is not None and failure != "lost":
            return failure
        body = json.loads(request.body)
        self.posted.append(body)
        document = copy.deepcopy(payload("invoice_created.json"))
        number = f"2026-{self.created() + 1:04d}"
        document_id = 1000 + self.created()
        net = sum(float(line["unit_price"]) for line in body["lines"])
        vat = sum(float(ln["unit_price"]) * ln.get("vat_rate", 0) / 100 for ln in body["lines"])
        document.update(
            {
                "id": document_id,
                "custom_id": body["custom_id"],
                "number": number,
                "currency": body["currency"],
                "subtotal": f"{net:.2f}",
                "total": f"{net + vat:.2f}",
                "html_url": f"https://app.fakturoid.cz/acme/invoices/{document_id}",
                "pdf_url": f"{ACCOUNT}/invoices/{document_id}/download.pdf",
            }
        )
        self.invoices.setdefault(body["custom_id"], []).append(document)
        if failure == "lost":
            return (503, RATE, json.dumps(ERRORS[503]))
        return (201, RATE, json.dumps(document))

    def _find(self, request) -> tuple:  # noqa: ANN001
        failure = self._failure("find", request)
        if failure is not None and failure != "lost":
            return failure
        query = parse_qs(urlparse(request.url).query)
        page = int(query.get("page", ["1"])[0])
        found = self.invoices.get(query.get("custom_id", [""])[0], [])
        return (200, RATE, json.dumps(found if page == 1 else []))

    def _token(self, request) -> tuple:  # noqa: ANN001
        if self.fail.get("token"):  # revoked credentials
            self.fail["token"].pop(0)
            return (401, {}, json.dumps({"error": "invalid_client"}))
        body = {"access_token": "b" * 80, "token_type": "Bearer", "expires_in": 7200}
        return (200, {}, json.dumps(body))

    def _message(self, request) -> tuple:  # noqa: ANN001
        failure = self._failure("message", request)
        if failure is not None:
            return failure
        self.sent.append(int(request.url.rsplit("/", 2)[-2]))
        return (204, RATE, "")
