"""A reminder is worth something only before what it reminds of begins: quiet hours
that would hold it until then, or a wait that outlasts it, skip it as too late."""

import datetime as dt
import importlib
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.apps import apps
from django.conf import settings

from appointments.tests.factories import AppointmentFactory
from clients.models import Interaction
from clients.tests.factories import ClientFactory, UserFactory
from communications.jobs import run_job
from communications.models import JobRun, Message, MessageKind, Reason
from communications.services import (
    MessageSpec,
    enqueue_message,
    enqueue_messages,
    send_due_messages,
)
from leads.tests.factories import LeadFactory
from trials.tests.factories import TrialFactory

from .factories import MessageFactory

pytestmark = pytest.mark.django_db

Status = Message.Status


def local(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """A time on 2026-11-<day> in the business time zone."""
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=ZoneInfo(settings.TIME_ZONE))


@pytest.fixture
def quiet_nights(settings, templates):
    settings.COMMUNICATIONS_QUIET_HOURS_START = "21:00"
    settings.COMMUNICATIONS_QUIET_HOURS_END = "09:00"


def test_a_late_booking_for_early_tomorrow_gets_no_reminder_after_the_quiet_hours(
    quiet_nights,
):
    # given an appointment at 08:00 booked late in the evening, and one at 10:00
    early = AppointmentFactory(start_at=local(24, 8))
    later = AppointmentFactory(start_at=local(24, 10))

    # when the hourly reminder pass runs at 22:30 and the sender after it
    with time_machine.travel(local(23, 22, 30), tick=False):
        run = run_job(JobRun.Job.APPOINTMENT_REMINDERS, next_24_hours_only=True)
        counts = send_due_messages()

    # then the 08:00 one is skipped as too late (quiet until 09:00), the 10:00 one
    # waits for 09:00
    assert run.enqueued == 2
    assert counts == {"skipped:too_late": 1, "deferred": 1}
    skipped = Message.objects.get(object_id=early.pk)
    assert (skipped.status, skipped.reason) == (Status.SKIPPED, Reason.TOO_LATE)
    assert skipped.send_before == early.start_at
    assert skipped.next_attempt_at is None
    waiting = Message.objects.get(object_id=later.pk)
    assert (waiting.status, waiting.reason) == (Status.DEFERRED, Reason.QUIET_HOURS)
    assert waiting.next_attempt_at == local(24, 9)
    with time_machine.travel(local(24, 9, 1), tick=False):
        assert send_due_messages() == {"sent": 1}
    assert Interaction.objects.get().client_id == later.client_id


def test_quiet_hours_ending_before_the_appointment_only_defer_the_reminder(
    quiet_nights,
):
    appointment = AppointmentFactory(start_at=local(24, 9, 30))
    with time_machine.travel(local(23, 23), tick=False):
        message = enqueue_message(
            MessageKind.APPOINTMENT_REMINDER,
            channel="sms",
            client=appointment.client,
            about=appointment,
        )
        send_due_messages()

    message.refresh_from_db()
    assert message.status == Status.DEFERRED
    assert message.next_attempt_at == local(24, 9)


def test_a_trial_reminder_to_a_lead_is_skipped_rather_than_sent_after_the_lesson(
    quiet_nights,
):
    trial = TrialFactory(starts_at=local(24, 8), ends_at=local(24, 9))
    with time_machine.travel(local(23, 22), tick=False):
        to_lead = enqueue_message(
            MessageKind.TRIAL_REMINDER, channel="sms", lead=trial.lead, about=trial
        )
        to_staff = enqueue_message(
            MessageKind.TRIAL_REMINDER,
            channel="email",
            user=trial.salesperson,
            about=trial,
        )
        counts = send_due_messages()

    to_lead.refresh_from_db()
    to_staff.refresh_from_db()
    assert counts == {"skipped:too_late": 1, "sent": 1}
    assert (to_lead.status, to_lead.reason) == (Status.SKIPPED, Reason.TOO_LATE)
    assert to_staff.status == Status.SENT  # staff have no quiet hours


def test_a_reminder_still_waiting_when_the_appointment_begins_is_skipped(templates):
    appointment = AppointmentFactory(start_at=local(24, 10))
    with time_machine.travel(local(24, 9), tick=False):
        message = enqueue_message(
            MessageKind.APPOINTMENT_REMINDER,
            channel="email",
            client=appointment.client,
            about=appointment,
            send_after=local(24, 9, 30),
        )
    # the sender was down from 09:30 until after the start
    with time_machine.travel(local(24, 10, 5), tick=False):
        counts = send_due_messages()

    message.refresh_from_db()
    assert counts == {"skipped:too_late": 1}
    assert (message.status, message.reason) == (Status.SKIPPED, Reason.TOO_LATE)
    assert not Interaction.objects.exists()


def test_a_reminder_enqueued_for_after_the_appointment_is_skipped_at_once(templates):
    appointment = AppointmentFactory(start_at=local(24, 10))
    with time_machine.travel(local(24, 8), tick=False):
        counts = enqueue_messages(
            [
                MessageSpec(
                    MessageKind.APPOINTMENT_REMINDER,
                    "email",
                    client=appointment.client,
                    about=appointment,
                    send_after=local(24, 10),
                ),
                MessageSpec(
                    MessageKind.APPOINTMENT_REMINDER,
                    "email",
                    client=appointment.client,
                    about=appointment,
                    period="an hour before",
                    send_after=local(24, 9),
                ),
            ]
        )

    assert counts == {"skipped:too_late": 1, "queued": 1}


def test_kinds_about_no_start_time_have_no_deadline(quiet_nights):
    client = ClientFactory()
    with time_machine.travel(local(23, 22, 30), tick=False):
        welcome = enqueue_message("welcome", channel="sms", client=client)
        survey = enqueue_message(
            MessageKind.POST_VISIT_SURVEY,
            channel="sms",
            client=client,
            about=AppointmentFactory(client=client, start_at=local(23, 10)),
        )
        follow_up = enqueue_message(
            "follow_up_reminder", channel="email", user=UserFactory()
        )
        to_lead = enqueue_message("welcome", channel="sms", lead=LeadFactory())
        counts = send_due_messages()

    assert welcome.send_before is None and survey.send_before is None
    assert follow_up.send_before is None
    assert counts == {"deferred": 3, "sent": 1}
    assert Message.objects.get(pk=to_lead.pk).status == Status.DEFERRED


def test_reminders_waiting_before_the_upgrade_get_their_deadline():
    migration = importlib.import_module(
        "communications.migrations.0007_backfill_send_before"
    )
    appointment = AppointmentFactory(start_at=local(24, 8))
    trial = TrialFactory(starts_at=local(24, 18), ends_at=local(24, 19))
    waiting = MessageFactory(
        kind=MessageKind.APPOINTMENT_REMINDER, about=appointment, status=Status.QUEUED
    )
    to_lead = MessageFactory(
        kind=MessageKind.TRIAL_REMINDER,
        client=None,
        lead=trial.lead,
        about=trial,
        status=Status.DEFERRED,
    )
    sent = MessageFactory(
        kind=MessageKind.APPOINTMENT_REMINDER, about=appointment, status=Status.SENT
    )
    survey = MessageFactory(kind=MessageKind.POST_VISIT_SURVEY, about=appointment)

    migration.backfill(apps, None)

    assert Message.objects.get(pk=waiting.pk).send_before == appointment.start_at
    assert Message.objects.get(pk=to_lead.pk).send_before == trial.starts_at
    assert Message.objects.get(pk=sent.pk).send_before is None
    assert Message.objects.get(pk=survey.pk).send_before is None
