import datetime as dt

import pytest
import time_machine
from django.core import mail
from django.db import connection

from communications.models import Message
from communications.services import send_due_messages
from crm_project.setup import DEFAULT_SCHEDULES
from crm_project.tests.concurrency import race
from leads.models import LeadStatus
from trials import reminders, services
from trials.models import TrialReminder, TrialResult
from trials.tasks import send_due_trial_reminders

from .conftest import NOW, TODAY
from .factories import GroupFactory, LeadFactory, SalespersonFactory

pytestmark = pytest.mark.django_db

Kind = TrialReminder.Kind
Status = TrialReminder.Status
TOMORROW = TODAY + dt.timedelta(days=1)


@pytest.fixture
def trial(clock):
    """Tomorrow 18:00-19:00; the lead and the salesperson both have an address."""
    seller = SalespersonFactory(email="seller@studio.test")
    lead = LeadFactory(
        status=LeadStatus.CONTACTED, email="ana@example.org", assigned_to=seller
    )
    return services.schedule_trial(lead, GroupFactory(), TOMORROW, by=seller)


def run():
    """The reminder job, then the outbox's sender, as beat runs both each minute."""
    result = reminders.send_due_reminders()
    send_due_messages()
    return result


def statuses(trial) -> dict[str, str]:
    return dict(
        trial.reminders.exclude(status=Status.CANCELLED).values_list("kind", "status")
    )


def test_nothing_is_sent_two_hours_and_a_minute_before(clock, trial):
    clock.move_to(trial.starts_at - dt.timedelta(hours=2, minutes=1))

    result = run()

    assert mail.outbox == []
    assert result.sent == 0
    assert set(statuses(trial).values()) == {Status.PENDING}


def test_the_lead_and_the_salesperson_are_reminded_two_hours_before(clock, trial):
    clock.move_to(trial.starts_at - dt.timedelta(hours=2))

    result = run()

    assert result.sent == 2
    assert sorted(m.to[0] for m in mail.outbox) == [
        "ana@example.org",
        "seller@studio.test",
    ]
    to_lead = next(m for m in mail.outbox if m.to == ["ana@example.org"])
    assert to_lead.subject == "Your trial lesson: {} on {}".format(
        trial.group, "5 Mar, 18:00"
    )
    to_seller = next(m for m in mail.outbox if m.to == ["seller@studio.test"])
    assert to_seller.subject == f"Trial lesson at 18:00: {trial.lead}"
    assert f"/admin/trials/trial/{trial.pk}/change/" in to_seller.body
    sent = trial.reminders.filter(status=Status.SENT)
    assert {r.kind for r in sent} == {Kind.BEFORE_TO_LEAD, Kind.BEFORE_TO_SALESPERSON}
    assert all(r.sent_at == trial.starts_at - dt.timedelta(hours=2) for r in sent)
    # Each row links to its outbox message, which went out.
    assert {r.message.status for r in sent} == {Message.Status.SENT}
    assert statuses(trial)[Kind.AFTER_TO_SALESPERSON] == Status.PENDING


def test_running_the_job_twice_sends_each_reminder_once(clock, trial):
    clock.move_to(trial.starts_at - dt.timedelta(minutes=90))

    first = send_due_trial_reminders.delay().get()
    second = send_due_trial_reminders.delay().get()
    send_due_messages()

    assert first["sent"] == 2
    assert second["sent"] == 0
    assert Message.objects.filter(about_trial(trial)).count() == 2
    assert len(mail.outbox) == 2


def test_a_moved_trial_is_reminded_at_its_new_time_only(clock, trial):
    # given the trial moves from tomorrow to the day after
    later = TOMORROW + dt.timedelta(days=1)
    services.reschedule_trial(trial, later)

    # when the job runs at the old reminder time
    clock.move_to(trial.group.lesson_start(TOMORROW) - dt.timedelta(hours=2))
    run()

    # then nothing goes out; the old rows say why
    assert mail.outbox == []
    old = trial.reminders.filter(status=Status.CANCELLED)
    assert old.count() == 3
    assert all("moved to" in r.skip_reason for r in old)

    # and at the new time both go out
    clock.move_to(trial.group.lesson_start(later) - dt.timedelta(hours=2))
    run()

    assert len(mail.outbox) == 2


def test_a_reminder_already_sent_goes_again_only_for_a_different_time(clock, trial):
    # given both 'before' reminders went out for tomorrow's lesson
    clock.move_to(trial.starts_at - dt.timedelta(hours=2))
    run()
    assert len(mail.outbox) == 2

    # when the trial moves to the day after, and back again
    later = TOMORROW + dt.timedelta(days=1)
    services.reschedule_trial(trial, later)
    services.reschedule_trial(trial, TOMORROW)
    run()

    # then tomorrow's reminders are not sent twice
    assert len(mail.outbox) == 2
    assert not trial.reminders.filter(
        kind__in=[Kind.BEFORE_TO_LEAD, Kind.BEFORE_TO_SALESPERSON],
        status=Status.PENDING,
    ).exists()

    # when it moves to the day after for good, that time is reminded once more
    services.reschedule_trial(trial, later)
    clock.move_to(trial.group.lesson_start(later) - dt.timedelta(hours=2))
    run()
    run()

    assert len(mail.outbox) == 4
    assert trial.reminders.filter(status=Status.SENT).count() == 4


def test_a_cancelled_trial_sends_nothing(clock, trial):
    services.cancel_trial(trial)

    clock.move_to(trial.ends_at + dt.timedelta(hours=1))
    result = run()

    assert mail.outbox == []
    assert result.sent == 0
    assert set(trial.reminders.values_list("status", flat=True)) == {Status.CANCELLED}


def test_the_salesperson_is_asked_for_the_result_three_minutes_after_the_end(
    clock, trial
):
    clock.move_to(trial.starts_at - dt.timedelta(hours=2))
    run()
    mail.outbox.clear()

    clock.move_to(trial.ends_at + dt.timedelta(minutes=2, seconds=59))
    run()
    assert mail.outbox == []

    clock.move_to(trial.ends_at + dt.timedelta(minutes=3))
    run()

    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["seller@studio.test"]
    assert mail.outbox[0].subject.startswith("Record the trial of")
    assert f"/admin/trials/trial/{trial.pk}/change/" in mail.outbox[0].body
    assert statuses(trial)[Kind.AFTER_TO_SALESPERSON] == Status.SENT


def test_no_after_reminder_once_attendance_and_result_are_recorded(clock, trial):
    clock.move_to(trial.starts_at + dt.timedelta(minutes=30))
    services.mark_attended(trial)
    services.record_result(trial, TrialResult.SALES_OFFER)

    clock.move_to(trial.ends_at + dt.timedelta(minutes=10))
    run()

    after = trial.reminders.get(kind=Kind.AFTER_TO_SALESPERSON)
    assert after.status == Status.CANCELLED
    assert mail.outbox == []


def test_a_lead_without_an_email_is_reminded_by_text_message(clock, settings):
    settings.COMMUNICATIONS_SMS_BACKEND = "communications.channels.noop.NoopBackend"
    seller = SalespersonFactory(email="seller@studio.test")
    lead = LeadFactory(email="", phone="+14155550199", assigned_to=seller)
    trial = services.schedule_trial(lead, GroupFactory(), TOMORROW)
    clock.move_to(trial.starts_at - dt.timedelta(hours=1))

    result = run()

    to_lead = trial.reminders.get(kind=Kind.BEFORE_TO_LEAD)
    assert result.sent == 2
    assert (to_lead.status, to_lead.recipient) == (Status.SENT, "+14155550199")
    assert (to_lead.message.channel, to_lead.message.status) == ("sms", "sent")
    assert [m.to for m in mail.outbox] == [["seller@studio.test"]]


def test_a_before_reminder_that_missed_the_lesson_is_not_sent_late(clock, trial):
    # the job did not run until after the lesson had started
    clock.move_to(trial.starts_at + dt.timedelta(minutes=1))

    run()

    assert mail.outbox == []
    before = trial.reminders.filter(
        kind__in=[Kind.BEFORE_TO_LEAD, Kind.BEFORE_TO_SALESPERSON]
    )
    assert set(before.values_list("status", flat=True)) == {Status.SKIPPED}


def test_a_refused_send_is_the_outboxs_to_retry_and_never_re_enqueued(
    clock, trial, settings
):
    settings.EMAIL_BACKEND = "trials.tests.backends.RefusingBackend"
    due = trial.starts_at - dt.timedelta(hours=2)
    clock.move_to(due)

    run()
    run()

    row = trial.reminders.get(kind=Kind.BEFORE_TO_LEAD)
    assert row.status == Status.SENT  # handed over once
    assert row.message.status in {Message.Status.QUEUED, Message.Status.DEFERRED}
    assert row.message.attempts == 1
    assert "SMTPServerDisconnected" in row.message.error
    assert Message.objects.filter(about_trial(trial)).count() == 2


def test_the_job_runs_every_minute_by_default():
    schedule = next(
        s for s in DEFAULT_SCHEDULES if s.task == send_due_trial_reminders.name
    )

    assert (schedule.minute, schedule.hour) == ("*", "*")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_jobs_running_at_once_send_each_reminder_once():
    # given 10 trials whose 'before' reminders are all due
    assert connection.vendor == "postgresql"
    seller = SalespersonFactory(email="seller@studio.test")
    with time_machine.travel(NOW, tick=False):
        trials = [
            services.schedule_trial(
                LeadFactory(status=LeadStatus.CONTACTED),
                GroupFactory(capacity=5),
                TOMORROW,
                salesperson=seller,
            )
            for _ in range(10)
        ]
    moment = trials[0].starts_at - dt.timedelta(minutes=100)

    # when six workers run the job at the same moment
    with time_machine.travel(moment, tick=False):
        outcomes = race(6, lambda i: [reminders.send_due_reminders()])

    # then each of the 20 reminders went out exactly once
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert sum(o.sent for o in outcomes) == 20
    assert Message.objects.count() == 20
    send_due_messages()
    assert len(mail.outbox) == 20
    assert len({(m.to[0], m.subject) for m in mail.outbox}) == 20
    assert TrialReminder.objects.filter(status=Status.SENT).count() == 20


def about_trial(trial):
    from django.contrib.contenttypes.models import ContentType
    from django.db.models import Q

    return Q(content_type=ContentType.objects.get_for_model(trial), object_id=trial.pk)
