"""The Czech interface: pages render in Czech, and the committed catalog is complete and compiled.

CI has no GNU gettext, so the catalog checks read `locale/cs/LC_MESSAGES/django.po` and the
committed `django.mo` with Python alone. After changing any user-facing string run:

    .venv/bin/python manage.py makemessages -l cs --ignore=.venv --ignore=staticfiles \
        --ignore=tests --no-obsolete
    (translate the new entries in django.po)
    .venv/bin/python manage.py compilemessages -l cs --ignore=.venv
"""

import ast
import gettext
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils import translation
from django.utils.translation.template import templatize

from clients.validators import validate_ico

LOCALE_DIR = settings.BASE_DIR / "locale" / "cs" / "LC_MESSAGES"
PO_FILE = LOCALE_DIR / "django.po"
MO_FILE = LOCALE_DIR / "django.mo"
# What makemessages skips: our --ignore options and its own default ignores.
SKIPPED_DIRS = {".venv", "staticfiles", "tests", "node_modules", "__pycache__", "migrations"}


@dataclass
class Entry:
    msgid: str
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr: list[str] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)


def _unquote(text: str) -> str:
    return ast.literal_eval(text)


def read_po(path: Path = PO_FILE) -> tuple[Entry, list[Entry]]:
    """The header entry and every active (non-obsolete) entry of a PO file."""
    entries = []
    for block in path.read_text(encoding="utf-8").strip().split("\n\n"):
        entry = Entry(msgid="")
        key = None
        for line in block.splitlines():
            if line.startswith("#,"):
                entry.flags |= {flag.strip() for flag in line[2:].split(",")}
            elif line.startswith("#"):
                continue
            elif line.startswith('"'):
                value = _unquote(line)
                if key == "msgstr":
                    entry.msgstr[-1] += value
                else:
                    setattr(entry, key, getattr(entry, key) + value)
            else:
                keyword, text = line.split(" ", 1)
                key = "msgstr" if keyword.startswith("msgstr") else keyword
                if key == "msgstr":
                    entry.msgstr.append(_unquote(text))
                else:
                    setattr(entry, key, _unquote(text))
        if entry.msgstr:
            entries.append(entry)
    header = entries.pop(0)
    assert header.msgid == "" and header.msgctxt is None
    return header, entries


GETTEXT_CALLS = {
    "_": ("msgid",),
    "gettext": ("msgid",),
    "gettext_lazy": ("msgid",),
    "gettext_noop": ("msgid",),
    "ngettext": ("msgid", "msgid_plural"),
    "ngettext_lazy": ("msgid", "msgid_plural"),
    "pgettext": ("msgctxt", "msgid"),
    "pgettext_lazy": ("msgctxt", "msgid"),
    "npgettext": ("msgctxt", "msgid", "msgid_plural"),
    "npgettext_lazy": ("msgctxt", "msgid", "msgid_plural"),
}


def marked_strings(source: str) -> set[tuple[str | None, str]]:
    """(msgctxt, msgid) of every literal passed to a gettext function in Python source."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        roles = GETTEXT_CALLS.get(name)
        if not roles or len(node.args) < len(roles):
            continue
        values = dict(zip(roles, node.args, strict=False))
        if not all(
            isinstance(value, ast.Constant) and isinstance(value.value, str)
            for value in values.values()
        ):
            continue
        msgctxt = values["msgctxt"].value if "msgctxt" in values else None
        found.add((msgctxt, values["msgid"].value))
    return found


TEMPLATIZED_CALL = re.compile(
    r"""\b(?:n?p?gettext|_)\((?:u?(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")\s*,?\s*)+(?:count)?\)"""
)


def project_strings() -> set[tuple[str | None, str]]:
    """What makemessages would extract from our Python files and templates."""
    found = set()
    for folder, subfolders, files in os.walk(settings.BASE_DIR):
        subfolders[:] = [
            name for name in subfolders if name not in SKIPPED_DIRS and not name.startswith(".")
        ]
        for name in files:
            path = Path(folder) / name
            if path.suffix == ".py":
                found |= marked_strings(path.read_text(encoding="utf-8"))
            elif path.suffix in {".html", ".txt"}:
                # Django's own templatize is what makemessages feeds to xgettext.
                python_like = templatize(path.read_text(encoding="utf-8"), origin=str(path))
                found |= marked_strings("\n".join(TEMPLATIZED_CALL.findall(python_like)))
    return found


PLACEHOLDER = re.compile(r"%\([^)]+\)[sd]|%%|\{\{.*?\}\}")
HTML_TAG = re.compile(r"</?[a-z][^>]*>")


@pytest.fixture(autouse=True)
def back_to_the_default_language():
    """LocaleMiddleware leaves the last request's language active in the thread: reset it, or
    tests that run after these would see Czech outside their own requests."""
    yield
    translation.deactivate()


def in_czech(http: HttpClient, url: str) -> str:
    http.cookies[settings.LANGUAGE_COOKIE_NAME] = "cs"
    response = http.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_it_switches_to_czech_with_the_header_buttons(owner_http, agency, make_client):
    make_client(agency, "Kávovar Hrubý s.r.o.")

    response = owner_http.post(reverse("set_language"), {"language": "cs", "next": "/"})

    assert response.status_code == 302
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "cs"
    page = owner_http.get(reverse("clients:list")).content.decode()
    assert '<html lang="cs">' in page
    assert "<h1>Klienti</h1>" in page
    assert 'title="Upravit klienta"' in page
    assert "Nový klient" in page
    assert "Měsíc fakturace" in page
    assert "1 klient<" in page
    assert "Edit client" not in page


def test_it_stays_in_english_without_a_language_choice(owner_http, agency, make_client):
    make_client(agency)

    page = owner_http.get(reverse("clients:list")).content.decode()

    assert '<html lang="en">' in page
    assert "<h1>Clients</h1>" in page
    assert 'title="Edit client"' in page


def test_it_follows_a_czech_browser(owner_http, agency):
    page = owner_http.get(reverse("clients:list"), HTTP_ACCEPT_LANGUAGE="cs").content.decode()

    assert "<h1>Klienti</h1>" in page


def test_it_shows_the_client_form_in_czech(owner_http, agency, make_client):
    client = make_client(agency, "Kávovar Hrubý s.r.o.")

    new_page = in_czech(owner_http, reverse("clients:create"))
    edit_page = in_czech(owner_http, reverse("clients:edit", args=[client.pk]))

    for page in (new_page, edit_page):
        assert "Fakturační údaje" in page
        assert "Kontaktní osoby" in page
        assert "Projekty a fakturační položky" in page
        assert "Fakturační e-mail" in page
        assert "Uložit a pokračovat v úpravách" in page
    assert "<h1>Nový klient</h1>" in new_page
    assert "<h1>Upravit Kávovar Hrubý s.r.o.</h1>" in edit_page


def test_it_shows_settings_fakturoid_in_czech(owner_http):
    page = in_czech(owner_http, reverse("fakturoid:settings"))

    assert "<h1>Nastavení → Fakturoid</h1>" in page
    assert "Nepřipojeno" in page
    assert "Splatnost (dny)" in page
    assert "Kontaktní e-mail" in page
    assert "Uložit a ověřit" in page
    assert "Client ID" in page and "Secret ID" in page


def test_it_shows_the_login_page_in_czech_with_djangos_own_strings(db):
    page = in_czech(HttpClient(), reverse("login"))

    assert "<h1>Přihlásit se</h1>" in page
    # Django's catalog (four plural forms) and ours (three) are both active.
    assert "Uživatelské jméno" in page
    assert "Heslo" in page


def test_it_flashes_messages_in_czech(owner_http, agency, make_client):
    client = make_client(agency, "Kávovar Hrubý s.r.o.")
    owner_http.cookies[settings.LANGUAGE_COOKIE_NAME] = "cs"

    response = owner_http.post(reverse("clients:delete", args=[client.pk]), follow=True)

    assert "Klient Kávovar Hrubý s.r.o. byl smazán." in response.content.decode()


def test_it_validates_in_czech():
    with pytest.raises(ValidationError) as error:
        validate_ico("123")

    # The message is lazy: it is translated when shown, in the language of that request.
    with translation.override("cs"):
        assert error.value.messages == ["IČO musí mít přesně 8 číslic."]
    with translation.override("en"):
        assert error.value.messages == ["IČO must be exactly 8 digits."]


@pytest.mark.parametrize(
    ("count", "text"), [(1, "1 klient"), (3, "3 klienti"), (5, "5 klientů"), (0, "0 klientů")]
)
def test_it_uses_the_three_czech_plural_forms(count, text):
    with translation.override("cs"):
        result = translation.ngettext("%(counter)s client", "%(counter)s clients", count)

    assert result % {"counter": count} == text


def test_it_has_a_czech_header_with_three_plural_forms():
    header, _entries = read_po()

    assert "Language: cs\n" in header.msgstr[0]
    assert (
        "Plural-Forms: nplurals=3; plural=(n==1) ? 0 : (n>=2 && n<=4) ? 1 : 2;\n"
        in header.msgstr[0]
    )
    assert "fuzzy" not in header.flags


def test_it_translates_every_entry_of_the_catalog():
    _header, entries = read_po()

    assert len(entries) > 400
    untranslated = [e.msgid for e in entries if not all(e.msgstr)]
    fuzzy = [e.msgid for e in entries if "fuzzy" in e.flags]
    wrong_plurals = [e.msgid for e in entries if e.msgid_plural and len(e.msgstr) != 3]
    assert untranslated == []
    assert fuzzy == []
    assert wrong_plurals == []


def test_it_keeps_placeholders_and_html_in_every_translation():
    _header, entries = read_po()

    for entry in entries:
        source = entry.msgid_plural or entry.msgid
        for translated in entry.msgstr:
            assert sorted(PLACEHOLDER.findall(translated)) == sorted(PLACEHOLDER.findall(source)), (
                entry.msgid
            )
            assert HTML_TAG.findall(translated) == HTML_TAG.findall(source), entry.msgid


def test_it_has_every_marked_string_of_the_project_in_the_catalog():
    _header, entries = read_po()
    catalog = {(entry.msgctxt, entry.msgid) for entry in entries}

    missing = project_strings() - catalog

    assert not missing, f"Run makemessages and translate (see this module's docstring): {missing}"


def test_it_commits_a_compiled_catalog_that_matches_the_po_file():
    _header, entries = read_po()
    with MO_FILE.open("rb") as mo:
        compiled = gettext.GNUTranslations(mo)

    stale = []
    for entry in entries:
        if entry.msgid_plural:
            got = [
                compiled.npgettext(entry.msgctxt, entry.msgid, entry.msgid_plural, n)
                if entry.msgctxt
                else compiled.ngettext(entry.msgid, entry.msgid_plural, n)
                for n in (1, 2, 5)
            ]
        elif entry.msgctxt:
            got = [compiled.pgettext(entry.msgctxt, entry.msgid)]
        else:
            got = [compiled.gettext(entry.msgid)]
        if got != entry.msgstr:
            stale.append(entry.msgid)
    assert stale == [], "Run compilemessages (see this module's docstring)"
