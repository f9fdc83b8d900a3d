"""Real background workers for the month-end tests: `db_worker` or `rqworker` subprocesses on
the test database, talking to the sandbox on the live server.

The test database must be one the subprocesses can open (PostgreSQL; SQLite's in-memory test
database lives inside the test process).
"""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent.parent


def database_url() -> str:
    db = connection.settings_dict
    return (
        f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}"
    )


def worker_env(*, api_url: str, backend: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(),
        "TASKS_BACKEND": backend,
        "FAKTUROID_API_URL": api_url,
        # Short timeouts make a short stale-claim time (fakturoid/timeouts.py, about 40 s here):
        # a dead worker's client is taken over within the test.
        "FAKTUROID_READ_TIMEOUT": "1",
        "FAKTUROID_CONNECT_TIMEOUT": "0.5",
        "FAKTUROID_MAX_RATE_LIMIT_WAIT": "0",
    }


def start_worker(*, api_url: str, backend: str = "db") -> subprocess.Popen:
    """One worker process; stop it with `stop_worker` (or kill it)."""
    if backend == "rq":
        command = ["rqworker", "--job-class", "django_tasks_rq.Job", "--with-scheduler", "default"]
    else:
        command = ["db_worker", "--interval", "0.1", "--no-startup-delay", "--no-reload"]
    return subprocess.Popen(
        [sys.executable, "manage.py", *command],
        cwd=ROOT,
        env=worker_env(api_url=api_url, backend=backend),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def stop_worker(worker: subprocess.Popen) -> str:
    """Stop the worker (SIGTERM, then SIGKILL); returns what it wrote on stderr."""
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    return worker.stderr.read().decode(errors="replace") if worker.stderr else ""


def wait_until(
    condition: Callable[[], bool],
    *,
    limit: float,
    what: str,
    state: Callable[[], object] = lambda: "",
) -> None:
    """Wait for `condition`; after `limit` seconds fail, saying what `state()` was then."""
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, f"waited {limit} s for {what}: {state()}"
        time.sleep(0.1)
