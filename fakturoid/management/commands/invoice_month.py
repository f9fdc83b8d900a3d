"""The month-end run from the command line (for cron): review, start, and optionally wait.

    python manage.py invoice_month <agency> <YYYY-MM> [--dry-run] [--send] [--wait]

<agency> is the agency's id, key or exact name. The run invoices the clients the review marks
"will be invoiced"; workers do the work (`db_worker` or `rqworker`). Exits 1 when a client
failed or the run paused, 2 on bad arguments.
"""

import time

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q

from agencies.models import Agency
from clients.months import parse_month
from fakturoid.errors import IntegrationError, explain
from fakturoid.models import InvoiceRun, InvoiceRunItem
from fakturoid.services import review, runs

POLL_SECONDS = 1.0


class Command(BaseCommand):
    help = "Invoice every client of an agency for a month (a month-end run)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("agency", help="the agency's id, key or exact name")
        parser.add_argument("month", help="the billing month, YYYY-MM")
        parser.add_argument("--dry-run", action="store_true", help="show the review, send nothing")
        parser.add_argument("--send", action="store_true", help="also e-mail each invoice")
        parser.add_argument("--wait", action="store_true", help="wait until the run is done")

    def handle(self, *args, agency: str, month: str, **options) -> None:
        found = self._agency(agency)
        period = parse_month(month)
        if period is None:
            raise CommandError(f"{month!r} is not a month: write it as YYYY-MM.", returncode=2)
        try:
            month_review = review.review_month(agency=found, period=period)
        except IntegrationError as error:
            raise CommandError(explain(error)) from error
        if options["dry_run"]:
            self._print_review(month_review)
            return
        client_ids = month_review.client_ids()
        if not client_ids:
            self.stdout.write(f"Nobody to invoice for {month}.")
            return
        send = options["send"]
        run, started = runs.start_run(
            agency=found, period=period, user=None, client_ids=client_ids, send_email=send
        )
        verb = "Started" if started else "Already in progress:"
        self.stdout.write(f"{verb} run #{run.pk} for {month}, {run.items.count()} clients.")
        if options["wait"]:
            self._wait(run)

    def _agency(self, value: str) -> Agency:
        matches = Agency.objects.filter(
            Q(key=value) | Q(name=value) | (Q(pk=int(value)) if value.isdigit() else Q(pk=None))
        )
        if len(matches) != 1:
            raise CommandError(f"No single agency is called {value!r}.", returncode=2)
        return matches[0]

    def _print_review(self, month_review: review.Review) -> None:
        for row in month_review.rows:
            figures = ""
            if row.draft:
                figures = f" {row.draft.total} {row.draft.currency} ({len(row.draft.lines)} lines)"
            details = row.invoice.number if row.outcome == "already_invoiced" else row.reason
            self.stdout.write(f"{row.client.name}: {row.outcome_label}{figures} {details}".rstrip())
        counts = ", ".join(
            f"{label} {month_review.count(value)}" for value, label in review.Outcome.choices
        )
        self.stdout.write(f"Dry run, nothing sent: {counts}.")
        for total in month_review.totals:
            self.stdout.write(f"Total {total.currency}: {total.total} in {total.invoices} invoices")

    def _wait(self, run: InvoiceRun) -> None:
        """A line per client as it is done, then a summary; exit 1 on failures or a pause."""
        printed: set[int] = set()
        while True:
            run.refresh_from_db()
            done = run.items.exclude(state__in=InvoiceRunItem.OPEN_STATES).exclude(pk__in=printed)
            for item in done.select_related("client", "invoice").order_by("updated_at"):
                printed.add(item.pk)
                number = item.invoice.number if item.invoice else ""
                detail = " ".join(part for part in (number, item.error, item.email_error) if part)
                self.stdout.write(f"{item.client.name}: {item.get_state_display()} {detail}")
            if not run.is_active or run.state == InvoiceRun.State.PAUSED:
                break
            time.sleep(POLL_SECONDS)
        summary = runs.progress(run=run)
        self.stdout.write(
            f"Run #{run.pk} {run.get_state_display()}: {summary.created} created, "
            f"{summary.failed} failed, {summary.skipped} skipped, {summary.waiting} waiting."
        )
        if run.state == InvoiceRun.State.PAUSED:
            raise CommandError(f"The run is paused: {run.pause_reason}", returncode=1)
        if summary.failed:
            raise CommandError(f"{summary.failed} clients failed.", returncode=1)
