"""Scheduled one-off messages and staff reminders: sent when due, once; listed on
the dashboard until marked done."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from clients.tests.factories import ClientFactory, UserFactory
from communications.jobs import (
    cancel_scheduled_message,
    due_for,
    mark_scheduled_message_done,
    run_job,
)
from communications.models import JobRun, Message, MessageKind, ScheduledMessage

pytestmark = pytest.mark.django_db

JOB = JobRun.Job.SCHEDULED_MESSAGES
Status = ScheduledMessage.Status


def scheduled(minutes_from_now: int, **fields) -> ScheduledMessage:
    fields.setdefault("client", ClientFactory(first_name="Ana"))
    fields.setdefault("channel", "sms")
    fields.setdefault("body", "Your gift voucher is ready at the desk.")
    return ScheduledMessage.objects.create(
        due_at=timezone.now() + dt.timedelta(minutes=minutes_from_now), **fields
    )


def test_a_due_message_is_enqueued_once_and_linked():
    due = scheduled(-1, subject="Voucher", channel="email")
    later = scheduled(30)

    first = run_job(JOB)
    second = run_job(JOB)

    due.refresh_from_db()
    later.refresh_from_db()
    assert due.status == Status.DUE
    assert due.message is not None
    assert due.message.kind == MessageKind.ONE_OFF
    assert due.message.subject == "Voucher"
    assert "Your gift voucher is ready at the desk." in due.message.body_text
    assert later.status == Status.SCHEDULED and later.message is None
    assert (first.enqueued, second.enqueued) == (1, 0)
    assert Message.objects.count() == 1


def test_the_message_remembers_who_scheduled_it():
    author = UserFactory()
    due = scheduled(-1, created_by=author)

    run_job(JOB)

    due.refresh_from_db()
    assert due.message.created_by == author
    assert due.message.body_text == "Your gift voucher is ready at the desk."


def test_a_staff_reminder_becomes_due_without_a_message():
    reminder = scheduled(-5, channel="", body="Call Ana about her results")

    run = run_job(JOB)

    reminder.refresh_from_db()
    assert reminder.status == Status.DUE
    assert reminder.message is None
    assert Message.objects.count() == 0
    assert run.status == JobRun.Status.DONE


def test_an_opted_out_client_gets_nothing_and_staff_see_why():
    from .factories import OptOutFactory

    due = scheduled(-1)
    OptOutFactory(client=due.client, kind=MessageKind.ONE_OFF)

    run = run_job(JOB)

    due.refresh_from_db()
    assert run.skipped == {"opted_out": 1}
    assert (due.status, due.message.status, due.message.reason) == (
        Status.DUE,
        Message.Status.SKIPPED,
        "opted_out",
    )


def test_the_dashboard_lists_the_users_and_unassigned_due_items():
    me, colleague = UserFactory(), UserFactory()
    mine = scheduled(-3, channel="", assigned_to=me)
    anyones = scheduled(-2)
    theirs = scheduled(-1, channel="", assigned_to=colleague)
    not_yet = scheduled(10, channel="", assigned_to=me)
    run_job(JOB)

    listed = list(due_for(me))

    assert listed == [mine, anyones]
    assert theirs not in listed and not_yet not in listed


def test_marking_done_records_who_and_when_and_twice_changes_nothing():
    user = UserFactory()
    item = scheduled(-1, channel="")
    run_job(JOB)

    done = mark_scheduled_message_done(item, by=user)
    stamp = done.done_at
    again = mark_scheduled_message_done(item, by=UserFactory())

    assert (done.status, done.done_by) == (Status.DONE, user)
    assert (again.done_at, again.done_by) == (stamp, user)
    assert list(due_for(user)) == []


def test_a_message_not_sent_yet_is_cancelled_not_marked_done():
    item = scheduled(30)

    with pytest.raises(ValidationError, match="cancel it"):
        mark_scheduled_message_done(item, by=None)
    cancelled = cancel_scheduled_message(item, by=None)
    run_job(JOB)

    assert cancelled.status == Status.CANCELLED
    assert cancel_scheduled_message(item).status == Status.CANCELLED
    with pytest.raises(ValidationError):
        mark_scheduled_message_done(item, by=None)


def test_a_staff_reminder_may_be_done_before_it_is_due():
    item = scheduled(60, channel="")

    assert mark_scheduled_message_done(item, by=None).status == Status.DONE
    run_job(JOB)
    item.refresh_from_db()
    assert item.status == Status.DONE


def test_a_sent_message_cannot_be_cancelled():
    item = scheduled(-1)
    run_job(JOB)

    with pytest.raises(ValidationError, match="still scheduled"):
        cancel_scheduled_message(item)


def test_the_every_minute_task_logs_only_runs_that_did_something():
    from communications.tasks_jobs import send_due_scheduled_messages

    idle = send_due_scheduled_messages.delay().get()
    scheduled(-1)
    busy = send_due_scheduled_messages.delay().get()

    assert idle == {"status": JobRun.Status.DONE}
    assert busy["enqueued"] == 1
    assert list(JobRun.objects.values_list("job", "enqueued")) == [(JOB, 1)]
