"""Settings → Fakturoid: check an agency's credentials end to end and save what we learnt."""

from django.utils import timezone

from agencies.models import FakturoidSettings
from fakturoid.client import FakturoidClient
from fakturoid.documents import Account
from fakturoid.errors import FakturoidError, NoAccessToAccount, explain


class SavedUnverified(Exception):  # noqa: N818 (it is a notice, not an error of ours)
    """The settings were saved, but Fakturoid could not be asked whether they work."""

    def __init__(self, cause: FakturoidError) -> None:
        self.cause = cause
        self.message = explain(cause)
        super().__init__(self.message)


def verify_connection(*, fakturoid: FakturoidSettings) -> Account:
    """Check the credentials end to end and record what Fakturoid says about the account.

    Token → GET /user.json must list the organisation → GET account.json. On success the
    account name, VAT mode and currency are set on `fakturoid` (not saved: the caller saves).
    Raises AuthenticationError (wrong Client ID/Secret ID), NoAccessToAccount, AccountBlocked,
    NetworkError/Unavailable (unreachable) or another FakturoidError.
    """
    fakturoid_api = FakturoidClient(fakturoid)
    user = fakturoid_api.get_user()
    slugs = [account.slug for account in user.accounts]
    if fakturoid.account_slug not in slugs:
        raise NoAccessToAccount(fakturoid.account_slug, slugs)
    account = fakturoid_api.get_account()
    fakturoid.account_name = account.name or ""
    fakturoid.vat_mode = account.vat_mode or ""
    fakturoid.currency = account.currency or ""
    fakturoid.verified_at = timezone.now()
    return account


def connect(*, fakturoid: FakturoidSettings, credentials_changed: bool) -> None:
    """Verify the settings an owner entered, then save them with what Fakturoid told us.

    Verification runs on an unsaved copy, so wrong credentials never replace working ones and
    never touch the stored token. Raises AuthenticationError, NoAccessToAccount, AccountBlocked
    or ConfigurationError without saving; when Fakturoid cannot be reached (a transient
    failure) the settings are saved as not verified and SavedUnverified is raised.
    """
    probe = fakturoid.credentials_copy()
    try:
        verify_connection(fakturoid=probe)
    except FakturoidError as error:
        if not error.transient:
            raise
        if credentials_changed:
            fakturoid.forget_connection()
        fakturoid.save()
        raise SavedUnverified(error) from error
    # The probe's token is the newest one (a new token may invalidate older ones): keep it.
    fakturoid.adopt_connection(probe)
    fakturoid.save()
