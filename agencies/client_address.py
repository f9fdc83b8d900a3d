"""The address a request comes from, as far as it can be trusted (login throttling)."""

from django.conf import settings
from django.http import HttpRequest
from ipware.ip import get_client_ip


def client_address(request: HttpRequest) -> str:
    """The browser's address: REMOTE_ADDR, or behind TRUSTED_PROXY_COUNT proxies the entry
    of X-Forwarded-For that the outermost proxy wrote.

    Each proxy appends the address it was connected from; everything left of what our
    proxies wrote comes from the browser and may be forged. django-ipware's strict mode takes
    the left-most entry only when the header has exactly the expected number (one per proxy
    but the last, whose address is REMOTE_ADDR); a longer, forged header gives nothing, and
    then the proxy's address is used: a forger shares the proxy's throttling bucket and can
    never put failures on a victim's address.
    """
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies > 0:
        address, _routable = get_client_ip(
            request,
            proxy_order="left-most",
            proxy_count=proxies - 1,
            request_header_order=["HTTP_X_FORWARDED_FOR"],
            strict=True,
        )
        if address:
            return address
    return request.META.get("REMOTE_ADDR", "")
