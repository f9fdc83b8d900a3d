from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from clients.models import MAX_AMOUNT, BillingItem, Client
from clients.validators import ico_checksum_ok, normalize_dic, normalize_ico

MONTH = date(2026, 3, 1)


def errors_of(instance) -> dict:
    with pytest.raises(ValidationError) as caught:
        instance.full_clean()
    return caught.value.message_dict


@pytest.mark.parametrize("ico", ["27082440", "25596641", "00006947", "45274649"])
def test_it_accepts_icos_with_a_correct_check_digit(ico):
    assert ico_checksum_ok(ico)


@pytest.mark.parametrize("ico", ["27082441", "25596640", "12345678", "2708244", "2708244a", ""])
def test_it_rejects_icos_with_a_wrong_check_digit_or_shape(ico):
    assert not ico_checksum_ok(ico)


def test_it_validates_the_ico_of_a_client(agency):
    assert "registration_no" in errors_of(
        Client(agency=agency, name="X", registration_no="27082441")
    )
    Client(agency=agency, name="X", registration_no="27082440").full_clean()


@pytest.mark.parametrize("dic", ["CZ27082440", "CZ8001011234", "SK2020317068", "DE123456789"])
def test_it_accepts_valid_dic_formats(agency, dic):
    Client(agency=agency, name="X", vat_no=dic).full_clean()


@pytest.mark.parametrize("dic", ["27082440", "CZ123", "cz27082440", "CZ 27082440", "C27082440"])
def test_it_rejects_invalid_dic_formats(agency, dic):
    assert "vat_no" in errors_of(Client(agency=agency, name="X", vat_no=dic))


def test_it_normalises_ico_and_dic_as_people_type_them():
    assert normalize_ico(" 270 82 440 ") == "27082440"
    assert normalize_ico("6947") == "00006947"
    assert normalize_dic("cz 270 82 440") == "CZ27082440"


@pytest.mark.parametrize("amount", ["0", "-1", "0.00"])
def test_it_requires_a_positive_amount(make_client, make_project, agency, amount):
    project = make_project(make_client(agency))
    item = BillingItem(project=project, description="Fee", amount=Decimal(amount))
    assert "amount" in errors_of(item)


def test_it_rejects_an_amount_over_the_maximum(make_client, make_project, agency):
    project = make_project(make_client(agency))
    item = BillingItem(project=project, description="Fee", amount=MAX_AMOUNT + Decimal("0.01"))
    assert "amount" in errors_of(item)
    BillingItem(project=project, description="Fee", amount=MAX_AMOUNT).full_clean()


def test_it_requires_a_month_for_a_one_off_item(make_client, make_project, agency):
    project = make_project(make_client(agency))
    item = BillingItem(
        project=project, description="Audit", amount=Decimal("500"), kind=BillingItem.Kind.ONE_OFF
    )
    assert "month" in errors_of(item)
    item.month = MONTH
    item.full_clean()


def test_it_rejects_a_last_month_before_the_first_month(make_client, make_project, agency):
    project = make_project(make_client(agency))
    item = BillingItem(
        project=project,
        description="Fee",
        amount=Decimal("500"),
        first_month=date(2026, 5, 1),
        last_month=date(2026, 4, 1),
    )
    assert "last_month" in errors_of(item)
    item.last_month = date(2026, 5, 1)
    item.full_clean()


def test_it_stores_months_as_their_first_day_and_drops_fields_of_the_other_kind(
    make_client, make_project, make_item, agency
):
    project = make_project(make_client(agency))
    one_off = make_item(
        project, kind=BillingItem.Kind.ONE_OFF, month=date(2026, 3, 17), first_month=MONTH
    )
    monthly = make_item(project, first_month=date(2026, 1, 31), month=MONTH)
    one_off.refresh_from_db()
    monthly.refresh_from_db()
    assert (one_off.month, one_off.first_month) == (MONTH, None)
    assert (monthly.first_month, monthly.month) == (date(2026, 1, 1), None)


def test_it_finds_the_items_billable_in_a_month(make_client, make_project, make_item, agency):
    project = make_project(make_client(agency))
    always = make_item(project, "Always")
    running = make_item(project, "Running", first_month=date(2026, 1, 1), last_month=MONTH)
    starts_now = make_item(project, "Starts now", first_month=MONTH)
    make_item(project, "Starts later", first_month=date(2026, 4, 1))
    make_item(project, "Ended", last_month=date(2026, 2, 1))
    one_off = make_item(project, "This month", kind=BillingItem.Kind.ONE_OFF, month=MONTH)
    make_item(project, "Last month", kind=BillingItem.Kind.ONE_OFF, month=date(2026, 2, 1))

    billable = set(BillingItem.objects.for_month(MONTH))

    assert billable == {always, running, starts_now, one_off}


def test_it_bills_the_months_items_of_active_projects_with_or_without_prefetching(
    make_client, make_project, make_item, agency, django_assert_num_queries
):
    client = make_client(agency)
    eshop = make_project(client, "E-shop")
    make_item(eshop, amount="1000.50")
    make_item(eshop, amount="200", kind=BillingItem.Kind.ONE_OFF, month=MONTH)
    make_item(eshop, amount="300", last_month=date(2026, 1, 1))
    make_item(make_project(client, "Service"), amount="99.50")
    make_item(make_project(client, "Old", active=False), amount="5000")
    idle = make_client(agency, "Idle s.r.o.")

    with django_assert_num_queries(3):
        listed = {
            c.pk: c for c in Client.objects.for_agency(agency).with_billable_items(month=MONTH)
        }
        assert len(listed[client.pk].active_projects) == 2
        assert listed[client.pk].month_total == Decimal("1300.00")
        assert listed[idle.pk].month_total == Decimal("0")
        prefetched = [item.description for item in listed[client.pk].billable_items(MONTH)]

    assert [item.description for item in client.billable_items(MONTH)] == prefetched
    assert client.amount_to_bill(MONTH) == Decimal("1300.00")
    # Another month than the prefetched one is asked for, not taken from the prefetch.
    assert listed[client.pk].amount_to_bill(date(2026, 1, 1)) == Decimal("1400.00")
