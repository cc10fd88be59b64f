"""Races on package sessions and appointment status, with real threads on PostgreSQL.

Each thread has its own database connection and transaction, as web and worker
processes do; a barrier releases them together so that they really race.
"""

import datetime as dt
import queue
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from appointments import services
from appointments.models import Appointment, AppointmentStatusHistory
from appointments.tests.factories import AppointmentFactory
from clients.models import Client
from crm_project.tests.concurrency import race
from packages.models import PackagePurchase
from packages.services import NoSessionsLeft
from packages.tests.factories import PackageFactory, PackagePurchaseFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

S = Appointment.Status


def checked_in_on_purchase(purchase, count: int) -> list[Appointment]:
    service = purchase.package.services.first()
    return [
        AppointmentFactory(
            client=purchase.client,
            service=service,
            purchase=purchase,
            status=S.CHECKED_IN,
            start_at=dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC) + dt.timedelta(days=i),
        )
        for i in range(count)
    ]


def completions(appointment_ids) -> int:
    return AppointmentStatusHistory.objects.filter(
        appointment_id__in=appointment_ids,
        from_status=S.CHECKED_IN,
        to_status=S.COMPLETED,
    ).count()


def test_ten_workers_completing_twelve_visits_on_ten_sessions_use_exactly_ten():
    purchase = PackagePurchaseFactory(package=PackageFactory(sessions=10))
    appointments = checked_in_on_purchase(purchase, 12)
    ids = [a.pk for a in appointments]
    todo: queue.Queue[int] = queue.Queue()
    for pk in ids:
        todo.put(pk)

    def complete_until_done(_):
        results = []
        while True:
            try:
                pk = todo.get_nowait()
            except queue.Empty:
                return results
            try:
                appointment = Appointment.objects.get(pk=pk)
                results.append(services.complete_appointment(appointment).status)
            except Exception as exc:  # counted below
                results.append(exc)

    outcomes = race(10, complete_until_done)

    assert len(outcomes) == 12
    assert outcomes.count(S.COMPLETED) == 10
    failures = [o for o in outcomes if isinstance(o, Exception)]
    assert len(failures) == 2
    assert all(isinstance(f, NoSessionsLeft) for f in failures), failures
    purchase.refresh_from_db()
    assert purchase.sessions_used == 10
    assert purchase.status == PackagePurchase.Status.EXHAUSTED
    rows = Appointment.objects.filter(pk__in=ids)
    assert rows.filter(status=S.COMPLETED, session_consumed=True).count() == 10
    assert rows.filter(status=S.CHECKED_IN, session_consumed=False).count() == 2
    assert completions(ids) == 10
    assert Client.objects.get(pk=purchase.client_id).total_visits == 10


def test_one_visit_completed_from_five_threads_uses_one_session_and_one_row():
    purchase = PackagePurchaseFactory(package=PackageFactory(sessions=10))
    (appointment,) = checked_in_on_purchase(purchase, 1)

    def complete(_):
        mine = Appointment.objects.get(pk=appointment.pk)
        return [services.complete_appointment(mine).status]

    outcomes = race(5, complete)

    assert outcomes == [S.COMPLETED] * 5
    purchase.refresh_from_db()
    assert (purchase.sessions_used, purchase.status) == (
        1,
        PackagePurchase.Status.ACTIVE,
    )
    assert completions([appointment.pk]) == 1
    assert AppointmentStatusHistory.objects.filter(appointment=appointment).count() == 2
    assert Appointment.objects.get(pk=appointment.pk).session_consumed is True
    assert Client.objects.get(pk=purchase.client_id).total_visits == 1


def test_one_visit_completed_by_plain_saves_from_five_threads_is_recorded_once():
    purchase = PackagePurchaseFactory(package=PackageFactory(sessions=10))
    (appointment,) = checked_in_on_purchase(purchase, 1)

    def save_completed(_):
        mine = Appointment.objects.get(pk=appointment.pk)
        mine.status = S.COMPLETED
        mine.save()
        return [mine.status]

    outcomes = race(5, save_completed)

    assert outcomes == [S.COMPLETED] * 5
    purchase.refresh_from_db()
    assert purchase.sessions_used == 1
    assert completions([appointment.pk]) == 1
    # Still marked as holding its session, so cancelling gives it back.
    assert Appointment.objects.get(pk=appointment.pk).session_consumed is True
    services.cancel_appointment(appointment)
    purchase.refresh_from_db()
    assert purchase.sessions_used == 0


def test_two_desks_booking_the_last_slot_of_a_week_book_it_once():
    package = PackageFactory(
        sessions=10, max_sessions_per_week=1, price=Decimal("500.00")
    )
    purchase = PackagePurchaseFactory(
        package=package,
        purchased_on=dt.date(2026, 3, 1),
        expires_on=dt.date(2026, 4, 30),
    )
    monday = dt.datetime(2026, 3, 9, 14, tzinfo=dt.UTC)

    def book(i):
        appointment = services.book_appointment(
            purchase.client,
            service=package.services.first(),
            start_at=monday + dt.timedelta(hours=i),
            purchase=purchase,
        )
        return [appointment.pk]

    outcomes = race(5, book)

    booked = [o for o in outcomes if isinstance(o, int)]
    refused = [o for o in outcomes if isinstance(o, ValidationError)]
    assert (len(booked), len(refused)) == (1, 4), outcomes
    assert all("sessions a week" in r.message_dict["purchase"][0] for r in refused)
    assert list(purchase.appointments.values_list("pk", flat=True)) == booked
