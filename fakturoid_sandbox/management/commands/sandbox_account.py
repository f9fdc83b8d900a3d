"""`python manage.py sandbox_account <slug>`: create or update a Fakturoid sandbox account.

Prints exactly one JSON object on stdout: {"slug": ..., "client_id": ..., "client_secret": ...}.
"""

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from fakturoid_sandbox.control import ensure_account
from fakturoid_sandbox.models import VatMode


class Command(BaseCommand):
    help = (
        "Create or update a Fakturoid sandbox account and print its API credentials as JSON. "
        "The credentials stay the same when the account already exists."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="account slug, as in /accounts/<slug>/ of the API")
        parser.add_argument("--name", help="account (company) name; kept when omitted")
        parser.add_argument(
            "--non-vat-payer",
            action="store_true",
            help="the account is not a VAT payer (invoices without VAT)",
        )
        parser.add_argument(
            "--no-bank-account",
            action="store_true",
            help="the account has no bank account (creating invoices answers 403)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            credential = ensure_account(
                options["slug"],
                name=options["name"],
                vat_mode=VatMode.NON_VAT_PAYER if options["non_vat_payer"] else VatMode.VAT_PAYER,
                bank_account=not options["no_bank_account"],
            )
        except (ValidationError, ValueError) as exc:
            raise CommandError(f"Invalid account slug {options['slug']!r}: {exc}") from exc
        self.stdout.write(
            json.dumps(
                {
                    "slug": credential.account.slug,
                    "client_id": credential.client_id,
                    "client_secret": credential.client_secret,
                }
            )
        )
