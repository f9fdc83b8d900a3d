"""`python manage.py fakturoid_sync [--agency ID] [--full]`: the status sync, for cron."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from agencies.models import Agency
from fakturoid.errors import IntegrationError, explain
from fakturoid.services.sync import sync_statuses


class Command(BaseCommand):
    help = (
        "Bring back from Fakturoid the invoices changed since the last sync (statuses, "
        "payments), for every agency with Fakturoid set up or for one."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--agency", type=int, help="only this agency (its id)")
        parser.add_argument(
            "--full",
            action="store_true",
            help="list every invoice, not only the changed ones, and find deleted ones",
        )

    def handle(self, *args, agency: int | None, full: bool, **options) -> None:
        agencies = Agency.objects.filter(
            fakturoid__account_slug__gt="", fakturoid__api_client_id__gt=""
        ).order_by("pk")
        if agency is not None:
            agencies = agencies.filter(pk=agency)
            if not agencies.exists():
                raise CommandError(f"No agency {agency} with Fakturoid set up.")
        failed = 0
        for item in agencies:
            try:
                result = sync_statuses(agency=item, full=full, background=True)
            except IntegrationError as error:
                failed += 1
                self.stderr.write(f"{item.pk} {item.name}: {explain(error)}")
                continue
            self.stdout.write(
                f"{item.pk} {item.name}: {result.listed} listed, {result.updated} updated, "
                f"{len(result.deleted)} deleted, {result.duplicated} duplicated, "
                f"{result.requests} requests"
            )
        if failed:
            raise CommandError(f"{failed} agencies could not be synced.")
