from auditlog.middleware import AuditlogMiddleware
from django.http import HttpRequest

from agencies.client_address import client_address


class ActivityMiddleware(AuditlogMiddleware):
    """Records the signed-in user as the author of every change made during the request.

    The address is the one login throttling trusts (`TRUSTED_PROXY_COUNT`), not the
    left-most X-Forwarded-For entry that any browser can forge.
    """

    @staticmethod
    def _get_remote_addr(request: HttpRequest) -> str | None:
        return client_address(request) or None
