"""The sandbox never runs in production by accident, and its switchboard takes JSON only.

The settings tests start `manage.py` in a subprocess with the production environment of
tests/test_security_deploy.py.
"""

import pytest

from fakturoid_sandbox.control import ensure_account, get_state
from fakturoid_sandbox.testing import sandbox_mounted
from tests.test_security_deploy import production_env, run  # noqa: F401 - a fixture

OVERRIDE = "FAKTUROID_SANDBOX_IN_PRODUCTION_I_KNOW_WHAT_I_AM_DOING"
CONTROL = "/sandbox/fakturoid/control/acme.json"


def test_it_refuses_to_start_with_the_sandbox_and_debug_off(production_env):  # noqa: F811
    production_env["FAKTUROID_SANDBOX"] = "true"

    result = run(production_env, "manage.py", "check")

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    last_line = result.stderr.strip().splitlines()[-1]
    assert "FAKTUROID_SANDBOX" in last_line
    assert OVERRIDE in last_line


def test_it_starts_with_the_sandbox_only_when_told_loudly(production_env):  # noqa: F811
    production_env.update({"FAKTUROID_SANDBOX": "true", OVERRIDE: "true"})

    result = run(production_env, "manage.py", "check")
    deploy = run(production_env, "manage.py", "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode == 0, result.stderr
    assert deploy.returncode != 0
    assert "sandbox.W001" in deploy.stderr


@pytest.fixture
def control(client, db):
    ensure_account("acme", name="Acme s.r.o.")
    with sandbox_mounted(True):
        yield client


MULTIPART = '--xyz\r\nContent-Disposition: form-data; name="blocked"\r\n\r\ntrue\r\n--xyz--\r\n'


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", "blocked=true"),
        ("text/plain", '{"blocked": true}'),
        ("multipart/form-data; boundary=xyz", MULTIPART),
    ],
)
def test_it_takes_only_json_at_the_control_endpoint(control, content_type, body):
    response = control.generic("POST", CONTROL, body, content_type=content_type)

    assert response.status_code == 415
    assert response.json() == {
        "error": "unsupported_media_type",
        "error_description": "The control endpoint takes JSON only (Content-Type: "
        "application/json)",
    }
    assert get_state("acme")["blocked"] is False


def test_it_still_takes_json_at_the_control_endpoint(control):
    response = control.post(CONTROL, {"blocked": True}, content_type="application/json")

    assert response.status_code == 200
    assert get_state("acme")["blocked"] is True
