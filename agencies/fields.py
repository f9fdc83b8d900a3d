"""A text field encrypted at rest with Fernet (cryptography), keyed from FIELD_ENCRYPTION_KEY."""

import base64
import hashlib
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models


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


class EncryptedTextField(models.TextField):
    """Stores a string encrypted; Python code sees plain text, the database only ciphertext.

    Empty strings stay empty, so "not set" can be queried. A value that no configured key can
    decrypt reads as empty (the secret must be entered again) instead of breaking every page.
    """

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
