"""README's screenshots, made from the demo so they stay current: `make screenshots`.

Seeds the demo into a throw-away SQLite database, serves it with its Fakturoid sandbox,
bills the linked clients' last six months through the real invoice flow (so the dashboard
has a history), asks the sandbox for their statuses, and photographs the clients list and
the dashboard (wide and at 390 px) with Debian's chromium into docs/screenshots/.
"""

import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
PORT = int(os.environ.get("SCREENSHOTS_PORT", "8899"))
BASE = f"http://127.0.0.1:{PORT}"
PYTHON = sys.executable
BILL = """
from clients.models import Client
from clients.months import first_day, previous_month
from django.contrib.auth import get_user_model
from django.utils import timezone
from fakturoid.services import invoicing, sync

user = get_user_model().objects.get(username="demo")
month = first_day(timezone.localdate())
for _ in range(6):
    month = previous_month(month)
    for client in Client.objects.filter(fakturoid_subject_id__isnull=False):
        invoicing.create_invoice(client=client, period=month, user=user)
    sync.refresh_statuses(agency=client.agency, period=month)
"""
SHOTS = [
    ("clients-list", "/", 1280, 760),
    ("dashboard", "/dashboard/", 1280, 1300),
    ("clients-list-phone", "/", 390, 844),
]


def manage(*args: str, env: dict) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True)  # noqa: S603


def wait_for_server() -> None:
    for _ in range(60):
        try:
            urllib.request.urlopen(f"{BASE}/login/", timeout=2)  # noqa: S310 (our own server)
            return
        except OSError:
            time.sleep(0.5)
    sys.exit("the demo server did not start")


def photograph() -> None:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox"]
        )
        for name, path, width, height in SHOTS:
            context = browser.new_context(viewport={"width": width, "height": height})
            page = context.new_page()
            page.goto(f"{BASE}/login/")
            page.fill("#id_username", "demo")
            page.fill("#id_password", "demo1234")
            page.click("main form button[type=submit]")
            page.wait_for_url(f"{BASE}/")
            page.goto(f"{BASE}{path}")
            page.screenshot(path=str(OUT / f"{name}.png"))
            print(f"docs/screenshots/{name}.png")
            context.close()
        browser.close()


def main() -> None:
    folder = tempfile.mkdtemp(prefix="screenshots-")
    env = os.environ | {
        "DATABASE_URL": f"sqlite:///{folder}/demo.sqlite3",
        "SITE_URL": BASE,
        "DEBUG": "true",
        "FAKTUROID_SANDBOX": "true",
        "LOG_LEVEL": "WARNING",
        "TASKS_BACKEND": "immediate",
    }
    manage("migrate", "--noinput", "-v0", env=env)
    manage("seed_demo", env=env)
    server = subprocess.Popen(  # noqa: S603 (fixed arguments)
        [PYTHON, "manage.py", "runserver", f"127.0.0.1:{PORT}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_server()
        manage("shell", "-c", BILL, env=env)
        photograph()
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
