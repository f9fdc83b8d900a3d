"""The clients list at 100 / 1,000 / 10,000 clients beside Django's admin changelist of the
same clients, and the client form with 5 projects × 5 items (and 10 × 10, to show that saving
does not grow with the rows).

Run: `make bench` (or `.venv/bin/python bench/clients_list.py`). Data lives in a throw-away
SQLite file; BENCH_DATABASE_URL=postgres://… measures on an EMPTY PostgreSQL database instead
(the script refuses a database that holds agencies). Times are medians of ROUNDS requests
through Django's test client (no network), so compare the ratios within one run, not the
absolute figures across machines.

Targets (issue 14): list at 10,000 ≤ 1.3 × list at 100, faster than the admin changelist,
the same number of queries at every size; client form opens in ≤ 100 ms and saves in a
number of queries that does not grow with its rows.
"""

import os
import re
import statistics
import sys
import tempfile
import time
import warnings
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIZES = (100, 1_000, 10_000)
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "15"))
MONTH = date(2026, 11, 1)


def configure() -> None:
    from cryptography.fernet import Fernet

    database = os.environ.get("BENCH_DATABASE_URL") or (
        f"sqlite:///{tempfile.mkdtemp(prefix='bench-clients-')}/bench.sqlite3"
    )
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="false",
        SECRET_KEY="bench-only-" + Fernet.generate_key().decode(),
        FIELD_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        ALLOWED_HOSTS="testserver",
        SECURE_SSL_REDIRECT="false",
        SECURE_COOKIES="false",
        FAKTUROID_SANDBOX="false",
        LOG_LEVEL="WARNING",
        DATABASE_URL=database,
        EMAIL_URL="consolemail://",
    )
    import django
    from django.conf import settings

    # Production settings otherwise; static files by name, so no collectstatic is needed.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def medians_ms(http, urls: dict[str, str]) -> dict[str, tuple[float, float]]:  # noqa: ANN001
    """Median wall time and median CPU time of this process for each URL.

    The URLs take turns, so a busy machine slows all alike. With SQLite the database works
    inside this process too, so CPU time is the request's own cost, steadier than wall time
    on a shared machine; with PostgreSQL it leaves out the server's share.
    """
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in urls}
    for round_number in range(ROUNDS + 2):
        for name, url in urls.items():
            wall, cpu = time.perf_counter(), time.process_time()
            response = http.get(url)
            elapsed = (
                (time.perf_counter() - wall) * 1000,
                (time.process_time() - cpu) * 1000,
            )
            assert response.status_code == 200, (url, response.status_code)
            if round_number >= 2:  # the first two warm caches (templates, connections)
                times[name].append(elapsed)
    return {
        name: (statistics.median(v[0] for v in values), statistics.median(v[1] for v in values))
        for name, values in times.items()
    }


def queries_of(http, url: str) -> int:  # noqa: ANN001
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        http.get(url)
    return len(queries)


def add_clients(agency, labels, start: int, stop: int) -> None:  # noqa: ANN001
    """Clients like the demo's: two labels, a project with a monthly fee and a one-off of
    MONTH, every third one invoiced for MONTH."""
    from clients.models import BillingItem, Client, Project
    from fakturoid.models import Invoice, invoice_custom_id

    clients = Client.objects.bulk_create(
        Client(
            agency=agency,
            name=f"Client {number:05d} s.r.o.",
            email=f"billing{number}@example.com",
            fakturoid_subject_id=number + 1,
        )
        for number in range(start, stop)
    )
    through = Client.labels.through
    through.objects.bulk_create(
        through(client=client, label=labels[(client.pk + shift) % len(labels)])
        for client in clients
        for shift in (0, 1)
    )
    projects = Project.objects.bulk_create(Project(client=c, name="E-shop") for c in clients)
    BillingItem.objects.bulk_create(
        item
        for project in projects
        for item in (
            BillingItem(project=project, description="PPC", amount=15000),
            BillingItem(
                project=project,
                description="Audit",
                amount=5000,
                kind=BillingItem.Kind.ONE_OFF,
                month=MONTH,
            ),
        )
    )
    Invoice.objects.bulk_create(
        Invoice(
            agency=agency,
            client=client,
            period=MONTH,
            custom_id=invoice_custom_id(agency=agency, client_id=client.pk, period=MONTH),
            state=Invoice.State.CREATED,
            number=f"2026-{client.pk:05d}",
        )
        for client in clients[::3]
    )


def bench_list(http, agency) -> None:  # noqa: ANN001
    from clients.models import Label

    labels = [Label.objects.create(agency=agency, name=name) for name in ("PPC", "SEO", "Web")]
    rows = {}
    made = 0
    for size in SIZES:
        add_clients(agency, labels, made, size)
        made = size
        last = (size + 49) // 50
        urls = {
            "list": f"/?month={MONTH:%Y-%m}",
            "list, last page": f"/?month={MONTH:%Y-%m}&page={last}",
            "list, label + search": f"/?month={MONTH:%Y-%m}&label={labels[0].pk}&q=client",
            "admin changelist": "/admin/clients/client/",
        }
        times = medians_ms(http, urls)
        rows[size] = {name: (times[name], queries_of(http, url)) for name, url in urls.items()}

    print(f"Clients list: median of {ROUNDS} requests, wall ms / CPU ms, and queries")
    print(f"{'':22}" + "".join(f"{size:>22,}" for size in SIZES) + f"{'10k/100 wall, CPU':>20}")
    for name in rows[SIZES[0]]:
        cells = "".join(
            f"{rows[s][name][0][0]:>9.1f} /{rows[s][name][0][1]:>6.1f} {rows[s][name][1]:>2}q"
            for s in SIZES
        )
        wall = rows[SIZES[-1]][name][0][0] / rows[SIZES[0]][name][0][0]
        cpu = rows[SIZES[-1]][name][0][1] / rows[SIZES[0]][name][0][1]
        print(f"{name:22}{cells}{wall:>12.2f}× {cpu:>5.2f}×")
    for size in SIZES:
        wall = rows[size]["list"][0][0] / rows[size]["admin changelist"][0][0]
        cpu = rows[size]["list"][0][1] / rows[size]["admin changelist"][0][1]
        print(f"list / admin changelist at {size:,}: wall {wall:.2f}×, CPU {cpu:.2f}×")


def form_post_data(editor) -> dict:  # noqa: ANN001
    """What the browser would send back for the unchanged client form."""
    data = {}
    forms = [editor.form, editor.contacts.management_form, editor.projects.management_form]
    forms += list(editor.contacts) + list(editor.projects)
    forms += [form.items.management_form for form in editor.projects]
    forms += [item for form in editor.projects for item in form.items]
    for form in forms:
        for field in form:
            value = field.value()
            if value is None or value is False:
                continue
            data[field.html_name] = "on" if value is True else value
    return data


def bench_form(http, agency) -> None:  # noqa: ANN001
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from clients.forms import ClientEditor
    from clients.models import BillingItem, Client, Project

    print("\nClient form: open (median ms, KB, form fields) and save (queries)")
    for projects, items in ((5, 5), (10, 10)):
        client = Client.objects.create(agency=agency, name=f"Form {projects}x{items} a.s.")
        for p in range(projects):
            project = Project.objects.create(client=client, name=f"Project {p}")
            BillingItem.objects.bulk_create(
                BillingItem(project=project, description=f"Item {i}", amount=1000 + i)
                for i in range(items)
            )
        url = f"/clients/{client.pk}/edit/"
        html = http.get(url).content.decode()
        fields = len(re.findall(r"<(?:input|select|textarea)\b", html))
        opened, opened_cpu = medians_ms(http, {"form": url})["form"]
        data = form_post_data(ClientEditor(agency=agency, client=client))
        edited = dict(data)
        edited["projects-0-items-0-amount"] = "1234.00"
        with CaptureQueriesContext(connection) as unchanged:
            response = http.post(url, data)
        assert response.status_code == 302, response.content.decode()[:2000]
        with CaptureQueriesContext(connection) as one_change:
            assert http.post(url, edited).status_code == 302
        print(
            f"{projects:>2} projects × {items:>2} items: open {opened:6.1f} ms "
            f"(CPU {opened_cpu:5.1f} ms), "
            f"{len(html) / 1024:5.0f} KB, {fields:4} fields; save {len(unchanged):3} queries "
            f"unchanged, {len(one_change):3} with one amount changed"
        )


def main() -> None:
    # Static files are served by name here; whitenoise's warning about STATIC_ROOT is noise.
    warnings.filterwarnings("ignore", message="No directory at")
    configure()
    from django.contrib.auth import get_user_model
    from django.test import Client as HttpClient

    from agencies.models import Agency, Membership

    if Agency.objects.exists():
        sys.exit("The benchmark needs an empty database (it found agencies).")
    user = get_user_model().objects.create_superuser("bench", "bench@example.com", "bench")
    agency = Agency.objects.create(name="Bench agency")
    Membership.objects.create(user=user, agency=agency, role=Membership.Role.OWNER)
    http = HttpClient()
    http.force_login(user)
    bench_list(http, agency)
    bench_form(http, agency)


if __name__ == "__main__":
    main()
