"""Appointment reminders: the day before at 09:00, 24 hours before for late bookings,
never twice for one appointment (times in the business time zone)."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings

from appointments.models import Appointment
from appointments.tests.factories import AppointmentFactory
from clients.tests.factories import ClientFactory
from communications.jobs import run_job
from communications.models import JobRun, Message, MessageKind

from .factories import ContactPreferencesFactory, OptOutFactory

pytestmark = pytest.mark.django_db

JOB = JobRun.Job.APPOINTMENT_REMINDERS


def local(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """A time on 2026-11-<day> in the business time zone."""
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=ZoneInfo(settings.TIME_ZONE))


def reminded() -> set[int]:
    return set(
        Message.objects.filter(kind=MessageKind.APPOINTMENT_REMINDER).values_list(
            "object_id", flat=True
        )
    )


def test_the_nine_oclock_run_reminds_every_appointment_of_the_next_business_day():
    # Late in the evening of the 24th in New York is already the 25th in UTC: the
    # business day decides what "tomorrow" is.
    early = AppointmentFactory(start_at=local(24, 8))
    tomorrow_first = AppointmentFactory(start_at=local(24, 0, 30))
    tomorrow_last = AppointmentFactory(start_at=local(24, 23, 30))
    day_after = AppointmentFactory(start_at=local(25, 9, 30))
    cancelled = AppointmentFactory(start_at=local(24, 12))
    Appointment.objects.filter(pk=cancelled.pk).update(
        status=Appointment.Status.CANCELLED
    )

    with time_machine.travel(local(23, 9), tick=False):
        run = run_job(JOB)

    assert reminded() == {early.pk, tomorrow_first.pk, tomorrow_last.pk}
    assert day_after.pk not in reminded()
    assert run.status == JobRun.Status.DONE
    assert (run.enqueued, run.duplicates, run.skipped, run.failed) == (3, 0, {}, 0)
    assert run.finished_at >= run.started_at


def test_running_the_reminders_twice_enqueues_nothing_new_and_counts_duplicates():
    appointments = [AppointmentFactory(start_at=local(24, 10 + i)) for i in range(3)]

    with time_machine.travel(local(23, 9), tick=False):
        first = run_job(JOB)
        second = run_job(JOB)

    assert (first.enqueued, first.duplicates) == (3, 0)
    assert (second.enqueued, second.duplicates) == (0, 3)
    assert Message.objects.count() == 3
    assert reminded() == {a.pk for a in appointments}


def test_an_appointment_booked_after_the_nine_oclock_run_is_reminded_24_hours_before():
    with time_machine.travel(local(23, 9), tick=False):
        run_job(JOB)
    # Booked at 11:00 for tomorrow 15:00: after the day-before run.
    with time_machine.travel(local(23, 11), tick=False):
        late = AppointmentFactory(start_at=local(24, 15))

    with time_machine.travel(local(23, 14), tick=False):
        too_early = run_job(JOB, next_24_hours_only=True)
    with time_machine.travel(local(23, 15), tick=False):
        on_time = run_job(JOB, next_24_hours_only=True)
    with time_machine.travel(local(23, 16), tick=False):
        again = run_job(JOB, next_24_hours_only=True)

    assert too_early.enqueued == 0
    assert on_time.enqueued == 1
    assert (again.enqueued, again.duplicates) == (0, 1)
    assert reminded() == {late.pk}


def test_the_hourly_pass_never_reminds_an_appointment_the_day_before_reminded():
    appointment = AppointmentFactory(start_at=local(24, 10))
    with time_machine.travel(local(23, 9), tick=False):
        run_job(JOB)

    with time_machine.travel(local(23, 10), tick=False):
        hourly = run_job(JOB, next_24_hours_only=True)

    assert (hourly.enqueued, hourly.duplicates) == (0, 1)
    assert Message.objects.filter(object_id=appointment.pk).count() == 1


def test_the_reminder_goes_on_the_clients_preferred_channel():
    by_sms = ClientFactory(preferred_channel="email")
    ContactPreferencesFactory(client=by_sms, preferred_channel="sms")
    by_email = ClientFactory(preferred_channel="email")
    AppointmentFactory(client=by_sms, start_at=local(24, 10))
    AppointmentFactory(client=by_email, start_at=local(24, 11))

    with time_machine.travel(local(23, 9), tick=False):
        run_job(JOB)

    channels = dict(Message.objects.values_list("client_id", "channel"))
    assert channels == {by_sms.pk: "sms", by_email.pk: "email"}
    assert "reminder" in Message.objects.get(client=by_email).subject.lower()


def test_an_opted_out_client_is_skipped_and_the_run_records_why():
    opted_out = ClientFactory()
    OptOutFactory(client=opted_out, kind=MessageKind.APPOINTMENT_REMINDER)
    AppointmentFactory(client=opted_out, start_at=local(24, 10))
    AppointmentFactory(start_at=local(24, 11))

    with time_machine.travel(local(23, 9), tick=False):
        run = run_job(JOB)

    assert run.enqueued == 1
    assert run.skipped == {"opted_out": 1}
    skipped = Message.objects.get(client=opted_out)
    assert (skipped.status, skipped.reason) == ("skipped", "opted_out")
