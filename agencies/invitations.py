"""Members join an agency by invitation: an owner invites an e-mail address and a role, the
person behind the address opens the link, and joins with their account or a new one."""

import hashlib
import logging
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from agencies.models import Agency, Invitation, Membership

logger = logging.getLogger(__name__)
User = get_user_model()


class InvitationNotSent(Exception):
    """The mail could not be handed to the mail server; no invitation was kept."""


class InvitationUnusable(Exception):
    """The invitation was used, revoked or expired meanwhile."""


class WrongAccount(Exception):
    """The signed-in account does not have the invited e-mail address."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def find_invitation(token: str) -> Invitation | None:
    """The invitation whose link carries `token`, whatever its state; None if there is none."""
    return (
        Invitation.objects.select_related("agency", "invited_by")
        .filter(token_hash=hash_token(token))
        .first()
    )


def invite(*, agency: Agency, email: str, role: str, invited_by: User) -> Invitation:
    """Invite `email` to `agency` with `role` and send the link by e-mail.

    An invitation still pending for the same address is replaced (its link stops working).
    Raises InvitationNotSent, keeping nothing, when the mail server refuses the mail.
    """
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        agency.invitations.pending().filter(email__iexact=email).delete()
        invitation = Invitation.objects.create(
            agency=agency,
            email=email,
            role=role,
            token_hash=hash_token(token),
            invited_by=invited_by,
            expires_at=timezone.now() + Invitation.VALID_FOR,
        )
        try:
            _send_invitation(invitation, token)
        except OSError as error:  # smtplib's errors and refused connections are OSErrors
            logger.warning("Invitation mail to agency %s not sent: %r", agency.pk, error)
            transaction.set_rollback(True)
            raise InvitationNotSent from error
    return invitation


def _send_invitation(invitation: Invitation, token: str) -> None:
    context = {
        "invitation": invitation,
        "inviter": invitation.invited_by,
        "link": settings.SITE_URL + reverse("join", args=[token]),
        "valid_days": Invitation.VALID_FOR.days,
    }
    subject = render_to_string("agencies/email/invitation_subject.txt", context)
    body = render_to_string("agencies/email/invitation.txt", context)
    send_mail(" ".join(subject.split()), body, None, [invitation.email])


def accept(*, invitation: Invitation, user: User) -> Membership:
    """Make `user` a member of the invitation's agency with the invited role, once.

    Raises WrongAccount when the user's e-mail is not the invited one, InvitationUnusable
    when the invitation was used, revoked or expired in the meantime.
    """
    if not invitation.is_for(user):
        raise WrongAccount
    with transaction.atomic():
        # Compare-and-set: of two simultaneous accepts only one finds the invitation pending.
        claimed = (
            Invitation.objects.pending()
            .filter(pk=invitation.pk)
            .update(accepted_at=timezone.now(), accepted_by=user)
        )
        if not claimed:
            raise InvitationUnusable
        membership, _created = Membership.objects.get_or_create(
            user=user, agency=invitation.agency, defaults={"role": invitation.role}
        )
    return membership


def join_with_new_account(*, invitation: Invitation, username: str, password: str) -> User:
    """Create an account with the invited e-mail address and accept the invitation with it.

    Raises InvitationUnusable (and keeps no account) when the invitation is no longer pending.
    """
    with transaction.atomic():
        user = User.objects.create_user(
            username=username, email=invitation.email, password=password
        )
        accept(invitation=invitation, user=user)
    return user


def invited_email_has_account(invitation: Invitation) -> bool:
    """Shown only to the holder of the link, never to the owner who invited."""
    return User.objects.filter(email__iexact=invitation.email).exists()
