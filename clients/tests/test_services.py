"""Client figures kept by signals, refreshed on demand and reconciled nightly."""

import datetime as dt
import logging
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from appointments import services as appointment_services
from appointments.models import Appointment
from appointments.tests.factories import AppointmentFactory
from clients.models import Client
from clients.services import reconcile_client_figures, refresh_client_figures
from clients.tasks import reconcile_client_figures as reconcile_task
from clients.tests.factories import ClientFactory
from packages import services as package_services
from packages.tests.factories import PackageFactory, PaymentFactory

pytestmark = pytest.mark.django_db

S = Appointment.Status
Stage = Client.Stage
NY = ZoneInfo("America/New_York")
NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=NY)


@pytest.fixture(autouse=True)
def business_time_zone(settings):
    """The dates below are written for a studio in New York."""
    settings.TIME_ZONE = "America/New_York"


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def figures(client) -> dict:
    client.refresh_from_db()
    return {
        "total_visits": client.total_visits,
        "first_visit_at": client.first_visit_at,
        "last_visit_at": client.last_visit_at,
        "total_spent": client.total_spent,
        "lifetime_value": client.lifetime_value,
        "lifecycle_stage": client.lifecycle_stage,
        "rfm_score": client.rfm_score,
    }


LEAD = {
    "total_visits": 0,
    "first_visit_at": None,
    "last_visit_at": None,
    "total_spent": Decimal("0.00"),
    "lifetime_value": Decimal("0.00"),
    "lifecycle_stage": Stage.LEAD,
    "rfm_score": 0,
}


def visit(client, days_ago: int, status=S.CHECKED_IN, **kwargs):
    return AppointmentFactory(
        client=client,
        start_at=NOW - dt.timedelta(days=days_ago),
        status=status,
        **kwargs,
    )


# --- Payments ---------------------------------------------------------------------


def test_a_new_client_is_a_lead_with_no_figures():
    client = ClientFactory()

    assert figures(client) == LEAD


def test_a_payment_updates_total_spent_stage_ltv_and_rfm():
    client = ClientFactory()

    PaymentFactory(client=client, amount=Decimal("300.00"))

    assert figures(client) == {
        **LEAD,
        "total_spent": Decimal("300.00"),
        # 300 / 3 months × 12 × 50% (new) = 600.
        "lifetime_value": Decimal("900.00"),
        "lifecycle_stage": Stage.NEW,
        # monetary 2 (≥ 200) of 15.
        "rfm_score": 13,
    }
    client.refresh_from_db()
    assert client.figures_updated_at == timezone.now()


def test_changing_a_payment_updates_total_spent():
    client = ClientFactory()
    payment = PaymentFactory(client=client, amount=Decimal("300.00"))

    payment.amount = Decimal("120.00")
    payment.save()

    assert figures(client)["total_spent"] == Decimal("120.00")


def test_deleting_a_payment_takes_it_out_of_the_figures():
    client = ClientFactory()
    kept = PaymentFactory(client=client, amount=Decimal("50.00"))
    PaymentFactory(client=client, amount=Decimal("300.00")).delete()

    assert figures(client)["total_spent"] == kept.amount
    kept.delete()
    assert figures(client) == LEAD


def test_a_payment_touches_only_its_own_clients_figures():
    client, other = ClientFactory(), ClientFactory()

    PaymentFactory(client=client)

    assert figures(other) == LEAD


# --- Appointments -----------------------------------------------------------------


def test_completing_an_appointment_counts_a_visit():
    client = ClientFactory()
    appointment = visit(client, days_ago=3)

    appointment_services.complete_appointment(appointment)

    assert figures(client) == {
        **LEAD,
        "total_visits": 1,
        "first_visit_at": appointment.start_at,
        "last_visit_at": appointment.start_at,
        "lifecycle_stage": Stage.NEW,
        # recency 5 + frequency 1 of 15.
        "rfm_score": 40,
    }


def test_visits_before_completion_do_not_count():
    client = ClientFactory()
    visit(client, days_ago=1, status=S.SCHEDULED)
    visit(client, days_ago=2, status=S.CHECKED_IN)
    visit(client, days_ago=3, status=S.CANCELLED)
    visit(client, days_ago=4, status=S.NO_SHOW)

    assert figures(client) == LEAD


def test_first_and_last_visit_follow_the_completed_appointments():
    client = ClientFactory()
    first, middle, last = (visit(client, days_ago=d) for d in (30, 20, 10))

    for appointment in (middle, last, first):
        appointment_services.complete_appointment(appointment)

    result = figures(client)
    assert result["total_visits"] == 3
    assert result["first_visit_at"] == first.start_at
    assert result["last_visit_at"] == last.start_at
    assert result["lifecycle_stage"] == Stage.ACTIVE


def test_reopening_a_completed_appointment_takes_the_visit_back():
    client = ClientFactory()
    appointment = visit(client, days_ago=3)
    appointment_services.complete_appointment(appointment)

    appointment_services.start_appointment(appointment)

    assert figures(client) == LEAD


def test_cancelling_a_completed_appointment_takes_the_visit_back():
    client = ClientFactory()
    earlier = visit(client, days_ago=9, status=S.COMPLETED)
    appointment = visit(client, days_ago=3)
    appointment_services.complete_appointment(appointment)

    appointment_services.cancel_appointment(appointment)

    result = figures(client)
    assert result["total_visits"] == 1
    assert result["last_visit_at"] == earlier.start_at


def test_deleting_a_completed_appointment_takes_the_visit_back():
    client = ClientFactory()
    appointment = visit(client, days_ago=3, status=S.COMPLETED)
    assert figures(client)["total_visits"] == 1

    appointment.delete()

    assert figures(client) == LEAD


def test_completing_by_plain_save_counts_the_visit_too():
    client = ClientFactory()
    appointment = visit(client, days_ago=3)

    appointment.status = S.COMPLETED
    appointment.save()

    assert figures(client)["total_visits"] == 1


def test_the_stage_follows_payments_and_visits_both_ways():
    client = ClientFactory()
    package = PackageFactory(sessions=30, price=Decimal("1600.00"))
    purchase = package_services.sell_package(client, package, payment_method="card")
    appointments = [
        visit(client, days_ago=d, purchase=purchase, service=package.services.first())
        for d in (12, 8, 4)
    ]

    for appointment in appointments[:2]:
        appointment_services.complete_appointment(appointment)
    assert figures(client)["lifecycle_stage"] == Stage.VIP  # spent 1600 ≥ 1500

    purchase.payments.get().delete()
    assert figures(client)["lifecycle_stage"] == Stage.NEW  # two visits
    appointment_services.complete_appointment(appointments[2])
    assert figures(client)["lifecycle_stage"] == Stage.ACTIVE


# --- refresh_client_figures -------------------------------------------------------


def test_refreshing_twice_writes_the_same_figures():
    client = ClientFactory()
    visit(client, days_ago=3, status=S.COMPLETED)
    PaymentFactory(client=client, amount=Decimal("65.00"))
    first = figures(client)

    refresh_client_figures(client.pk)
    refresh_client_figures(client.pk)

    assert figures(client) == first


def test_refreshing_corrects_a_drifted_client():
    client = ClientFactory()
    PaymentFactory(client=client, amount=Decimal("65.00"))
    expected = figures(client)
    Client.objects.filter(pk=client.pk).update(
        total_spent=Decimal("1.00"), lifecycle_stage=Stage.VIP, rfm_score=99
    )

    refreshed = refresh_client_figures(client.pk)

    assert figures(client) == expected
    assert refreshed.total_spent == Decimal("65.00")


def test_refreshing_an_unknown_client_does_nothing():
    assert refresh_client_figures(999_999) is None


def test_time_alone_moves_a_client_to_at_risk_on_refresh(clock):
    client = ClientFactory()
    for days in (20, 15, 10):
        visit(client, days_ago=days, status=S.COMPLETED)
    assert figures(client)["lifecycle_stage"] == Stage.ACTIVE

    clock.move_to(NOW + dt.timedelta(days=50))
    refresh_client_figures(client.pk)

    assert figures(client)["lifecycle_stage"] == Stage.AT_RISK


def test_lifecycle_thresholds_from_settings_apply_on_refresh(settings):
    settings.CRM_LIFECYCLE = {**settings.CRM_LIFECYCLE, "VIP_MIN_SPENT": Decimal("100")}
    client = ClientFactory()
    visit(client, days_ago=2, status=S.COMPLETED)

    PaymentFactory(client=client, amount=Decimal("100.00"))

    assert figures(client)["lifecycle_stage"] == Stage.VIP


# --- reconcile_client_figures -----------------------------------------------------


@pytest.fixture
def drifted():
    """Three clients with real rows; two of them then drift through update()."""
    steady, spender, visitor = ClientFactory.create_batch(3)
    PaymentFactory(client=steady, amount=Decimal("40.00"))
    PaymentFactory(client=spender, amount=Decimal("400.00"))
    visit(visitor, days_ago=5, status=S.COMPLETED)
    expected = {c.pk: figures(c) for c in (steady, spender, visitor)}
    Client.objects.filter(pk=spender.pk).update(total_spent=Decimal("0"))
    Client.objects.filter(pk=visitor.pk).update(
        total_visits=7, last_visit_at=None, lifecycle_stage=Stage.CHURNED
    )
    return (steady, spender, visitor), expected


def test_reconcile_corrects_drift_and_reports_how_many(drifted, caplog):
    clients, expected = drifted
    untouched = Client.objects.get(pk=clients[0].pk).figures_updated_at

    with caplog.at_level(logging.INFO, logger="clients.services"):
        result = reconcile_client_figures()

    assert (result.checked, result.corrected) == (3, 2)
    assert {c.pk: figures(c) for c in clients} == expected
    assert Client.objects.get(pk=clients[0].pk).figures_updated_at == untouched
    assert "3 checked, 2 corrected" in caplog.text


def test_reconcile_a_second_time_corrects_nothing(drifted):
    reconcile_client_figures()

    result = reconcile_client_figures()

    assert (result.checked, result.corrected) == (3, 0)


def test_reconcile_walks_every_batch(drifted):
    clients, expected = drifted

    result = reconcile_client_figures(batch_size=1)

    assert (result.checked, result.corrected) == (3, 2)
    assert {c.pk: figures(c) for c in clients} == expected


def test_reconcile_catches_drift_from_time_passing(clock):
    client = ClientFactory()
    for days in (20, 15, 10):
        visit(client, days_ago=days, status=S.COMPLETED)

    clock.move_to(NOW + dt.timedelta(days=200))
    result = reconcile_client_figures()

    assert result.corrected == 1
    assert figures(client)["lifecycle_stage"] == Stage.CHURNED


def test_reconcile_of_figures_already_right_corrects_nothing():
    client = ClientFactory()
    PaymentFactory(client=client, amount=Decimal("123.45"))
    visit(client, days_ago=3, status=S.COMPLETED)

    assert reconcile_client_figures().corrected == 0


def test_the_nightly_task_reports_what_it_checked_and_corrected(drifted):
    assert reconcile_task.delay().get() == {"checked": 3, "corrected": 2}
    assert reconcile_task.delay().get() == {"checked": 3, "corrected": 0}
