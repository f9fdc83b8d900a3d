"""The month-end run worked by real worker processes against the sandbox on the live server:
two workers sharing a run, a worker killed mid-run, faults during a run, and the same run on
RQ (Redis) as on the database queue.

PostgreSQL only: the workers are other processes, and SQLite's in-memory test database lives
inside this one. The RQ test needs a Redis server (REDIS_URL; CI starts one).
"""

import os
import signal
import time
from collections import Counter
from decimal import Decimal

import pytest
import redis
from django.conf import settings
from django.db import connection

from clients.models import Client, Project
from clients.months import parse_month
from fakturoid.models import InvoiceRun
from fakturoid.services import runs
from fakturoid_sandbox.control import ensure_subject, update_state
from fakturoid_sandbox.models import Invoice as SandboxInvoice
from tests.support import live_server as live_server_support
from tests.support.live_server import connect_to_live_sandbox, wait_for_live_server_threads
from tests.support.workers import start_worker, stop_worker, wait_until

pytestmark = [
    pytest.mark.usefixtures("sandbox_on"),
    pytest.mark.skipif(
        connection.vendor == "sqlite",
        reason="The workers are other processes: SQLite's in-memory test database cannot be "
        "shared with them (CI runs these on PostgreSQL)",
    ),
]

CLIENTS = 12
RUN_LIMIT = 60  # seconds any run of these tests may take


@pytest.fixture
def scene(live_server, settings, monkeypatch, agency, owner_http):
    """The agency connected to the sandbox with CLIENTS linked clients billed each month."""
    # The app's own timeouts: these tests fault the workers, not the test's set-up (on a busy
    # machine the first token request can take longer than the fault tests' half second).
    monkeypatch.setattr(live_server_support, "READ_TIMEOUT", 5)
    scene = connect_to_live_sandbox(
        live_url=live_server.url,
        settings=settings,
        monkeypatch=monkeypatch,
        agency=agency,
        http=owner_http,
    )
    for index in range(1, CLIENTS):
        name = f"Client {index:02d} s.r.o."
        subject = ensure_subject("acme", name=name, registration_no=f"{10000000 + index}")
        client = Client.objects.create(
            agency=agency,
            name=name,
            registration_no=f"{10000000 + index}",
            fakturoid_subject_id=subject.pk,
        )
        Project.objects.create(client=client, name="shop").billing_items.create(
            description="PPC management", amount=Decimal(1000 + index)
        )
    workers = []
    scene.workers = workers
    yield scene
    for worker in workers:
        stop_worker(worker)
    wait_for_live_server_threads()


def start(scene, owner) -> InvoiceRun:
    run, _ = runs.start_run(
        agency=scene.client.agency,
        period=parse_month("2026-10"),
        user=owner,
        client_ids=list(Client.objects.values_list("pk", flat=True)),
    )
    return run


def add_workers(scene, count: int, backend: str = "db") -> None:
    for _ in range(count):
        scene.workers.append(start_worker(api_url=scene.api_url, backend=backend))


def created_in_sandbox() -> Counter:
    return Counter(SandboxInvoice.objects.values_list("custom_id", flat=True))


def assert_every_client_invoiced_once(run: InvoiceRun) -> None:
    run.refresh_from_db()
    states = Counter(run.items.values_list("state", flat=True))
    in_sandbox = created_in_sandbox()
    assert (run.state, states) == ("finished", {"created": CLIENTS}), run.pause_reason
    assert len(in_sandbox) == CLIENTS and set(in_sandbox.values()) == {1}, in_sandbox


def items_of(run: InvoiceRun) -> list:
    return list(run.items.values_list("client__name", "state", "attempts", "error", "updated_at"))


def finished(run: InvoiceRun) -> bool:
    run.refresh_from_db()
    return run.state != "running"


def test_two_workers_share_a_run_and_never_invoice_a_client_twice(scene, owner):
    update_state("acme", delay_ms=50)
    run = start(scene, owner)
    add_workers(scene, 2)
    wait_until(lambda: finished(run), limit=RUN_LIMIT, what="the run to finish")
    assert_every_client_invoiced_once(run)


def test_a_worker_killed_mid_run_is_replaced_with_nothing_lost_or_doubled(scene, owner):
    update_state("acme", delay_ms=300)  # most of a worker's time is inside a request
    run = start(scene, owner)
    add_workers(scene, 1)
    wait_until(
        lambda: (
            run.items.filter(state="created").count() >= 3
            and run.items.filter(state="working").exists()
        ),
        limit=RUN_LIMIT,
        what="3 invoices and a fourth in the works",
    )
    victim = scene.workers[0]
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    # It died inside a client's work: that item stays "working" until its claim is stale.
    assert run.items.filter(state="working").count() == 1
    add_workers(scene, 1)
    wait_until(
        lambda: finished(run),
        limit=RUN_LIMIT + 40,  # the dead worker's claim must be stale first (~40 s)
        what="the run to finish after the kill",
        state=lambda: (items_of(run), [stop_worker(w)[-3000:] for w in scene.workers]),
    )
    assert_every_client_invoiced_once(run)


def test_faults_during_a_run_end_with_every_client_invoiced_once(scene, owner):
    """A lost answer (5xx after the invoice was made), a timeout after it was made, and a tight
    rate limit, all within one run of two workers."""
    update_state(
        "acme",
        rate_limit={"quota": 10, "window": 2},
        fail_next={"status": 503, "after_processing": True, "count": 2},
    )
    run = start(scene, owner)
    add_workers(scene, 2)
    wait_until(lambda: run.items.filter(state="created").count() >= 4, limit=RUN_LIMIT, what="4")
    update_state("acme", delay_after_ms=2500)  # longer than the workers' read timeout
    time.sleep(1)
    update_state("acme", delay_after_ms=0)
    wait_until(lambda: finished(run), limit=RUN_LIMIT, what="the run to finish")
    assert_every_client_invoiced_once(run)


def redis_missing() -> str:
    """Why the RQ test cannot run here ("" when it can). In CI it must run: never skipped."""
    if os.environ.get("CI"):
        return ""
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as error:
        return (
            f"RQ needs a Redis server at REDIS_URL ({settings.REDIS_URL}: {error}); "
            "CI starts redis-server and runs this test"
        )
    return ""


@pytest.mark.skipif(bool(redis_missing()), reason=redis_missing() or "-")
def test_the_run_works_the_same_on_rq(scene, owner, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    run = start(scene, owner)
    add_workers(scene, 2, backend="rq")
    wait_until(lambda: finished(run), limit=RUN_LIMIT, what="the run to finish on RQ")
    assert_every_client_invoiced_once(run)
