"""Statuses flowing back from Fakturoid, against the sandbox served by a real local server.

1. Sync cost: 1,000 invoices in the sandbox, all ours. The first sync lists every page; then
   10 invoices are paid in the sandbox and the next sync lists only what changed since.
   Target (issue 13): ≤ 26 requests for the 1,000 (the pages, nothing per invoice), 1 request
   when nothing or little changed.
2. Payment → paid badge: a payment is recorded in the sandbox (as "Mark as paid" does); the
   sandbox delivers its webhook to our receiver, a `db_worker` applies it, and we poll our
   invoices page until that invoice shows "paid". Target: < 2 s.
3. A burst of 100 webhook deliveries plus 20 repeats of the same keys, sent one at a time and
   10 at a time: every one recorded and processed exactly once, and the receiver's answer time
   seen by the sender (p50, p95). Target: p95 < 100 ms.

Run: `make bench` (or `.venv/bin/python bench/status_sync.py`). It starts `runserver` and one
`db_worker` on 127.0.0.1:BENCH_PORT (default 8731) against a throw-away SQLite file, or
BENCH_DATABASE_URL=postgres://… (an EMPTY database). Figures vary with the machine; compare
them with the targets, not across machines.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PORT = int(os.environ.get("BENCH_PORT", "8731"))
SITE = f"http://127.0.0.1:{PORT}"
INVOICES = 1_000
CHANGED = 10
LATENCY_ROUNDS = 10
BURST = 100
SLUG = "bench-money"


def environment() -> dict[str, str]:
    from cryptography.fernet import Fernet

    database = os.environ.get("BENCH_DATABASE_URL") or (
        f"sqlite:///{tempfile.mkdtemp(prefix='bench-sync-')}/bench.sqlite3"
    )
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "false",
        "SECRET_KEY": "bench-only-" + Fernet.generate_key().decode(),
        "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "127.0.0.1,testserver",
        "SECURE_SSL_REDIRECT": "false",
        "SECURE_COOKIES": "false",
        "SECURE_HSTS_SECONDS": "0",
        "FAKTUROID_SANDBOX": "true",
        "FAKTUROID_SANDBOX_IN_PRODUCTION_I_KNOW_WHAT_I_AM_DOING": "true",
        "SITE_URL": SITE,
        "TASKS_BACKEND": "db",
        "LOG_LEVEL": "WARNING",
        "DATABASE_URL": database,
    }


def configure(env: dict[str, str]) -> None:
    os.environ.update(env)
    import django
    from django.conf import settings

    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def start(env: dict[str, str]) -> list[subprocess.Popen]:
    python = sys.executable
    server = subprocess.Popen(  # noqa: S603 - our interpreter, fixed arguments
        [python, "manage.py", "runserver", f"127.0.0.1:{PORT}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    worker = subprocess.Popen(  # noqa: S603 - our interpreter, fixed arguments
        [python, "manage.py", "db_worker", "--interval", "0.1", "--no-reload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import requests

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(f"{SITE}/login/", timeout=1)
            return [server, worker]
        except requests.RequestException:
            time.sleep(0.2)
    raise SystemExit("the server did not start")


def setup_agency():  # noqa: ANN201
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from agencies.models import Agency, FakturoidSettings, Membership
    from clients.models import Client
    from fakturoid.client import FakturoidClient
    from fakturoid_sandbox.control import ensure_account, ensure_subject, update_state

    credential = ensure_account(SLUG, name="Bench s.r.o.")
    update_state(SLUG, rate_limit={"quota": 100_000, "window": 60}, webhook_backoff=[0] * 5)
    subject = ensure_subject(SLUG, name="Bench Client a.s.", email="bench@example.cz")
    agency = Agency.objects.create(name="Bench Agency")
    user = get_user_model().objects.create_user("bench", password="bench-password-1")
    Membership.objects.create(user=user, agency=agency, role=Membership.Role.OWNER)
    fakturoid = FakturoidSettings.objects.create(
        agency=agency,
        account_slug=SLUG,
        api_client_id=credential.client_id,
        api_client_secret=credential.client_secret,
        contact_email="bench@example.cz",
        verified_at=timezone.now(),
    )
    client = Client.objects.create(agency=agency, name="Bench Client a.s.")
    FakturoidClient(fakturoid).get_account()  # the token, stored
    return agency, user, client, subject


def create_invoices(agency, client, subject) -> list:  # noqa: ANN001
    """1,000 invoices in the sandbox account (made in-process: the API would spend minutes on
    them), all last changed two days ago, and our records of them."""
    from datetime import date, timedelta

    from django.utils import timezone

    from fakturoid.models import Invoice
    from fakturoid_sandbox.models import Account
    from fakturoid_sandbox.models import Invoice as SandboxInvoice
    from fakturoid_sandbox.services import create_invoice

    account = Account.objects.get(slug=SLUG)
    first = date(2000, 1, 1)
    rows = []
    for number in range(INVOICES):
        custom_id = f"{agency.key}-bench-{number}"
        document = create_invoice(
            account=account,
            data={
                "subject_id": subject.pk,
                "custom_id": custom_id,
                "due": 3650,
                "lines": [{"name": "PPC", "unit_price": "1000", "vat_rate": 21}],
            },
        )
        rows.append(
            Invoice(
                agency=agency,
                client=client,
                period=first + timedelta(days=31 * number),
                custom_id=custom_id,
                state=Invoice.State.CREATED,
                fakturoid_id=document.pk,
                number=document.number,
                status="open",
                total=document.total,
                currency="CZK",
            )
        )
    SandboxInvoice.objects.filter(account=account).update(
        updated_at=timezone.now() - timedelta(days=2)
    )
    return Invoice.objects.bulk_create(rows)


def measure_sync(agency, invoices) -> dict:  # noqa: ANN001
    from datetime import timedelta

    from django.utils import timezone

    from fakturoid.client import FakturoidClient
    from fakturoid.models import StatusSync
    from fakturoid.services.sync import sync_statuses

    first = sync_statuses(agency=agency)
    # The first sync's cursor overlaps the clock by a minute; a day later nothing overlaps.
    StatusSync.objects.filter(agency=agency).update(cursor=timezone.now() - timedelta(days=1))
    unchanged = sync_statuses(agency=agency)
    api = FakturoidClient.for_agency(agency)
    for invoice in invoices[:CHANGED]:
        api.create_payment(invoice.fakturoid_id, {})
    StatusSync.objects.filter(agency=agency).update(cursor=timezone.now() - timedelta(hours=1))
    changed = sync_statuses(agency=agency)
    return {"first": first, "unchanged": unchanged, "changed": changed}


def page_shows_paid(http, invoice) -> bool:  # noqa: ANN001
    from django.urls import reverse

    html = http.get(reverse("fakturoid:invoices"), {"status": "paid"}).content.decode()
    return f'id="invoice-{invoice.pk}"' in html


def measure_latency(agency, user, invoices) -> list[float]:  # noqa: ANN001
    from django.test import Client as HttpClient

    from fakturoid.client import FakturoidClient
    from fakturoid.services.webhooks import receive_updates

    receive_updates(agency=agency)
    http = HttpClient()
    http.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    api = FakturoidClient.for_agency(agency)
    seconds = []
    for invoice in invoices[CHANGED : CHANGED + LATENCY_ROUNDS]:
        started = time.perf_counter()
        api.create_payment(invoice.fakturoid_id, {})  # what "Mark as paid" does in Fakturoid
        while not page_shows_paid(http, invoice):
            if time.perf_counter() - started > 30:
                raise SystemExit(f"invoice {invoice.pk} never showed paid")
            time.sleep(0.02)
        seconds.append(time.perf_counter() - started)
    return seconds


def measure_burst(agency, invoices, *, parallel: int) -> dict:  # noqa: ANN001
    import requests

    from fakturoid.models import ReceivedWebhook, WebhookRegistration
    from fakturoid.services.webhooks import receiver_url
    from fakturoid_sandbox.models import Invoice as SandboxInvoice
    from fakturoid_sandbox.serializers import SiteRoot, invoice_json

    registration = WebhookRegistration.objects.get(agency=agency)
    url, secret = receiver_url(registration), registration.secret
    sandbox_invoice = SandboxInvoice.objects.get(pk=invoices[-1].fakturoid_id)
    body = invoice_json(SiteRoot(), sandbox_invoice)  # what the sandbox's webhooks carry
    keys = [str(uuid.uuid4()) for _ in range(BURST)]
    session = requests.Session()

    def post(key: str) -> tuple[int, float]:
        payload = {
            "webhook_id": registration.fakturoid_id,
            "event_name": "invoice_sent",
            "created_at": "2026-12-01T10:00:00.000+01:00",
            "body": {"invoice": body},
        }
        started = time.perf_counter()
        response = session.post(
            url,
            data=json.dumps(payload),
            headers={
                "Authorization": secret,
                "Idempotency-Key": key,
                "Content-Type": "application/json",
            },
            timeout=30,
        )
        return response.status_code, time.perf_counter() - started

    with ThreadPoolExecutor(max_workers=parallel) as pool:
        results = list(pool.map(post, keys + keys[:20]))
    statuses = {status for status, _ in results}
    times = sorted(seconds for _, seconds in results)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pending = ReceivedWebhook.objects.filter(
            idempotency_key__in=keys, outcome=ReceivedWebhook.Outcome.PENDING
        ).count()
        if not pending:
            break
        time.sleep(0.1)
    recorded = ReceivedWebhook.objects.filter(idempotency_key__in=keys)
    return {
        "statuses": statuses,
        "p50_ms": statistics.median(times) * 1000,
        "p95_ms": times[int(len(times) * 0.95) - 1] * 1000,
        "recorded": recorded.count(),
        "processed": recorded.exclude(outcome=ReceivedWebhook.Outcome.PENDING).count(),
    }


def main() -> None:
    env = environment()
    configure(env)
    processes = start(env)
    try:
        agency, user, client, subject = setup_agency()
        started = time.perf_counter()
        invoices = create_invoices(agency, client, subject)
        print(f"setup: {INVOICES} invoices created in {time.perf_counter() - started:.0f} s")
        sync = measure_sync(agency, invoices)
        first, unchanged, changed = sync["first"], sync["unchanged"], sync["changed"]
        print(
            f"first sync of {INVOICES} invoices: {first.requests} requests "
            f"({first.listed} listed; target ≤ 26)"
        )
        print(f"next sync, nothing changed: {unchanged.requests} request(s)")
        print(
            f"next sync, {CHANGED} paid in Fakturoid: {changed.requests} request(s), "
            f"{changed.listed} listed, {changed.updated} updated"
        )
        latency = measure_latency(agency, user, invoices)
        print(
            f"payment in the sandbox → paid in our list (webhook + db_worker), "
            f"{len(latency)} rounds: median {statistics.median(latency):.2f} s, "
            f"max {max(latency):.2f} s (target < 2 s)"
        )
        for parallel in (1, 10):
            burst = measure_burst(agency, invoices, parallel=parallel)
            print(
                f"burst of {BURST} deliveries (+20 repeats, {parallel} at a time): answers "
                f"{sorted(burst['statuses'])}, receiver p50 {burst['p50_ms']:.0f} ms, "
                f"p95 {burst['p95_ms']:.0f} ms (target < 100 ms); recorded "
                f"{burst['recorded']}, processed once {burst['processed']} (target: {BURST})"
            )
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=10)


if __name__ == "__main__":
    main()
