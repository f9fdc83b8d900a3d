"""Backups: `dumpdata` carries the Fakturoid secret and token encrypted, `loaddata` restores
them with the same key, and secrets can be re-encrypted with a new key (issue 11, item 4)."""

import io
import json

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.core.serializers.base import DeserializationError

from agencies.models import FakturoidSettings
from tests.test_security_secrets import SECRET, STORED_TOKEN, raw_columns, use_keys  # noqa: F401


@pytest.fixture
def stored(agency) -> FakturoidSettings:
    return FakturoidSettings.objects.create(
        agency=agency,
        account_slug="acme",
        api_client_id="client-id-123",
        api_client_secret=SECRET,
        access_token=STORED_TOKEN,
    )


def dump() -> str:
    out = io.StringIO()
    call_command("dumpdata", "agencies.FakturoidSettings", indent=2, stdout=out)
    return out.getvalue()


def restore(tmp_path, text: str) -> None:
    FakturoidSettings.objects.all().delete()
    path = tmp_path / "backup.json"
    path.write_text(text)
    call_command("loaddata", str(path), verbosity=0)


def test_it_dumps_the_secret_and_token_as_ciphertext(use_keys, stored):  # noqa: F811
    key = Fernet.generate_key().decode()
    use_keys(key)
    stored.save()

    text = dump()

    assert SECRET not in text and STORED_TOKEN not in text
    fields = json.loads(text)[0]["fields"]
    assert Fernet(key).decrypt(fields["api_client_secret"].encode()).decode() == SECRET
    assert Fernet(key).decrypt(fields["access_token"].encode()).decode() == STORED_TOKEN


def test_it_restores_a_dump_with_the_same_key(use_keys, stored, tmp_path):  # noqa: F811
    use_keys(Fernet.generate_key().decode())
    stored.save()
    text = dump()

    restore(tmp_path, text)

    restored = FakturoidSettings.objects.get()
    assert (restored.api_client_secret, restored.access_token) == (SECRET, STORED_TOKEN)
    raw_secret, _token = raw_columns(restored.pk)
    assert SECRET not in raw_secret
    assert restored.api_client_id == "client-id-123"


def test_it_restores_a_dump_after_the_key_was_rotated(use_keys, stored, tmp_path):  # noqa: F811
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    use_keys(old)
    stored.save()
    text = dump()

    use_keys(new, old)
    restore(tmp_path, text)

    assert FakturoidSettings.objects.get().api_client_secret == SECRET


def test_it_refuses_a_dump_made_with_another_key(use_keys, stored, tmp_path):  # noqa: F811
    use_keys(Fernet.generate_key().decode())
    stored.save()
    text = dump()

    use_keys(Fernet.generate_key().decode())
    with pytest.raises(DeserializationError, match="FIELD_ENCRYPTION_KEY"):
        restore(tmp_path, text)


def test_it_keeps_empty_secrets_empty_in_a_dump(use_keys, agency, tmp_path):  # noqa: F811
    FakturoidSettings.objects.create(agency=agency, account_slug="acme")

    text = dump()
    restore(tmp_path, text)

    restored = FakturoidSettings.objects.get()
    assert (restored.api_client_secret, restored.access_token) == ("", "")
    assert raw_columns(restored.pk) == ("", "")


def test_it_reencrypts_every_secret_with_the_first_key(use_keys, stored):  # noqa: F811
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    use_keys(old)
    stored.save()
    use_keys(new, old)
    out = io.StringIO()

    call_command("reencrypt_secrets", stdout=out)

    raw_secret, raw_token = raw_columns(stored.pk)
    assert Fernet(new).decrypt(raw_secret.encode()).decode() == SECRET
    assert Fernet(new).decrypt(raw_token.encode()).decode() == STORED_TOKEN
    assert "1" in out.getvalue()
    use_keys(new)  # the old key can now be retired
    assert FakturoidSettings.objects.get().api_client_secret == SECRET


def test_it_refuses_to_reencrypt_when_a_key_is_missing(use_keys, stored):  # noqa: F811
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    use_keys(old)
    stored.save()
    before = raw_columns(stored.pk)
    use_keys(new)  # the old key forgotten: the secret would be saved as empty

    with pytest.raises(CommandError, match="FIELD_ENCRYPTION_KEY"):
        call_command("reencrypt_secrets", stdout=io.StringIO())

    assert raw_columns(stored.pk) == before
