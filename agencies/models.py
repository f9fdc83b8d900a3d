import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from agencies.fields import EncryptedTextField


def new_agency_key() -> str:
    return secrets.token_hex(4)


class AgencyQuerySet(models.QuerySet):
    def for_user(self, user) -> "AgencyQuerySet":  # noqa: ANN001
        if not user.is_authenticated:
            return self.none()
        return self.filter(memberships__user=user)


class Agency(models.Model):
    name = models.CharField(_("name"), max_length=200)
    # Random public key, part of every custom_id we send to Fakturoid: a reinstalled database
    # never collides with documents an older installation left in the same Fakturoid account.
    key = models.CharField(
        _("key"), max_length=16, unique=True, default=new_agency_key, editable=False
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = AgencyQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("agency")
        verbose_name_plural = _("agencies")

    def __str__(self) -> str:
        return self.name

    @property
    def fakturoid_settings(self) -> "FakturoidSettings | None":
        try:
            return self.fakturoid
        except FakturoidSettings.DoesNotExist:
            return None

    @property
    def fakturoid_ready(self) -> bool:
        """True when the agency has Fakturoid credentials to bill with."""
        fakturoid = self.fakturoid_settings
        return fakturoid is not None and fakturoid.is_configured


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", _("Owner")
        MEMBER = "member", _("Member")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=10, choices=Role, default=Role.MEMBER)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["agency__name", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["user", "agency"], name="unique_membership"),
        ]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")

    def __str__(self) -> str:
        return f"{self.user} @ {self.agency} ({self.role})"

    @property
    def is_owner(self) -> bool:
        return self.role == self.Role.OWNER

    def change_role(self, role: str) -> None:
        """Give the member `role`. Raises LastOwner instead of leaving the agency ownerless."""
        with transaction.atomic():
            self._refuse_to_drop_last_owner(new_role=role)
            self.role = role
            self.save(update_fields=["role"])

    def remove(self) -> None:
        """Take the member out of the agency. Raises LastOwner for the agency's last owner."""
        with transaction.atomic():
            self._refuse_to_drop_last_owner(new_role=None)
            self.delete()

    def _refuse_to_drop_last_owner(self, *, new_role: str | None) -> None:
        # Every change of an agency's owners first locks the agency's row, so they run one
        # after the other: two owners demoting each other at once cannot both count the other
        # as the one who stays. (A locked count would not do: `.count()` drops FOR UPDATE.)
        Agency.objects.select_for_update().get(pk=self.agency_id)
        self.refresh_from_db(fields=["role"])  # what it is now, after waiting for the lock
        if not self.is_owner or new_role == self.Role.OWNER:
            return
        others = Membership.objects.filter(agency_id=self.agency_id, role=self.Role.OWNER)
        if not others.exclude(pk=self.pk).exists():
            raise LastOwner(self)


class LastOwner(Exception):
    """The change would leave the agency without an owner."""

    def __init__(self, membership: Membership) -> None:
        super().__init__(f"{membership.user} is the last owner of {membership.agency}")


class InvitationQuerySet(models.QuerySet):
    def pending(self) -> "InvitationQuerySet":
        """Not accepted yet and not expired (revoked invitations are deleted)."""
        return self.filter(accepted_at__isnull=True, expires_at__gt=timezone.now())


class Invitation(models.Model):
    """An owner's invitation for an e-mail address to join the agency with a role.

    Only a hash of the link's token is stored: someone who reads the database (or a backup)
    cannot join with it. The link works once, until `expires_at`, and only for an account
    with the invited e-mail address.
    """

    VALID_FOR = timedelta(days=7)

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(_("e-mail"))
    role = models.CharField(
        _("role"), max_length=10, choices=Membership.Role, default=Membership.Role.MEMBER
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("invited by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires at"))
    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("accepted by"),
    )

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")

    def __str__(self) -> str:
        return f"{self.email} → {self.agency} ({self.role})"

    @property
    def is_pending(self) -> bool:
        return self.accepted_at is None and self.expires_at > timezone.now()

    def is_for(self, user) -> bool:  # noqa: ANN001
        """Is `user` the invited person (their account has the invited e-mail address)?"""
        return bool(user.email) and user.email.casefold() == self.email.casefold()


class FakturoidSettings(models.Model):
    """An agency's Fakturoid connection: credentials, what verification learnt, the shared token.

    The access token lives here (encrypted) so that every process and worker shares one token;
    `fakturoid.client` refreshes it under a row lock. Everything else about Fakturoid (the
    settings page, its form, the client) lives in `fakturoid/`; the model stays in agencies
    because moving it to another app would cost a migration of the table.
    """

    class VatMode(models.TextChoices):
        VAT_PAYER = "vat_payer", _("VAT payer")
        NON_VAT_PAYER = "non_vat_payer", _("Not a VAT payer")
        IDENTIFIED_PERSON = "identified_person", _("Identified person")

    class DefaultPeriod(models.TextChoices):
        PREVIOUS = "previous", _("Previous month")
        CURRENT = "current", _("Current month")

    agency = models.OneToOneField(Agency, on_delete=models.CASCADE, related_name="fakturoid")
    account_slug = models.CharField(_("organisation name"), max_length=100, blank=True)
    due_days = models.PositiveSmallIntegerField(_("payment due date (days)"), default=14)
    api_client_id = models.CharField(_("Client ID"), max_length=200, blank=True)
    api_client_secret = EncryptedTextField(_("Secret ID"), blank=True)
    contact_email = models.EmailField(_("contact e-mail"), blank=True)
    default_period = models.CharField(
        _("invoice icon bills"),
        max_length=10,
        choices=DefaultPeriod,
        default=DefaultPeriod.PREVIOUS,
    )

    account_name = models.CharField(_("account name"), max_length=200, blank=True)
    vat_mode = models.CharField(_("VAT mode"), max_length=20, choices=VatMode, blank=True)
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)

    access_token = EncryptedTextField(_("access token"), blank=True, editable=False)
    token_expires_at = models.DateTimeField(null=True, blank=True, editable=False)

    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("Fakturoid settings")
        verbose_name_plural = _("Fakturoid settings")

    def __str__(self) -> str:
        return f"Fakturoid: {self.account_slug or '-'} ({self.agency})"

    @property
    def is_configured(self) -> bool:
        return bool(self.account_slug and self.api_client_id and self.api_client_secret)

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None

    @property
    def is_vat_payer(self) -> bool:
        # Unknown (never verified) counts as a VAT payer: sending VAT rates is the safe default.
        return self.vat_mode != self.VatMode.NON_VAT_PAYER

    # What a connection brings besides the credentials: the token and what verification learnt.
    CONNECTION_FIELDS = (
        "access_token",
        "token_expires_at",
        "account_name",
        "vat_mode",
        "currency",
        "verified_at",
    )

    def credentials_copy(self) -> "FakturoidSettings":
        """An unsaved copy holding only the credentials, to try them without touching this row
        (by agency_id: assigning the agency would make `agency.fakturoid` the copy)."""
        return FakturoidSettings(
            agency_id=self.agency_id,
            account_slug=self.account_slug,
            api_client_id=self.api_client_id,
            api_client_secret=self.api_client_secret,
            contact_email=self.contact_email,
        )

    def adopt_connection(self, other: "FakturoidSettings") -> None:
        """Take the token and what verification learnt from `other` (not saved)."""
        for field in self.CONNECTION_FIELDS:
            setattr(self, field, getattr(other, field))

    def forget_connection(self) -> None:
        """Drop what belongs to the old credentials: the token and what verification learnt."""
        self.adopt_connection(FakturoidSettings())

    def disconnect(self) -> None:
        """Remove the credentials and the token; the agency can no longer bill until set up."""
        self.forget_connection()
        self.api_client_id = ""
        self.api_client_secret = ""
        self.save()

    def token_is_fresh(self, *, margin_seconds: int = 60) -> bool:
        return bool(
            self.access_token
            and self.token_expires_at
            and self.token_expires_at - timedelta(seconds=margin_seconds) > timezone.now()
        )
