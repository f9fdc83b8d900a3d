"""A text field encrypted at rest with Fernet (cryptography), keyed from FIELD_ENCRYPTION_KEY."""

import base64
import binascii
import hashlib
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

# A Fernet token: version byte 0x80, timestamp (8), IV (16), at least one AES block (16), HMAC (32).
_TOKEN_VERSION = 0x80
_TOKEN_MIN_BYTES = 1 + 8 + 16 + 16 + 32


@cache
def _fernet() -> MultiFernet:
    keys = list(settings.FIELD_ENCRYPTION_KEYS)
    if not keys:
        digest = hashlib.sha256(f"field-encryption:{settings.SECRET_KEY}".encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    return MultiFernet([Fernet(key) for key in keys])


def encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode()


def decrypt(value: str) -> str:
    return _fernet().decrypt(value.encode()).decode()


def looks_encrypted(value: str) -> bool:
    """Is `value` shaped like our ciphertext (a Fernet token), whatever key made it?"""
    try:
        raw = base64.urlsafe_b64decode(value.encode("ascii"))
    except (UnicodeEncodeError, ValueError, binascii.Error):
        return False
    return len(raw) >= _TOKEN_MIN_BYTES and raw[0] == _TOKEN_VERSION


class EncryptedTextField(models.TextField):
    """Stores a string encrypted; Python code sees plain text, the database only ciphertext.

    Empty strings stay empty, so "not set" can be queried. A value that no configured key can
    decrypt reads as empty (the secret must be entered again) instead of breaking every page.

    Serialized (`dumpdata`) the value is ciphertext too, and deserializing (`loaddata`) turns
    that ciphertext back into the plain value, so a dump restores with the same key; a dump
    made with another key is refused instead of being stored as a garbled secret.
    """

    def value_to_string(self, obj: models.Model) -> str:
        value = self.value_from_object(obj)
        return encrypt(value) if value else value

    def to_python(self, value: object) -> str | None:
        value = super().to_python(value)
        if not value or not looks_encrypted(value):
            return value
        try:
            return decrypt(value)
        except InvalidToken as error:
            raise ValidationError(
                _(
                    "This value is encrypted with a key this installation does not have: "
                    "add the key it was made with to FIELD_ENCRYPTION_KEY."
                ),
                code="unknown_key",
            ) from error

    def get_prep_value(self, value: str | None) -> str | None:
        value = super().get_prep_value(value)
        if not value:
            return value
        return encrypt(value)

    def from_db_value(self, value: str | None, expression, connection) -> str | None:  # noqa: ANN001
        if not value:
            return value
        try:
            return decrypt(value)
        except InvalidToken:
            return ""
