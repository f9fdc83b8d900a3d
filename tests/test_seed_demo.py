from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.core.management import call_command

from agencies.models import Agency, Membership
from clients.models import BillingItem, Client, ContactPerson, Label, Project
from clients.validators import ico_checksum_ok
from demo.management.commands.seed_demo import seed_agencies
from tests.support import login

User = get_user_model()
MODELS = [User, Agency, Membership, Label, Client, ContactPerson, Project, BillingItem]


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


def snapshot() -> list[tuple]:
    return [
        *Client.objects.values_list("pk", "name", "vat_no", "updated_at"),
        *BillingItem.objects.values_list("pk", "amount", "first_month", "last_month", "month"),
        *User.objects.values_list("pk", "password"),
    ]


def test_it_seeds_the_demo_once_and_changes_nothing_when_run_again(db, capsys):
    call_command("seed_demo")
    first_counts, first_snapshot = counts(), snapshot()
    call_command("seed_demo")

    assert counts() == first_counts
    assert snapshot() == first_snapshot
    output = capsys.readouterr().out
    assert "http://127.0.0.1:8000" in output
    assert "demo" in output
    assert "demo1234" in output


def test_it_seeds_realistic_valid_clients(db):
    agency, clients = seed_agencies(today=date(2026, 3, 15))

    assert agency.name == "Demo Agency"
    assert len(clients) >= 14
    assert set(Client.objects.filter(agency=agency)) == set(clients)
    for client in Client.objects.all():
        client.full_clean()
        assert ico_checksum_ok(client.registration_no)
        if client.country == "CZ":
            assert client.vat_no in ("", f"CZ{client.registration_no}")
        else:  # the client abroad, billed in its currency
            assert (client.vat_no[:2], client.currency) == (client.country, "EUR")
        assert client.street and client.city and client.zip and client.email
    for item in BillingItem.objects.all():
        item.full_clean()
    assert {"PPC", "SEO", "E-commerce", "Key account"} <= set(
        Label.objects.filter(agency=agency).values_list("name", flat=True)
    )
    for client in clients:
        assert 1 <= client.projects.count() <= 3
    assert Project.objects.filter(client__agency=agency, active=False).exists()
    one_off_months = set(
        BillingItem.objects.filter(kind=BillingItem.Kind.ONE_OFF).values_list("month", flat=True)
    )
    assert one_off_months == {date(2026, 3, 1), date(2026, 2, 1)}
    assert BillingItem.objects.filter(first_month__isnull=False, last_month__isnull=False).exists()


def test_it_seeds_logins_for_the_demo_and_a_separate_rival_agency(db):
    demo, _clients = seed_agencies()
    owner = User.objects.get(username="demo")
    rival = User.objects.get(username="rival")

    assert owner.check_password("demo1234")
    assert rival.check_password("rival1234")
    assert Membership.objects.get(user=owner).agency == demo
    assert Membership.objects.get(user=owner).role == Membership.Role.OWNER
    assert Membership.objects.filter(agency=demo, role=Membership.Role.MEMBER).exists()
    rival_agency = Agency.objects.get(name="Rival Agency")
    assert Client.objects.filter(agency=rival_agency).count() >= 2

    names = [client.name for client in login(rival).get("/").context["clients"]]
    assert names
    assert set(names) == set(
        Client.objects.filter(agency=rival_agency).values_list("name", flat=True)
    )


def test_it_records_when_it_relinks_a_client_to_its_demo_contact(db):
    call_command("seed_demo")
    linked = Client.objects.exclude(fakturoid_subject_id=None).order_by("pk").first()
    long_ago = linked.updated_at - timedelta(days=30)
    Client.objects.filter(pk=linked.pk).update(
        fakturoid_subject_id=None, fakturoid_link_source="", updated_at=long_ago
    )

    call_command("seed_demo")

    linked.refresh_from_db()
    assert linked.fakturoid_subject_id is not None
    assert linked.updated_at > long_ago
