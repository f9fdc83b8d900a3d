"""A deployment check: a sandbox allowed to run in production is still worth a warning."""

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Warning, register


@register(deploy=True)
def sandbox_served(**kwargs: Any) -> list[CheckMessage]:
    """Warn `check --deploy` while the sandbox is mounted: it has no login and its control
    endpoint can block any of its accounts. (With DEBUG off, settings refuse to start without
    FAKTUROID_SANDBOX_IN_PRODUCTION_I_KNOW_WHAT_I_AM_DOING.)"""
    if not settings.FAKTUROID_SANDBOX:
        return []
    return [
        Warning(
            "The Fakturoid sandbox is served at /sandbox/fakturoid/ without a login.",
            hint="Set FAKTUROID_SANDBOX=false unless this server is a deliberate demo.",
            id="sandbox.W001",
        )
    ]
