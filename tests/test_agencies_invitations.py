"""Members join by invitation (issue 11, item 2): an owner invites an e-mail address and a
role; the link works once, until it expires, only for that address; the owner never learns
whether the address has an account."""

import re
from datetime import timedelta
from smtplib import SMTPException

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import connection
from django.test import Client as HttpClient
from django.utils import timezone

from agencies import invitations
from agencies.models import Invitation, Membership
from tests.support import PASSWORD, login

User = get_user_model()
LINK = re.compile(r"http://testserver-site/join/([\w-]+)/")


@pytest.fixture(autouse=True)
def site_url(settings) -> None:
    settings.SITE_URL = "http://testserver-site"


def invite(http: HttpClient, email: str, role: str = "member"):  # noqa: ANN201
    return http.post("/agency/members/", {"email": email, "role": role}, follow=True)


def link_in_last_mail() -> tuple[str, str]:
    """The invitation link's path and its token, from the last mail sent."""
    match = LINK.search(mail.outbox[-1].body)
    assert match, mail.outbox[-1].body
    return f"/join/{match[1]}/", match[1]


# --- The owner invites ----------------------------------------------------------------------


def test_it_mails_an_invitation_link_to_the_address(owner_http, agency, owner):
    response = invite(owner_http, "new.person@example.com", "owner")

    assert "An invitation was sent to new.person@example.com." in response.content.decode()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["new.person@example.com"]
    assert "Acme Agency" in message.subject
    assert "owner invites you to join Acme Agency" in message.body
    path, token = link_in_last_mail()
    invitation = Invitation.objects.get()
    assert (invitation.email, invitation.role, invitation.invited_by) == (
        "new.person@example.com",
        "owner",
        owner,
    )
    assert invitation.expires_at > timezone.now() + timedelta(days=6)
    assert not Membership.objects.filter(user__email="new.person@example.com").exists()


def test_it_stores_only_a_hash_of_the_token(owner_http, agency):
    invite(owner_http, "new.person@example.com")
    _path, token = link_in_last_mail()

    table = Invitation._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
        rows = cursor.fetchall()
    assert token not in repr(rows)
    assert Invitation.objects.get().token_hash == invitations.hash_token(token)


def test_it_proposes_the_member_role(owner_http, agency):
    html = owner_http.get("/agency/members/").content.decode()

    assert re.search(r'<option value="member" selected>', html)


def test_it_never_reveals_whether_an_address_has_an_account(owner_http, agency, make_user):
    make_user("somebody")  # somebody@example.com has an account elsewhere

    known = invite(owner_http, "somebody@example.com").content.decode()
    Invitation.objects.all().delete()
    unknown = invite(owner_http, "nobody@example.com").content.decode()

    def scrub(html: str) -> str:
        html = re.sub(r"(some|no)body@example\.com", "EMAIL", html)
        html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)
        html = re.sub(r"/invitations/\d+/", "/invitations/ID/", html)
        return re.sub(r"<td[^>]*>[^<]*\d{1,2}:\d{2}[^<]*</td>", "", html)

    assert scrub(known) == scrub(unknown)
    assert "An invitation was sent to somebody@example.com." in known
    assert len(mail.outbox) == 2
    assert not Membership.objects.filter(agency=agency, user__username="somebody").exists()


def test_it_no_longer_adds_an_existing_user_directly(owner_http, agency, make_user):
    make_user("somebody")

    owner_http.post("/agency/members/", {"username": "somebody", "role": "owner", "password": "x"})

    assert not Membership.objects.filter(agency=agency, user__username="somebody").exists()


def test_it_refuses_to_invite_a_current_member(owner_http, agency, member):
    response = invite(owner_http, member.email)

    assert f"{member.email} is already a member." in response.content.decode()
    assert not mail.outbox and not Invitation.objects.exists()


def test_it_refuses_a_malformed_address(owner_http, agency):
    response = invite(owner_http, "not an address")

    assert "Enter a valid email address." in response.content.decode()
    assert not mail.outbox and not Invitation.objects.exists()


def test_it_keeps_nothing_when_the_mail_server_refuses(owner_http, agency, monkeypatch):
    def refuse(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise SMTPException("relay denied")

    monkeypatch.setattr(invitations, "send_mail", refuse)

    response = invite(owner_http, "new.person@example.com")

    assert "The invitation could not be sent" in response.content.decode()
    assert not Invitation.objects.exists()


def test_it_replaces_a_pending_invitation_of_the_same_address(owner_http, agency):
    invite(owner_http, "new.person@example.com")
    first, _token = link_in_last_mail()
    invite(owner_http, "New.Person@example.com", "owner")

    assert Invitation.objects.count() == 1
    assert HttpClient().get(first).status_code == 404


def test_it_lists_and_revokes_pending_invitations(owner_http, agency):
    invite(owner_http, "new.person@example.com")
    path, _token = link_in_last_mail()
    invitation = Invitation.objects.get()

    page = owner_http.get("/agency/members/").content.decode()
    assert "Pending invitations" in page and "new.person@example.com" in page

    response = owner_http.post(f"/agency/invitations/{invitation.pk}/revoke/", follow=True)

    assert "The invitation of new.person@example.com was revoked." in response.content.decode()
    assert not Invitation.objects.exists()
    assert HttpClient().get(path).status_code == 404


def test_it_hides_invitations_from_members(member_http, agency, owner):
    invitation = Invitation.objects.create(
        agency=agency,
        email="x@example.com",
        token_hash="0" * 64,
        invited_by=owner,
        expires_at=timezone.now() + timedelta(days=1),
    )

    assert member_http.post("/agency/members/", {"email": "y@example.com"}).status_code == 403
    assert member_http.post(f"/agency/invitations/{invitation.pk}/revoke/").status_code == 403
    assert Invitation.objects.filter(pk=invitation.pk).exists() and not mail.outbox


def test_it_does_not_let_an_owner_revoke_another_agencys_invitation(owner_http, other_agency):
    invitation = Invitation.objects.create(
        agency=other_agency,
        email="x@example.com",
        token_hash="1" * 64,
        expires_at=timezone.now() + timedelta(days=1),
    )

    assert owner_http.post(f"/agency/invitations/{invitation.pk}/revoke/").status_code == 404
    assert Invitation.objects.filter(pk=invitation.pk).exists()


# --- The invited person joins ---------------------------------------------------------------


def test_it_lets_a_new_person_create_an_account_and_join(owner_http, agency):
    invite(owner_http, "new.person@example.com", "owner")
    path, _token = link_in_last_mail()
    http = HttpClient()

    page = http.get(path)
    assert page.status_code == 200
    assert "Create your account to join." in page.content.decode()
    response = http.post(
        path, {"username": "newbie", "password1": PASSWORD, "password2": PASSWORD}, follow=True
    )

    assert "Welcome to Acme Agency." in response.content.decode()
    user = User.objects.get(username="newbie")
    assert user.email == "new.person@example.com"
    assert Membership.objects.get(user=user, agency=agency).role == "owner"
    assert http.session["_auth_user_id"] == str(user.pk)
    assert Invitation.objects.get().accepted_by == user


def test_it_asks_for_a_proper_password_on_joining(owner_http, agency):
    invite(owner_http, "new.person@example.com")
    path, _token = link_in_last_mail()

    response = HttpClient().post(path, {"username": "newbie", "password1": "1", "password2": "1"})

    assert response.status_code == 200
    assert "This password is too short." in response.content.decode()
    assert not User.objects.filter(username="newbie").exists()
    assert Invitation.objects.get().is_pending


def test_it_asks_a_person_with_an_account_to_log_in_and_then_joins(owner_http, agency, make_user):
    somebody = make_user("somebody")
    invite(owner_http, "SOMEBODY@example.com")
    path, _token = link_in_last_mail()

    anonymous = HttpClient().get(path).content.decode()
    assert f"/login/?next={path}" in anonymous.replace("%2F", "/")
    assert "Create your account" not in anonymous

    http = login(somebody)
    assert "Join Acme Agency" in http.get(path).content.decode()
    assert not Membership.objects.filter(user=somebody).exists()  # a GET joins nobody
    response = http.post(path, follow=True)

    assert "Welcome to Acme Agency." in response.content.decode()
    assert Membership.objects.get(user=somebody, agency=agency).role == "member"


def test_it_refuses_an_account_with_another_address(owner_http, agency, make_user):
    invite(owner_http, "new.person@example.com")
    path, _token = link_in_last_mail()
    http = login(make_user("intruder"))

    assert http.get(path).status_code == 403
    response = http.post(path)

    assert response.status_code == 403
    assert "not the invited one" in response.content.decode()
    assert not Membership.objects.filter(user__username="intruder").exists()
    assert Invitation.objects.get().is_pending


def test_it_uses_an_invitation_once(owner_http, agency, make_user):
    invite(owner_http, "new.person@example.com")
    path, _token = link_in_last_mail()
    HttpClient().post(path, {"username": "newbie", "password1": PASSWORD, "password2": PASSWORD})

    again = HttpClient().post(
        path, {"username": "second", "password1": PASSWORD, "password2": PASSWORD}
    )

    assert again.status_code == 404
    assert "already used, revoked or has expired" in again.content.decode()
    assert not User.objects.filter(username="second").exists()


def test_it_refuses_an_expired_invitation(owner_http, agency):
    invite(owner_http, "new.person@example.com")
    path, _token = link_in_last_mail()
    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    response = HttpClient().post(
        path, {"username": "newbie", "password1": PASSWORD, "password2": PASSWORD}
    )

    assert response.status_code == 404
    assert not User.objects.filter(username="newbie").exists()
    assert "Pending invitations" in owner_http.get("/agency/members/").content.decode()
    assert "new.person@example.com" not in owner_http.get("/agency/members/").content.decode()


@pytest.mark.parametrize("token", ["nonsense", "x" * 43, "%00", "a" * 500])
def test_it_refuses_an_unknown_token(db, token):
    assert HttpClient().get(f"/join/{token}/").status_code == 404


def test_it_accepts_once_even_when_called_twice(owner, agency, make_user):
    somebody = make_user("somebody")
    invitation = Invitation.objects.create(
        agency=agency,
        email=somebody.email,
        token_hash="2" * 64,
        invited_by=owner,
        expires_at=timezone.now() + timedelta(days=1),
    )
    invitations.accept(invitation=invitation, user=somebody)

    with pytest.raises(invitations.InvitationUnusable):
        invitations.accept(invitation=invitation, user=somebody)
