"""Whatever path saves or deletes an appointment (a plain ``save()`` in the shell, a
queryset delete, a fixture load), the lifecycle, its history and the package session
stay right."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from appointments import services
from appointments.models import (
    ALLOWED_TRANSITIONS,
    Appointment,
    AppointmentStatusHistory,
    InvalidTransition,
    Status,
)
from appointments.tests.factories import AppointmentFactory
from clients.tests.factories import ClientFactory, UserFactory
from packages.models import PackagePurchase
from packages.services import NoSessionsLeft
from packages.tests.factories import PackageFactory, PackagePurchaseFactory
from services.tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db

S = Appointment.Status
NOW = dt.datetime(2026, 3, 11, 9, 0, tzinfo=ZoneInfo("America/New_York"))

ALLOWED = sorted(
    (old, new) for old, targets in ALLOWED_TRANSITIONS.items() for new in targets
)
FORBIDDEN_SAMPLE = [
    (S.SCHEDULED, S.COMPLETED),
    (S.CONFIRMED, S.IN_PROGRESS),
    (S.CHECKED_IN, S.CONFIRMED),
    (S.COMPLETED, S.CHECKED_IN),
    (S.CANCELLED, S.IN_PROGRESS),
    (S.NO_SHOW, S.CANCELLED),
]


@pytest.fixture(autouse=True)
def business_time_zone(settings):
    """The dates below are written for a studio in New York."""
    settings.TIME_ZONE = "America/New_York"


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def history(appointment) -> list[tuple[str, str]]:
    return list(
        AppointmentStatusHistory.objects.filter(appointment_id=appointment.pk)
        .order_by("changed_at", "id")
        .values_list("from_status", "to_status")
    )


def on_purchase(*, sessions=10, status=S.CHECKED_IN, **purchase_kwargs):
    package = PackageFactory(sessions=sessions, price=Decimal("50.00") * sessions)
    purchase = PackagePurchaseFactory(package=package, **purchase_kwargs)
    appointment = AppointmentFactory(
        client=purchase.client,
        service=package.services.first(),
        purchase=purchase,
        status=status,
    )
    return appointment, purchase


def purchase_state(purchase) -> tuple[int, str]:
    purchase.refresh_from_db()
    return purchase.sessions_used, purchase.status


def test_creating_an_appointment_writes_one_history_row():
    appointment = Appointment.objects.create(
        client=ClientFactory(),
        service=ServiceFactory(),
        start_at=NOW,
        end_at=NOW + dt.timedelta(minutes=30),
        price=Decimal("50.00"),
    )

    row = AppointmentStatusHistory.objects.get(appointment=appointment)
    assert (row.from_status, row.to_status) == ("", S.SCHEDULED)
    assert row.changed_by is None
    assert row.changed_at == timezone.now()
    assert row.note == ""


@pytest.mark.parametrize(("old", "new"), ALLOWED)
def test_every_allowed_transition_by_plain_save_writes_one_history_row(old, new):
    appointment = AppointmentFactory(status=old)

    appointment.status = new
    appointment.save()

    appointment.refresh_from_db()
    assert appointment.status == new
    assert history(appointment) == [("", old), (old, new)]
    row = appointment.status_history.latest("id")
    assert row.changed_by is None
    assert row.changed_at == timezone.now()


@pytest.mark.parametrize(("old", "new"), FORBIDDEN_SAMPLE)
def test_a_forbidden_transition_by_plain_save_is_refused(old, new):
    appointment = AppointmentFactory(status=old)

    appointment.status = new
    with pytest.raises(InvalidTransition):
        appointment.save()

    assert Appointment.objects.get(pk=appointment.pk).status == old
    assert history(appointment) == [("", old)]


def test_a_plain_save_without_a_status_change_writes_nothing():
    appointment = AppointmentFactory(status=S.CONFIRMED)

    appointment.notes = "Prefers the morning"
    appointment.save()
    appointment.save(update_fields=["notes", "updated_at"])

    assert history(appointment) == [("", S.CONFIRMED)]


def test_a_plain_save_records_who_and_why_when_the_caller_says():
    user = UserFactory()
    appointment = AppointmentFactory()

    appointment.status = S.CANCELLED
    appointment._status_changed_by = user
    appointment._status_note = "Called to cancel"
    appointment.save()

    row = appointment.status_history.latest("id")
    assert (row.from_status, row.to_status) == (S.SCHEDULED, S.CANCELLED)
    assert row.changed_by == user
    assert row.note == "Called to cancel"


def test_one_instance_saved_through_several_changes_records_each_step_once():
    appointment = AppointmentFactory(status=S.CHECKED_IN)

    appointment.status = S.IN_PROGRESS
    appointment.save()
    appointment.status = S.COMPLETED
    appointment.save()
    appointment.save()

    assert history(appointment) == [
        ("", S.CHECKED_IN),
        (S.CHECKED_IN, S.IN_PROGRESS),
        (S.IN_PROGRESS, S.COMPLETED),
    ]


def test_a_fixture_load_writes_no_history_and_uses_no_session():
    appointment, purchase = on_purchase()
    AppointmentStatusHistory.objects.all().delete()

    appointment.status = S.COMPLETED
    appointment.save_base(raw=True)

    assert history(appointment) == []
    assert purchase_state(purchase) == (0, PackagePurchase.Status.ACTIVE)


def test_completing_by_plain_save_consumes_one_session():
    appointment, purchase = on_purchase()

    appointment.status = S.COMPLETED
    appointment.save()
    appointment.save()
    Appointment.objects.get(pk=appointment.pk).save()

    assert purchase_state(purchase) == (1, PackagePurchase.Status.ACTIVE)
    assert Appointment.objects.get(pk=appointment.pk).session_consumed is True


def test_creating_an_appointment_already_completed_consumes_one_session():
    appointment, purchase = on_purchase(status=S.COMPLETED)

    assert purchase_state(purchase) == (1, PackagePurchase.Status.ACTIVE)
    assert history(appointment) == [("", S.COMPLETED)]


def test_reopening_by_plain_save_gives_the_session_back():
    appointment, purchase = on_purchase()
    appointment.status = S.COMPLETED
    appointment.save()

    appointment.status = S.IN_PROGRESS
    appointment.save()

    assert purchase_state(purchase) == (0, PackagePurchase.Status.ACTIVE)
    assert history(appointment)[-1] == (S.COMPLETED, S.IN_PROGRESS)


def test_a_stale_instance_saved_after_completion_does_not_lose_the_session():
    appointment, purchase = on_purchase()
    stale = Appointment.objects.get(pk=appointment.pk)
    services.complete_appointment(appointment)

    stale.status = S.COMPLETED  # what the other screen shows now
    stale.notes = "Edited on another screen"
    stale.save()
    services.cancel_appointment(appointment)

    assert purchase_state(purchase) == (0, PackagePurchase.Status.ACTIVE)


def test_completing_by_plain_save_on_a_used_up_purchase_changes_nothing():
    done, purchase = on_purchase(sessions=1)
    done.status = S.COMPLETED
    done.save()
    appointment = AppointmentFactory(
        client=purchase.client, purchase=purchase, status=S.CHECKED_IN
    )

    appointment.status = S.COMPLETED
    with pytest.raises(NoSessionsLeft):
        appointment.save()

    stored = Appointment.objects.get(pk=appointment.pk)
    assert (stored.status, stored.session_consumed) == (S.CHECKED_IN, False)
    assert history(appointment) == [("", S.CHECKED_IN)]
    assert purchase_state(purchase) == (1, PackagePurchase.Status.EXHAUSTED)


def test_a_failed_save_inside_a_callers_transaction_leaves_it_usable():
    done, purchase = on_purchase(sessions=1, status=S.COMPLETED)
    appointment = AppointmentFactory(
        client=purchase.client, purchase=purchase, status=S.CHECKED_IN
    )

    with transaction.atomic():
        appointment.status = S.COMPLETED
        with pytest.raises(NoSessionsLeft):
            appointment.save()
        appointment.status = S.CANCELLED
        appointment.save()

    assert history(appointment) == [("", S.CHECKED_IN), (S.CHECKED_IN, S.CANCELLED)]
    assert purchase_state(purchase) == (1, PackagePurchase.Status.EXHAUSTED)


def test_deleting_a_completed_package_appointment_gives_the_session_back():
    appointment, purchase = on_purchase(sessions=1)
    services.complete_appointment(appointment)
    assert purchase_state(purchase) == (1, PackagePurchase.Status.EXHAUSTED)

    appointment.delete()

    assert purchase_state(purchase) == (0, PackagePurchase.Status.ACTIVE)
    assert not AppointmentStatusHistory.objects.filter(
        appointment_id=appointment.pk
    ).exists()


def test_deleting_through_a_queryset_gives_each_session_back():
    appointment, purchase = on_purchase()
    other = AppointmentFactory(
        client=purchase.client, purchase=purchase, status=S.CHECKED_IN
    )
    services.complete_appointment(appointment)
    services.complete_appointment(other)

    Appointment.objects.filter(purchase=purchase).delete()

    assert purchase_state(purchase) == (0, PackagePurchase.Status.ACTIVE)


def test_deleting_an_appointment_that_used_no_session_gives_nothing_back():
    appointment, purchase = on_purchase()
    completed = AppointmentFactory(
        client=purchase.client, purchase=purchase, status=S.CHECKED_IN
    )
    services.complete_appointment(completed)

    appointment.delete()

    assert purchase_state(purchase) == (1, PackagePurchase.Status.ACTIVE)


def test_a_stale_instance_saved_without_its_status_records_no_change():
    # Given an appointment confirmed elsewhere while this copy still says scheduled
    appointment = AppointmentFactory()
    stale = Appointment.objects.get(pk=appointment.pk)
    services.confirm_appointment(appointment)

    # When the stale copy saves only its notes
    stale.notes = "Bring a towel"
    stale.save(update_fields=["notes", "updated_at"])

    # Then the status stays confirmed and no false change is recorded
    appointment.refresh_from_db()
    assert appointment.status == Status.CONFIRMED
    assert appointment.notes == "Bring a towel"
    assert list(
        appointment.status_history.order_by("id").values_list(
            "from_status", "to_status"
        )
    ) == [("", Status.SCHEDULED), (Status.SCHEDULED, Status.CONFIRMED)]
