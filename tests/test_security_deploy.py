"""Production settings: Django's deployment checks pass, missing secrets stop the start, the
sandbox is not mounted, logins are throttled and error pages tell nothing.

The settings tests start `manage.py` in a subprocess with a production environment. Variables
set in the environment win over the developer's `.env` (django-environ only fills in what is
missing), so every one that matters is set explicitly.
"""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.test import Client as HttpClient

from tests.support import PASSWORD

BASE_DIR = Path(__file__).resolve().parent.parent
DEV_SECRET_KEY = "dev-insecure-secret-key-do-not-use-in-production"
# What an error page must never contain: Django's debug pages, settings, exception details.
LEAKS = [
    "Traceback",
    "Using the URLconf",
    "urlpatterns",
    "Django tried these URL patterns",
    "Request Method",
    "Raised by",
    "SECRET_KEY",
    "settings.py",
    "DATABASES",
    "No Client matches",
    "Only owners of the agency",
    "boom-7c4e",
    "RuntimeError",
]


@pytest.fixture
def production_env(tmp_path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "FAKTUROID_", "SECURE_", "AXES_"))
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(64),
            "ALLOWED_HOSTS": "billing.example.com",
            "CSRF_TRUSTED_ORIGINS": "https://billing.example.com",
            "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'production.sqlite3'}",
            "SITE_URL": "https://billing.example.com",
            "FAKTUROID_SANDBOX": "false",
            "FAKTUROID_API_URL": "",
            "FAKTUROID_CONTACT_EMAIL": "ops@billing.example.com",
            "SECURE_SSL_REDIRECT": "true",
            "SECURE_COOKIES": "true",
            "SECURE_HSTS_SECONDS": "31536000",
            "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
            "SECURE_HSTS_PRELOAD": "true",
            "BEHIND_HTTPS_PROXY": "false",
            "LOG_LEVEL": "WARNING",
            "EMAIL_URL": "smtp+tls://mailer:mail-pass@smtp.billing.example.com:587",
            "DEFAULT_FROM_EMAIL": "Billing <billing@example.com>",
        }
    )
    return env


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# --- Settings -------------------------------------------------------------------------------


def test_it_passes_the_deployment_checks(production_env):
    result = run(production_env, "manage.py", "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SECRET_KEY", ""),
        ("SECRET_KEY", DEV_SECRET_KEY),
        ("ALLOWED_HOSTS", ""),
        ("FIELD_ENCRYPTION_KEY", ""),
        ("FIELD_ENCRYPTION_KEY", "not-a-fernet-key"),
        ("EMAIL_URL", ""),
        ("TRUSTED_PROXY_COUNT", "-1"),
    ],
)
def test_it_refuses_to_start_without_a_production_secret(production_env, variable, value):
    production_env[variable] = value

    result = run(production_env, "manage.py", "check")

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert variable in result.stderr.strip().splitlines()[-1]


MAIL_PROBE = """
import json
import django
django.setup()
from django.conf import settings
print(json.dumps([
    settings.EMAIL_BACKEND, settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS,
    settings.EMAIL_HOST_USER, settings.DEFAULT_FROM_EMAIL,
]))
"""


def test_it_sends_mail_through_the_smtp_server_of_email_url(production_env):
    result = run(production_env, "-c", MAIL_PROBE)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [
        "django.core.mail.backends.smtp.EmailBackend",
        "smtp.billing.example.com",
        587,
        True,
        "mailer",
        "Billing <billing@example.com>",
    ]


def test_it_prints_mail_to_the_console_in_development(production_env):
    production_env.update({"DEBUG": "true", "EMAIL_URL": ""})

    result = run(production_env, "-c", MAIL_PROBE)

    assert result.returncode == 0, result.stderr
    backend = json.loads(result.stdout.strip().splitlines()[-1])[0]
    assert backend == "django.core.mail.backends.console.EmailBackend"


def test_it_accepts_a_second_encryption_key_for_rotation(production_env):
    old = production_env["FIELD_ENCRYPTION_KEY"]
    production_env["FIELD_ENCRYPTION_KEY"] = f"{Fernet.generate_key().decode()},{old}"

    result = run(production_env, "manage.py", "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode == 0, result.stderr


PROBE = """
import json
import django
django.setup()
from django.conf import settings
from django.test import Client
from django.test.utils import override_settings

# Pages link their CSS through the static files manifest, which only collectstatic writes.
override_settings(
    STORAGES={
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
).enable()
http = Client()
host = {"HTTP_HOST": "billing.example.com"}
found = {}
for path in [
    "/sandbox/fakturoid/",
    "/sandbox/fakturoid/acme/invoices",
    "/sandbox/fakturoid/api/v3/user.json",
]:
    found[path] = http.get(path, secure=True, **host).status_code
found["POST token"] = http.post(
    "/sandbox/fakturoid/api/v3/oauth/token", secure=True, **host
).status_code
plain = http.get("/login/", **host)
login = http.get("/login/", secure=True, **host)
print(json.dumps({
    "status": found,
    "api_url": settings.FAKTUROID_API_URL,
    "plain_http": [plain.status_code, plain.get("Location", "")],
    "login": login.status_code,
    "hsts": login.get("Strict-Transport-Security", ""),
    "frame": login.get("X-Frame-Options", ""),
    "nosniff": login.get("X-Content-Type-Options", ""),
    "referrer": login.get("Referrer-Policy", ""),
    "csrf_cookie_secure": bool(login.cookies["csrftoken"]["secure"]),
}))
"""


def test_it_serves_no_sandbox_and_only_https_in_production(production_env):
    result = run(production_env, "-c", PROBE)

    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(probe["status"].values()) == {404}, probe["status"]
    assert probe["api_url"] == "https://app.fakturoid.cz/api/v3"
    assert probe["plain_http"] == [301, "https://billing.example.com/login/"]
    assert probe["login"] == 200
    assert probe["hsts"] == "max-age=31536000; includeSubDomains; preload"
    assert (probe["frame"], probe["nosniff"], probe["referrer"]) == (
        "DENY",
        "nosniff",
        "same-origin",
    )
    assert probe["csrf_cookie_secure"]


# --- Login throttling -----------------------------------------------------------------------


def fail_logins(http: HttpClient, username: str, times: int, address: str) -> None:
    for _ in range(times):
        response = http.post(
            "/login/", {"username": username, "password": "wrong-password"}, REMOTE_ADDR=address
        )
        assert "_auth_user_id" not in http.session
        assert response.status_code in {200, 429}


def test_it_locks_out_a_user_after_repeated_wrong_passwords(settings, owner):
    http = HttpClient()
    fail_logins(http, "owner", settings.AXES_FAILURE_LIMIT, "203.0.113.7")

    response = http.post(
        "/login/", {"username": "owner", "password": PASSWORD}, REMOTE_ADDR="203.0.113.7"
    )

    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()
    assert "_auth_user_id" not in http.session


def test_it_lets_the_right_password_in_below_the_limit(settings, owner):
    http = HttpClient()
    fail_logins(http, "owner", settings.AXES_FAILURE_LIMIT - 1, "203.0.113.8")

    response = http.post(
        "/login/", {"username": "owner", "password": PASSWORD}, REMOTE_ADDR="203.0.113.8"
    )

    assert response.status_code == 302
    assert http.session["_auth_user_id"] == str(owner.pk)


def test_it_locks_out_the_user_name_and_address_together(settings, owner):
    """An attacker elsewhere cannot lock the owner out of their own computer."""
    fail_logins(HttpClient(), "owner", settings.AXES_FAILURE_LIMIT, "203.0.113.9")
    http = HttpClient()

    response = http.post(
        "/login/", {"username": "owner", "password": PASSWORD}, REMOTE_ADDR="198.51.100.4"
    )

    assert response.status_code == 302


# --- Error pages ----------------------------------------------------------------------------


def assert_tells_nothing(response, status: int) -> None:  # noqa: ANN001
    assert response.status_code == status
    content = response.content.decode()
    leaked = [leak for leak in LEAKS if leak in content]
    assert not leaked, f"the {status} page shows {leaked}"


def test_it_shows_anonymous_users_a_plain_404(settings, db):
    settings.DEBUG = False

    response = HttpClient().get("/no-such-page/")

    assert_tells_nothing(response, 404)
    assert "Page not found" in response.content.decode()


@pytest.mark.parametrize("url", ["/no-such-page/", "/clients/999999/"])
def test_it_shows_logged_in_users_a_plain_404(settings, member_http, url):
    settings.DEBUG = False

    response = member_http.get(url)

    assert_tells_nothing(response, 404)
    assert "Page not found" in response.content.decode()


def test_it_tells_a_member_an_owners_page_is_for_owners_and_nothing_more(settings, member_http):
    settings.DEBUG = False

    response = member_http.get("/agency/members/")

    assert_tells_nothing(response, 403)
    assert "This page is for the owners of" in response.content.decode()


def test_it_shows_a_plain_500_page(settings, monkeypatch, owner, agency):
    settings.DEBUG = False

    def explode(request):  # noqa: ANN001, ANN202
        raise RuntimeError("boom-7c4e " + settings.SECRET_KEY)

    monkeypatch.setattr("clients.views.clients_list_context", explode)
    http = HttpClient(raise_request_exception=False)
    http.force_login(owner, backend="django.contrib.auth.backends.ModelBackend")

    response = http.get("/")

    assert_tells_nothing(response, 500)
    assert settings.SECRET_KEY not in response.content.decode()
    assert "Something went wrong" in response.content.decode()


def test_it_does_not_let_a_member_reach_the_admin(member_http):
    response = member_http.get("/admin/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_it_logs_users_out_only_by_post(owner_http):
    assert owner_http.get("/logout/").status_code == 405


# --- Login throttling behind the TLS proxy --------------------------------------------------

PROXY = "10.0.0.1"  # every request reaches the app from the proxy's address


def fail_logins_through_proxy(username: str, times: int, forwarded_for: str) -> None:
    http = HttpClient()
    for _ in range(times):
        http.post(
            "/login/",
            {"username": username, "password": "wrong-password"},
            REMOTE_ADDR=PROXY,
            HTTP_X_FORWARDED_FOR=forwarded_for,
        )


def log_in_through_proxy(forwarded_for: str) -> int:
    response = HttpClient().post(
        "/login/",
        {"username": "owner", "password": PASSWORD},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=forwarded_for,
    )
    return response.status_code


def test_it_does_not_lock_out_the_victim_behind_a_proxy(settings, owner):
    """An attacker's wrong passwords for the owner's name lock the attacker, not the owner."""
    settings.TRUSTED_PROXY_COUNT = 1
    fail_logins_through_proxy("owner", settings.AXES_FAILURE_LIMIT, "203.0.113.9")

    assert log_in_through_proxy("198.51.100.4") == 302
    assert log_in_through_proxy("203.0.113.9") == 429


def test_it_does_not_let_a_forged_forwarded_for_lock_out_the_victim(settings, owner):
    """The attacker sends the victim's address in X-Forwarded-For; the proxy appends the
    attacker's real one. Only the proxy's entry is believed."""
    settings.TRUSTED_PROXY_COUNT = 1
    forged = "198.51.100.4, 203.0.113.9"
    fail_logins_through_proxy("owner", settings.AXES_FAILURE_LIMIT, forged)

    assert log_in_through_proxy("198.51.100.4") == 302


def test_it_reads_the_address_behind_two_proxies(settings, owner):
    settings.TRUSTED_PROXY_COUNT = 2
    fail_logins_through_proxy("owner", settings.AXES_FAILURE_LIMIT, "203.0.113.9, 192.0.2.10")

    assert log_in_through_proxy("198.51.100.4, 192.0.2.10") == 302
    assert log_in_through_proxy("203.0.113.9, 192.0.2.10") == 429


def test_it_ignores_forwarded_for_without_a_trusted_proxy(settings, owner):
    """Served directly, X-Forwarded-For is whatever the attacker wants: not believed."""
    settings.TRUSTED_PROXY_COUNT = 0
    http = HttpClient()
    for n in range(settings.AXES_FAILURE_LIMIT):
        http.post(
            "/login/",
            {"username": "owner", "password": "wrong-password"},
            REMOTE_ADDR="203.0.113.9",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n}",
        )

    response = HttpClient().post(
        "/login/",
        {"username": "owner", "password": PASSWORD},
        REMOTE_ADDR="203.0.113.9",
        HTTP_X_FORWARDED_FOR="192.0.2.99",
    )

    assert response.status_code == 429


JOURNAL_PROBE = """
import django
django.setup()
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("PRAGMA journal_mode")
    mode = cursor.fetchone()[0]
    cursor.execute("PRAGMA synchronous")
    print(mode, cursor.fetchone()[0])
"""


def test_an_sqlite_database_file_logs_ahead_and_syncs_every_commit(production_env):
    """Write-ahead logging: pages read while a worker writes, a commit is one sync of the log;
    synchronous=FULL (2) keeps every committed claim through a power cut."""
    result = run(production_env, "-c", JOURNAL_PROBE)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["wal", "2"]
