"""The starting catalogue loaded by ``load_initial_data``."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from packages.models import Package
from services.models import Contraindication, Service, ServiceCategory

pytestmark = pytest.mark.django_db

SERVICE_PRICES = {
    "Cryotherapy": Decimal("65.00"),
    "Red Light Therapy": Decimal("45.00"),
    "Oxygen Therapy": Decimal("40.00"),
    "Infrared Sauna": Decimal("55.00"),
}

# name: (services, sessions, min/week, max/week, price, vs individual, days, combinable)
PACKAGES = {
    "Fatigue / Focus / Energy": (
        {"Cryotherapy", "Oxygen Therapy"},
        10,
        2,
        3,
        Decimal("850.00"),
        Decimal("1050.00"),
        60,
        False,
    ),
    "Pain and Inflammation": (
        {"Cryotherapy", "Red Light Therapy"},
        12,
        3,
        4,
        Decimal("1100.00"),
        Decimal("1320.00"),
        45,
        True,
    ),
    "Injury Recovery and Prevention": (
        {"Cryotherapy", "Oxygen Therapy"},
        10,
        2,
        3,
        Decimal("880.00"),
        Decimal("1050.00"),
        60,
        False,
    ),
    "Beauty and Skin Health": (
        {"Red Light Therapy", "Cryotherapy", "Oxygen Therapy", "Infrared Sauna"},
        10,
        2,
        3,
        Decimal("950.00"),
        Decimal("2050.00"),
        60,
        False,
    ),
    "Wellbeing and Stress Relief": (
        {"Cryotherapy", "Oxygen Therapy", "Infrared Sauna"},
        10,
        2,
        3,
        Decimal("920.00"),
        Decimal("1600.00"),
        60,
        False,
    ),
}


def load() -> str:
    out = StringIO()
    call_command("load_initial_data", stdout=out)
    return out.getvalue()


def counts() -> tuple[int, int, int, int]:
    return (
        Contraindication.objects.count(),
        ServiceCategory.objects.count(),
        Service.objects.count(),
        Package.objects.count(),
    )


def test_load_initial_data_creates_the_four_services_with_their_prices():
    output = load()

    assert {s.name: s.price for s in Service.objects.all()} == SERVICE_PRICES
    assert all(s.is_active for s in Service.objects.all())
    assert "created" in output
    assert "4 services" in output
    assert "5 packages" in output


def test_every_service_carries_its_contraindications():
    load()

    cryo = Service.objects.get(name="Cryotherapy")
    assert set(cryo.contraindications.values_list("name", flat=True)) == {
        "Pregnancy",
        "Raynaud's syndrome",
        "Cold urticaria",
        "Uncontrolled hypertension",
        "Heart condition",
    }
    assert all(s.contraindications.exists() for s in Service.objects.all())


@pytest.mark.parametrize("name", PACKAGES)
def test_load_initial_data_creates_the_package_with_its_terms(name):
    services, sessions, min_week, max_week, price, individual, days, combo = PACKAGES[
        name
    ]

    load()

    package = Package.objects.get(name=name)
    assert set(package.services.values_list("name", flat=True)) == services
    assert package.sessions == sessions
    assert package.min_sessions_per_week == min_week
    assert package.max_sessions_per_week == max_week
    assert package.price == price
    assert package.validity_days == days
    assert package.combinable_in_one_visit is combo
    assert package.is_active
    assert package.individual_value() == individual
    assert package.saving() == individual - price


def test_vs_individual_is_sessions_times_the_sum_of_the_services_prices():
    load()

    for package in Package.objects.prefetch_related("services"):
        services_total = sum(s.price for s in package.services.all())
        assert package.individual_value() == package.sessions * services_total
        assert package.individual_value(services_total) == package.individual_value()


def test_running_twice_creates_nothing_new():
    load()
    before = counts()

    output = load()

    assert counts() == before
    assert before[2:] == (4, 5)
    assert "0 contraindications, 0 categories, 0 services, 0 packages" in output


def test_staff_edits_survive_a_rerun():
    load()
    Service.objects.filter(name="Cryotherapy").update(
        price=Decimal("70.00"), description="Our own words"
    )
    pain = Package.objects.get(name="Pain and Inflammation")
    pain.price = Decimal("999.00")
    pain.is_active = False
    pain.save()
    pain.services.remove(Service.objects.get(name="Red Light Therapy"))
    Service.objects.get(name="Infrared Sauna").contraindications.clear()

    load()

    cryo = Service.objects.get(name="Cryotherapy")
    assert (cryo.price, cryo.description) == (Decimal("70.00"), "Our own words")
    pain.refresh_from_db()
    assert (pain.price, pain.is_active) == (Decimal("999.00"), False)
    assert list(pain.services.values_list("name", flat=True)) == ["Cryotherapy"]
    assert not Service.objects.get(name="Infrared Sauna").contraindications.exists()


def test_a_deleted_package_is_recreated_and_the_rest_kept():
    load()
    Package.objects.get(name="Beauty and Skin Health").delete()

    output = load()

    assert Package.objects.count() == 5
    assert "1 packages" in output
    assert Package.objects.get(name="Beauty and Skin Health").services.count() == 4
