"""Browser tests: where Debian's chromium is, how it is launched, and the steps a user takes.

The browser fixtures live in `test_e2e_invoicing.py`; `conftest.py` skips the e2e tests when
chromium is missing (unless E2E_REQUIRED is set, as in CI: then they fail).
"""

import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Locator, Page, expect

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
TIMEOUT_MS = 10_000
SKIP_REASON = (
    "Browser tests were not run: Debian's chromium is not installed (apt-get install chromium), "
    "then run `make e2e`."
)
REQUIRED_MESSAGE = (
    f"Browser tests must run here (E2E_REQUIRED is set) but Debian's chromium is not installed "
    f"at {CHROMIUM}: apt-get install chromium."
)


def chromium_installed() -> bool:
    return os.access(CHROMIUM, os.X_OK)


def e2e_required() -> bool:
    return bool(os.environ.get("E2E_REQUIRED"))


@contextmanager
def step(page: Page, name: str) -> Iterator[None]:
    """One step of the user's guide: when it fails, a screenshot is saved in a temp folder and
    its path is added to the error."""
    try:
        yield
    except Exception as error:
        folder = Path(tempfile.mkdtemp(prefix="e2e-"))
        path = folder / (re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") + ".png")
        try:
            page.screenshot(path=str(path), full_page=True)
        except Exception:  # the step's own error is what matters, not the screenshot's
            pass
        else:
            error.add_note(f"Screenshot of the failed step {name!r}: {path}")
        raise


def log_in(page: Page, *, username: str, password: str) -> None:
    """Log in through the login form; lands on the clients list."""
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page.get_by_role("heading", name="Clients", exact=True)).to_be_visible()


def messages(page: Page) -> Locator:
    """The flashed messages of the page."""
    return page.locator("ul.messages")


def client_row(page: Page, name: str) -> Locator:
    """The clients list's row of the client called `name`."""
    link = page.get_by_role("link", name=name, exact=True)
    return page.locator("table.clients tbody tr").filter(has=link)


def show_month(page: Page, month_iso: str) -> None:
    """Pick the billing month above the clients list."""
    page.get_by_label("Billing month").fill(month_iso)
    page.get_by_role("button", name="Filter", exact=True).click()
    expect(page.get_by_label("Billing month")).to_have_value(month_iso)
    expect(page).to_have_url(re.compile(rf"[?&]month={month_iso}\b"))
