"""Flash messages may quote Fakturoid's own pages; nothing else in them becomes a link."""

import re
from urllib.parse import quote

from django import template
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

from fakturoid.errors import web_url

register = template.Library()

URL_RE = re.compile(r"https?://[^\s<>\"']+")


@register.filter
def link_fakturoid(text: str) -> SafeString:
    """Escape `text` and link only addresses of the Fakturoid we talk to.

    Messages carry user data (client names such as `www.evil.example/login`); `urlize` would
    turn it into links on our own page. Only a full address on Fakturoid's web (the real
    service or the sandbox standing in) is linked, e.g. its bank-account settings.
    """
    prefix = web_url() + "/"
    parts = []
    position = 0
    text = str(text)
    for match in URL_RE.finditer(text):
        url = match.group().rstrip(".,;:)")
        if not url.startswith(prefix):
            continue
        parts.append(escape(text[position : match.start()]))
        parts.append(format_html('<a href="{}" rel="noopener">{}</a>', url, url))
        position = match.start() + len(url)
    parts.append(escape(text[position:]))
    return mark_safe("".join(parts))  # noqa: S308 - every part was escaped above


@register.simple_tag(takes_context=True)
def fakturoid_contact_url(context: template.Context, subject_id: int | None) -> str:
    """The contact's page in the current agency's Fakturoid (or the sandbox standing in), or
    "" when there is nothing to link to."""
    agency = getattr(context.get("request"), "agency", None)
    if not (subject_id and agency is not None and agency.fakturoid_ready):
        return ""
    slug = agency.fakturoid_settings.account_slug
    return f"{web_url()}/{quote(slug, safe='')}/subjects/{int(subject_id)}"
