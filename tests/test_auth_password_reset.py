"""Forgot your password? A reset link by e-mail, through the same mail setup as invitations."""

import re

import pytest
from django.core import mail
from django.test import Client as HttpClient
from django.utils import translation

from tests.support import PASSWORD

NEW_PASSWORD = "another-horse-staple-2"
LINK = re.compile(r"https://billing\.example\.com(/password/reset/[\w-]+/[\w-]+/)")


@pytest.fixture(autouse=True)
def site_url(settings) -> None:
    settings.SITE_URL = "https://billing.example.com"


@pytest.fixture(autouse=True)
def back_to_the_default_language():
    """LocaleMiddleware leaves the last request's language active in the thread: reset it, or
    tests that run after these would see Czech outside their own requests."""
    yield
    translation.deactivate()


def test_it_offers_a_password_reset_on_the_login_page(db):
    html = HttpClient().get("/login/").content.decode()

    assert "Forgot your password?" in html
    assert 'href="/password/reset/"' in html


def test_it_mails_a_reset_link_that_sets_a_new_password(owner):
    http = HttpClient()

    response = http.post("/password/reset/", {"email": "OWNER@example.com"}, follow=True)

    assert "Check your e-mail" in response.content.decode()
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["owner@example.com"]
    assert mail.outbox[0].subject == "Set a new password for the agency back-office"
    path = LINK.search(mail.outbox[0].body)[1]
    form = http.get(path, follow=True)
    assert "Set a new password" in form.content.decode()
    done = http.post(
        form.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        follow=True,
    )
    assert "Your new password is set." in done.content.decode()
    owner.refresh_from_db()
    assert owner.check_password(NEW_PASSWORD)
    again = http.get(path, follow=True)
    assert "already used or has expired" in again.content.decode()


def test_it_says_the_same_for_an_unknown_address(db):
    response = HttpClient().post("/password/reset/", {"email": "nobody@example.com"}, follow=True)

    assert "If an account has this e-mail address" in response.content.decode()
    assert not mail.outbox


def test_it_builds_the_link_from_site_url_not_the_host_header(owner, settings):
    settings.ALLOWED_HOSTS = ["billing.example.com", "evil.example"]

    HttpClient().post("/password/reset/", {"email": "owner@example.com"}, HTTP_HOST="evil.example")

    assert "evil.example" not in mail.outbox[0].body
    assert LINK.search(mail.outbox[0].body)


def test_it_shows_the_reset_pages_in_czech(owner):
    http = HttpClient(headers={"accept-language": "cs"})

    html = http.get("/login/").content.decode()

    assert "Zapomněli jste heslo?" in html
    assert PASSWORD not in html
