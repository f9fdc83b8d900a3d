"""Helpers shared by the tests (fixtures live in tests/conftest.py and use these).

- this package: the test password, logging a user in, Fakturoid's address and a stored token;
- `fakturoid_mocks`: Fakturoid as the `responses` mocks see it (addresses, payloads, answers);
- `live_server`: the live server (waiting for its threads, an agency connected to the sandbox
  over a real socket) and the browser tests' helpers.
"""

from django.contrib.auth.models import AbstractBaseUser
from django.test import Client as HttpClient

PASSWORD = "correct-horse-battery-1"
FAKTUROID_API = "https://app.fakturoid.cz/api/v3"
STORED_TOKEN = "a" * 80  # The token the `connected` fixture stores.


def login(user: AbstractBaseUser) -> HttpClient:
    """A test client logged in as `user` (no password check, no lock-out bookkeeping)."""
    http = HttpClient()
    http.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return http
