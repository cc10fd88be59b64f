"""The must-hold, on PostgreSQL with Redis: a job run twice, or by two workers at
once, or by racing threads, produces each message exactly once.

The workers are real Celery processes (crm_project.tests.test_worker) on a private
queue, reading the rows this test committed.
"""

import datetime as dt

import pytest
from django.utils import timezone

from appointments.tests.factories import AppointmentFactory
from clients.tests.factories import ClientFactory
from communications.jobs import run_job
from communications.models import JobRun, Message, MessageKind, ScheduledMessage
from communications.tasks_jobs import (
    send_appointment_reminders,
    send_birthday_greetings,
    send_due_scheduled_messages,
    send_late_appointment_reminders,
)
from crm_project.tests.concurrency import race
from crm_project.tests.test_worker import wait_for

from . import test_concurrency as shared
from .factories import ContactPreferencesFactory

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

Job = JobRun.Job

# The worker fixtures, shared with the outbox's concurrency tests.
worker = shared.worker
worker_outbox = shared.worker_outbox
outbox_worker = shared.outbox_worker
second_worker = shared.second_worker


def tomorrows_appointments(count: int) -> list:
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    noon = timezone.make_aware(dt.datetime.combine(tomorrow, dt.time(12)))
    return [
        AppointmentFactory(start_at=noon + dt.timedelta(minutes=15 * i))
        for i in range(count)
    ]


def birthdays_today(count: int) -> list:
    today = timezone.localdate()
    clients = [ClientFactory(birth_date=today.replace(year=1990)) for _ in range(count)]
    for client in clients:
        ContactPreferencesFactory(client=client)
    return clients


def finished_runs(job) -> list[JobRun]:
    return list(JobRun.objects.filter(job=job).exclude(status=JobRun.Status.RUNNING))


def assert_once_each(kind, ids, *, field="object_id"):
    rows = list(Message.objects.filter(kind=kind).values_list(field, flat=True))
    assert sorted(rows) == sorted(ids)


def test_a_real_worker_running_the_jobs_twice_writes_each_message_once(
    templates, outbox_worker
):
    queue, log, process = outbox_worker
    appointments = tomorrows_appointments(12)
    clients = birthdays_today(8)
    staff_note = ScheduledMessage.objects.create(
        client=clients[0],
        channel="sms",
        body="Your voucher is ready",
        due_at=timezone.now() - dt.timedelta(minutes=1),
    )

    for _ in range(2):
        send_appointment_reminders.apply_async(queue=queue)
        send_late_appointment_reminders.apply_async(queue=queue)
        send_birthday_greetings.apply_async(queue=queue)
        send_due_scheduled_messages.apply_async(queue=queue)

    wait_for(
        lambda: (
            len(finished_runs(Job.APPOINTMENT_REMINDERS)) == 4
            and len(finished_runs(Job.BIRTHDAYS)) == 2
            and log.read_text().count("send_due_scheduled_messages") >= 4
        ),
        what="every job run to finish",
        log=log,
        worker=process,
    )
    assert_once_each(MessageKind.APPOINTMENT_REMINDER, [a.pk for a in appointments])
    assert_once_each(MessageKind.BIRTHDAY, [c.pk for c in clients], field="client_id")
    reminders = finished_runs(Job.APPOINTMENT_REMINDERS)
    assert sum(r.enqueued for r in reminders) == 12
    assert {r.status for r in reminders} == {JobRun.Status.DONE}
    birthdays = finished_runs(Job.BIRTHDAYS)
    assert sorted((r.enqueued, r.duplicates) for r in birthdays) == [(0, 8), (8, 0)]
    staff_note.refresh_from_db()
    assert staff_note.status == ScheduledMessage.Status.DUE
    assert Message.objects.filter(kind=MessageKind.ONE_OFF).get() == staff_note.message
    assert "Birthday greetings: 8 enqueued" in log.read_text()


def test_two_real_workers_running_a_job_at_once_write_each_message_once(
    templates, second_worker
):
    queue, (log, log2), (first, second) = second_worker
    appointments = tomorrows_appointments(40)

    for _ in range(6):
        send_appointment_reminders.apply_async(queue=queue)

    wait_for(
        lambda: len(finished_runs(Job.APPOINTMENT_REMINDERS)) == 6,
        what="six runs on two workers",
        log=log,
        worker=first,
    )
    assert_once_each(MessageKind.APPOINTMENT_REMINDER, [a.pk for a in appointments])
    assert {r.status for r in finished_runs(Job.APPOINTMENT_REMINDERS)} == {
        JobRun.Status.DONE
    }


@pytest.mark.parametrize(
    ("job", "make", "kind", "field"),
    [
        (
            Job.APPOINTMENT_REMINDERS,
            tomorrows_appointments,
            MessageKind.APPOINTMENT_REMINDER,
            "object_id",
        ),
        (Job.BIRTHDAYS, birthdays_today, MessageKind.BIRTHDAY, "client_id"),
    ],
)
def test_threads_racing_a_job_write_each_message_once(
    templates, job, make, kind, field
):
    made = make(30)

    outcomes = race(4, lambda i: [run_job(job)])

    assert not [o for o in outcomes if isinstance(o, Exception)]
    assert_once_each(kind, [m.pk for m in made], field=field)
    assert {run.status for run in outcomes} == {JobRun.Status.DONE}


def test_threads_racing_the_scheduled_messages_job_send_each_once(templates):
    past = timezone.now() - dt.timedelta(minutes=1)
    items = [
        ScheduledMessage.objects.create(
            client=ClientFactory(), channel="sms", body=f"Note {i}", due_at=past
        )
        for i in range(30)
    ]

    outcomes = race(4, lambda i: [run_job(Job.SCHEDULED_MESSAGES)])

    assert not [o for o in outcomes if isinstance(o, Exception)]
    assert Message.objects.count() == 30
    linked = ScheduledMessage.objects.filter(
        pk__in=[i.pk for i in items], status=ScheduledMessage.Status.DUE
    ).exclude(message=None)
    assert linked.count() == 30
