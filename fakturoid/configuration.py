"""Whether Fakturoid is set up for an agency, and whether a request can be sent with the
settings at hand: every problem is a ConfigurationError naming what to fill in or correct."""

from django.conf import settings
from django.utils.translation import gettext as _

from agencies.models import Agency, FakturoidSettings
from fakturoid.errors import ConfigurationError


def contact_email(base_url: str, fakturoid: FakturoidSettings) -> str:
    """The e-mail for the User-Agent, once everything a request needs is known to be set;
    raises ConfigurationError naming what is missing or unusable."""
    if not base_url.startswith(("https://", "http://")):
        raise ConfigurationError(_("FAKTUROID_API_URL must be an http(s) address."))
    if not (fakturoid.account_slug and fakturoid.api_client_id):
        raise ConfigurationError(_("Fill in the Fakturoid organisation name and Client ID first."))
    if not fakturoid.api_client_secret:
        raise ConfigurationError(_("Fill in the Fakturoid Secret ID first."))
    if not settings.FAKTUROID_APP_NAME:
        raise ConfigurationError(_("FAKTUROID_APP_NAME must name this application."))
    email = fakturoid.contact_email or settings.FAKTUROID_CONTACT_EMAIL
    if not email:
        raise ConfigurationError(
            _(
                "Fakturoid requires a contact e-mail with every request: fill in the "
                "contact e-mail in Settings → Fakturoid (or set FAKTUROID_CONTACT_EMAIL)."
            )
        )
    header_values = (fakturoid.api_client_id, fakturoid.api_client_secret, email)
    if not all(value.isascii() and value.isprintable() for value in header_values):
        # They travel in HTTP headers; the settings form refuses such values, the admin
        # or a script might not.
        raise ConfigurationError(
            _(
                "The Fakturoid Client ID, Secret ID and contact e-mail may only contain "
                "characters without diacritics: correct them in Settings → Fakturoid."
            )
        )
    return email


def configured_settings(agency: Agency) -> FakturoidSettings:
    """The agency's Fakturoid settings; raises ConfigurationError when they are not set up."""
    fakturoid = agency.fakturoid_settings
    if fakturoid is None or not fakturoid.is_configured:
        raise ConfigurationError(
            _(
                "Fakturoid is not set up for this agency: "
                "an owner can do it in Settings → Fakturoid."
            )
        )
    return fakturoid
