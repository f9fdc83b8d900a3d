"""Helpers for tests that talk to the sandbox through Django's test client.

    from fakturoid_sandbox.testing import SandboxClient, sandbox_mounted

    api = SandboxClient(ensure_account("acme", name="Acme s.r.o."))
    api.authenticate()
    response = api.post("subjects.json", {"name": "Alza.cz a.s."})

Paths without a leading slash are account-scoped (`/accounts/<slug>/...`); with one they are
relative to the API base (`/user.json`).

Webhooks: `WebhookReceiver` is a real local HTTP server that records what the sandbox POSTs;
`fakturoid_sandbox.delivery.deliver_pending()` delivers everything pending now, and
`deliver_pending(send=django_client_sender())` delivers into this process's Django app (the
webhook URL's path) through the test client, with no server and no commit needed.
"""

import base64
import importlib
import json
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.http import HttpResponse
from django.test import Client, override_settings
from django.urls import clear_url_caches, set_urlconf

from fakturoid_sandbox.models import Credential

API_BASE = "/sandbox/fakturoid/api/v3"
USER_AGENT = "SandboxTests (tests@example.com)"


def _reload_root_urlconf() -> None:
    module = sys.modules.get(settings.ROOT_URLCONF)
    if module is not None:
        importlib.reload(module)
    clear_url_caches()
    set_urlconf(None)


@contextmanager
def sandbox_mounted(enabled: bool = True) -> Iterator[None]:
    """Run with settings.FAKTUROID_SANDBOX = enabled and the root URLs rebuilt to match.

    The root urlconf mounts the sandbox at import time, so the setting alone is not enough.
    Restores the setting and the URLs afterwards.
    """
    if settings.FAKTUROID_SANDBOX == enabled:
        yield
        return
    try:
        with override_settings(FAKTUROID_SANDBOX=enabled):
            _reload_root_urlconf()
            yield
    finally:
        _reload_root_urlconf()


def basic_auth(client_id: str, client_secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()


class SandboxClient:
    """The sandbox API of one account over Django's test client, with a User-Agent."""

    def __init__(self, credential: Credential, http: Client | None = None) -> None:
        self.credential = credential
        self.slug = credential.account.slug
        self.http = http or Client()
        self.access_token: str | None = None

    def url(self, path: str) -> str:
        return f"{API_BASE}{path}" if path.startswith("/") else self.account_url(path)

    def account_url(self, path: str) -> str:
        return f"{API_BASE}/accounts/{self.slug}/{path}"

    def request_token(self, **body: Any) -> HttpResponse:
        return self.http.post(
            f"{API_BASE}/oauth/token",
            data=json.dumps({"grant_type": "client_credentials", **body}),
            content_type="application/json",
            headers={
                "User-Agent": USER_AGENT,
                "Authorization": basic_auth(
                    self.credential.client_id, self.credential.client_secret
                ),
            },
        )

    def authenticate(self) -> str:
        """Fetch an access token and use it from now on."""
        response = self.request_token()
        assert response.status_code == 200, response.content
        self.access_token = response.json()["access_token"]
        return self.access_token

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: dict | None = None,
        headers: dict | None = None,
    ) -> HttpResponse:
        all_headers = {"User-Agent": USER_AGENT}
        if self.access_token:
            all_headers["Authorization"] = f"Bearer {self.access_token}"
        all_headers.update(headers or {})
        all_headers = {name: value for name, value in all_headers.items() if value is not None}
        url = self.url(path)
        if params:
            url = f"{url}?{urlencode(params)}"
        data = "" if body is None else json.dumps(body)
        return self.http.generic(
            method, url, data=data, content_type="application/json", headers=all_headers
        )

    def get(self, path: str, **params: Any) -> HttpResponse:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any = None, **params: Any) -> HttpResponse:
        return self.request("POST", path, body, params=params)

    def patch(self, path: str, body: Any = None) -> HttpResponse:
        return self.request("PATCH", path, body)

    def delete(self, path: str) -> HttpResponse:
        return self.request("DELETE", path)


@dataclass(frozen=True)
class ReceivedWebhook:
    """One POST a `WebhookReceiver` received."""

    headers: dict[str, str]
    payload: dict

    @property
    def event_name(self) -> str:
        return self.payload["event_name"]


class WebhookReceiver:
    """A real HTTP server on 127.0.0.1 recording the webhooks POSTed to it, for tests.

        with WebhookReceiver(statuses=[500, 200]) as receiver:
            ...  # register receiver.url as a webhook, change an invoice
            deliver_pending()
            assert [hook.event_name for hook in receiver.received] == [...]

    Answers the next status of `statuses` (then 200), and with `hold` set, waits until
    `release()` before answering (up to 10 s).
    """

    def __init__(self, statuses: list[int] | None = None, *, hold: bool = False) -> None:
        self.statuses = list(statuses or [])
        self.received: list[ReceivedWebhook] = []
        self.answered = 0
        self._released = threading.Event()
        if not hold:
            self._released.set()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                receiver.received.append(ReceivedWebhook(dict(self.headers.items()), body))
                receiver._released.wait(timeout=10)
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                receiver.answered += 1

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/webhooks/fakturoid"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def release(self) -> None:
        self._released.set()

    def __enter__(self) -> "WebhookReceiver":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._released.set()
        self.server.shutdown()
        self.server.server_close()


def django_client_sender(http: Client | None = None) -> "Callable[[str, bytes, dict], int]":
    """A `send` for `deliver_pending()`: POST to the URL's path through Django's test client.

    View exceptions propagate (the test client re-raises them), so a broken receiver fails
    the test instead of looking like a 500 to retry.
    """
    http = http or Client()

    def send(url: str, body: bytes, headers: dict[str, str]) -> int:
        parts = urlsplit(url)
        path = f"{parts.path}?{parts.query}" if parts.query else parts.path
        extra = {name: value for name, value in headers.items() if name != "Content-Type"}
        response = http.generic(
            "POST", path, data=body, content_type=headers["Content-Type"], headers=extra
        )
        return response.status_code

    return send
