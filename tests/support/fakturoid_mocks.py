"""Fakturoid as the `responses` mocks in tests see it: addresses, payloads and answers.

Payloads start from the reference examples in tests/fixtures/fakturoid/.
"""

import copy
import json
from datetime import date
from pathlib import Path

from responses import RequestsMock, matchers

from clients.models import Client
from clients.months import iso_month
from tests.support import FAKTUROID_API

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "fakturoid"
ACCOUNT = f"{FAKTUROID_API}/accounts/acme"
RATE = {"X-RateLimit-Policy": "default;q=400;w=60", "X-RateLimit": "default;r=390;t=40"}
OCTOBER = date(2026, 10, 1)


def payload(name: str) -> dict | list:
    return json.loads((FIXTURES / name).read_text())


def subject_json(subject_id: int, **fields) -> dict:
    """The reference subject with another id and the given fields."""
    data = copy.deepcopy(payload("subject.json"))
    data.update({"id": subject_id, **fields})
    return data


def custom_id_of(client: Client, period: date = OCTOBER) -> str:
    """Our custom_id of the client's invoice for `period`."""
    return f"{client.agency.key}-c{client.pk}-{iso_month(period)}"


def add_search(api: RequestsMock, query: str, found: list) -> None:
    """A contact search: the hits on page 1, shorter than 40, so the last page."""
    api.get(
        f"{ACCOUNT}/subjects/search.json",
        json=found,
        headers=RATE,
        match=[matchers.query_param_matcher({"query": query, "page": "1"})],
    )


def add_lookup(api: RequestsMock, custom_id: str, found: list) -> None:
    """The look-up of an invoice by custom_id: one page, shorter than 40, so the last one."""
    api.get(
        f"{ACCOUNT}/invoices.json",
        json=found,
        headers=RATE,
        match=[matchers.query_param_matcher({"custom_id": custom_id, "page": "1"})],
    )


def invoice_payload(invoice_id: int, **fields) -> dict:
    """The reference invoice (as Fakturoid lists it and webhooks carry it) with another id
    and the given fields."""
    data = copy.deepcopy(payload("invoice_created.json"))
    data.update({"id": invoice_id, "updated_at": "2026-11-05T10:00:00.000+01:00", **fields})
    return data
