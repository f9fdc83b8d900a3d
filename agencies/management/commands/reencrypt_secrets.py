from cryptography.fernet import InvalidToken
from django.core.management.base import BaseCommand, CommandError
from django.db import models, transaction
from django.db.models.functions import Cast

from agencies.fields import decrypt
from agencies.models import FakturoidSettings

ENCRYPTED = ("api_client_secret", "access_token")


class Command(BaseCommand):
    help = (
        "Encrypt every stored Fakturoid secret and token again with the first key of "
        "FIELD_ENCRYPTION_KEY, so that the older keys can be retired (key rotation)."
    )

    def handle(self, *args, **options) -> None:
        with transaction.atomic():
            rows = FakturoidSettings.objects.select_for_update().order_by("pk")
            self._refuse_unreadable(rows)
            count = 0
            # Reading decrypts with any configured key; saving encrypts with the first one.
            for fakturoid in rows:
                fakturoid.save(update_fields=list(ENCRYPTED))
                count += 1
        self.stdout.write(f"Re-encrypted the Fakturoid credentials of {count} agencies.")

    @staticmethod
    def _refuse_unreadable(rows: models.QuerySet) -> None:
        """A value no key decrypts reads as empty: saving it would erase it for good."""
        raw = rows.values_list("agency_id", *(Cast(name, models.TextField()) for name in ENCRYPTED))
        for agency_id, *values in raw:
            for value in filter(None, values):
                try:
                    decrypt(value)
                except InvalidToken as error:
                    raise CommandError(
                        f"Agency {agency_id} has a secret no configured key decrypts; add the "
                        "key it was encrypted with to FIELD_ENCRYPTION_KEY. Nothing was changed."
                    ) from error
