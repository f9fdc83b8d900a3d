"""An agency never loses its last owner, not even to two owners acting at the same moment."""

import threading

import pytest
from django.db import connection

from agencies.models import Membership
from tests.support import login

TIMEOUT = 30  # seconds: any join that takes longer fails the test
OVERLAP = 3  # seconds each writer waits for the other one to reach its write


def test_it_refuses_to_demote_the_last_owner(owner_http, agency, owner):
    own = Membership.objects.get(agency=agency, user=owner)

    response = owner_http.post(f"/agency/members/{own.pk}/role/", {"role": "member"}, follow=True)

    assert "An agency needs at least one owner." in response.content.decode()
    own.refresh_from_db()
    assert own.is_owner


def test_it_lets_one_of_two_owners_step_down(owner_http, agency, owner, member):
    Membership.objects.filter(agency=agency, user=member).update(role=Membership.Role.OWNER)
    own = Membership.objects.get(agency=agency, user=owner)

    owner_http.post(f"/agency/members/{own.pk}/role/", {"role": "member"})

    own.refresh_from_db()
    assert not own.is_owner


def meet_before_writing(monkeypatch) -> None:
    """Each writer waits (bounded) for the other at its save or delete: without a lock both
    get there having seen the other as the remaining owner; with one, the second writer waits
    for the first to commit and this meeting times out."""
    barrier = threading.Barrier(2, timeout=OVERLAP)
    original_save, original_delete = Membership.save, Membership.delete

    def meet() -> None:
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            pass

    def save(self, *args, **kwargs):
        meet()
        return original_save(self, *args, **kwargs)

    def delete(self, *args, **kwargs):
        meet()
        return original_delete(self, *args, **kwargs)

    monkeypatch.setattr(Membership, "save", save)
    monkeypatch.setattr(Membership, "delete", delete)


@pytest.mark.skipif(
    connection.vendor == "sqlite",
    reason="SQLite's in-memory test database is one connection shared by every thread: "
    "concurrent writers are impossible there (CI runs this on PostgreSQL)",
)
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("action", ["demote", "remove"])
def test_it_keeps_an_owner_when_two_owners_drop_each_other_at_once(
    make_user, make_agency, monkeypatch, action
):
    alice, bob = make_user("alice"), make_user("bob")
    agency = make_agency("Duo Agency", owner=alice)
    Membership.objects.create(user=bob, agency=agency, role=Membership.Role.OWNER)
    alices = Membership.objects.get(user=alice)
    bobs = Membership.objects.get(user=bob)
    clients = {alice.pk: login(alice), bob.pk: login(bob)}
    meet_before_writing(monkeypatch)
    statuses: dict[str, int] = {}

    def drop(actor, target: Membership) -> None:  # noqa: ANN001
        try:
            url = f"/agency/members/{target.pk}/"
            if action == "demote":
                response = clients[actor.pk].post(url + "role/", {"role": "member"})
            else:
                response = clients[actor.pk].post(url + "remove/")
            statuses[actor.username] = response.status_code
        finally:
            connection.close()

    threads = [
        threading.Thread(target=drop, args=(alice, bobs)),
        threading.Thread(target=drop, args=(bob, alices)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)

    assert not any(thread.is_alive() for thread in threads)
    assert statuses == {"alice": 302, "bob": 302}
    owners = Membership.objects.filter(agency=agency, role=Membership.Role.OWNER)
    assert owners.count() == 1
