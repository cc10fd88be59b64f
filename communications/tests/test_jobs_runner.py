"""run_job: every run recorded (a job that dies as failed, with the error), and a
preview that tells who would be messaged without writing anything."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from appointments.tests.factories import AppointmentFactory
from clients.tests.factories import ClientFactory, UserFactory
from communications.jobs import JOBS, run_job, sweep_abandoned_runs
from communications.models import JobRun, Message, MessageKind, ScheduledMessage

from .factories import ContactPreferencesFactory, OptOutFactory

pytestmark = pytest.mark.django_db

Job = JobRun.Job


def test_every_job_is_registered_with_its_scheduled_tasks():
    assert set(JOBS) == set(Job.values) - {Job.CAMPAIGN}
    assert all(job.tasks and job.description for job in JOBS.values())


@pytest.mark.parametrize("job", sorted(set(Job.values) - {Job.CAMPAIGN}))
def test_a_run_with_nothing_to_do_is_recorded_as_done(job):
    user = UserFactory()

    run = run_job(job, by=user)

    assert (run.job, run.status, run.triggered_by) == (job, JobRun.Status.DONE, user)
    assert (run.enqueued, run.duplicates, run.skipped, run.failed) == (0, 0, {}, 0)
    assert JobRun.objects.get(pk=run.pk).finished_at is not None


def test_a_job_that_dies_is_recorded_as_failed_with_the_error(settings):
    settings.COMMUNICATIONS_EXPIRY_WARNING_DAYS = "seven"  # a broken deployment

    run = run_job(Job.PACKAGE_EXPIRY)

    stored = JobRun.objects.get(pk=run.pk)
    assert stored.status == JobRun.Status.FAILED
    assert "TypeError" in stored.error
    assert stored.finished_at is not None


def test_a_run_its_worker_left_running_is_marked_abandoned_when_a_job_starts():
    now = timezone.now()
    killed = JobRun.objects.create(
        job=Job.BIRTHDAYS, started_at=now - dt.timedelta(minutes=31), enqueued=0
    )
    still_going = JobRun.objects.create(
        job=Job.REACTIVATION, started_at=now - dt.timedelta(minutes=5)
    )
    finished = JobRun.objects.create(
        job=Job.PACKAGE_EXPIRY,
        status=JobRun.Status.DONE,
        started_at=now - dt.timedelta(days=2),
        finished_at=now - dt.timedelta(days=2),
    )

    # the every-minute job starts
    run_job(Job.SCHEDULED_MESSAGES, keep_empty=False)

    killed.refresh_from_db()
    assert killed.status == JobRun.Status.ABANDONED
    assert "still running after 30 minutes" in killed.error
    assert killed.finished_at is None  # when it stopped is not known
    assert JobRun.objects.get(pk=still_going.pk).status == JobRun.Status.RUNNING
    finished.refresh_from_db()
    assert (finished.status, finished.error) == (JobRun.Status.DONE, "")


def test_the_abandoned_run_timeout_is_a_setting_and_a_sweep_marks_once(settings):
    settings.COMMUNICATIONS_JOB_RUN_TIMEOUT_MINUTES = 5
    run = JobRun.objects.create(
        job=Job.BIRTHDAYS, started_at=timezone.now() - dt.timedelta(minutes=6)
    )

    assert sweep_abandoned_runs() == 1
    assert sweep_abandoned_runs() == 0
    run.refresh_from_db()
    assert run.status == JobRun.Status.ABANDONED
    assert "still running after 5 minutes" in run.error


def test_a_chunk_that_fails_counts_its_messages_as_failed(settings):
    settings.COMMUNICATIONS_CAPS = {**settings.COMMUNICATIONS_CAPS, "email": "day=lots"}
    today = timezone.localdate()
    for _ in range(2):
        client = ClientFactory(birth_date=today.replace(year=1990))
        ContactPreferencesFactory(client=client)

    run = run_job(Job.BIRTHDAYS)

    assert (run.status, run.failed, run.enqueued) == (JobRun.Status.FAILED, 2, 0)
    assert "bad cap" in run.error
    assert not Message.objects.exists()


def test_the_preview_lists_recipients_and_skips_without_writing_anything():
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    noon = timezone.make_aware(dt.datetime.combine(tomorrow, dt.time(12)))
    fine = AppointmentFactory(start_at=noon)
    opted_out = AppointmentFactory(start_at=noon + dt.timedelta(hours=1))
    OptOutFactory(client=opted_out.client, kind=MessageKind.APPOINTMENT_REMINDER)
    no_email = AppointmentFactory(
        start_at=noon + dt.timedelta(hours=2), client=ClientFactory(email="")
    )
    already = AppointmentFactory(start_at=noon + dt.timedelta(hours=3))
    run_job(Job.APPOINTMENT_REMINDERS, now=timezone.now())
    Message.objects.exclude(object_id=already.pk).delete()
    runs, messages = JobRun.objects.count(), Message.objects.count()

    with CaptureQueriesContext(connection) as queries:
        preview = run_job(Job.APPOINTMENT_REMINDERS, preview=True)

    writes = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    ]
    assert writes == []
    assert (JobRun.objects.count(), Message.objects.count()) == (runs, messages)
    outcomes = {row.about.pk: (row.outcome, row.reason) for row in preview.rows}
    assert outcomes == {
        fine.pk: ("queue", ""),
        opted_out.pk: ("skip", "opted_out"),
        no_email.pk: ("skip", "no_address"),
        already.pk: ("duplicate", ""),
    }
    assert preview.counts == {
        "queue": 1,
        "skipped:opted_out": 1,
        "skipped:no_address": 1,
        "duplicate": 1,
    }


def test_the_preview_of_marketing_counts_consent_and_caps_like_the_run():
    today = timezone.localdate()
    with_consent = ClientFactory(birth_date=today.replace(year=1980))
    ContactPreferencesFactory(client=with_consent)
    without = ClientFactory(birth_date=today.replace(year=1981))

    preview = run_job(Job.BIRTHDAYS, preview=True)
    run = run_job(Job.BIRTHDAYS)

    assert {r.client.pk: r.outcome for r in preview.rows} == {
        with_consent.pk: "queue",
        without.pk: "skip",
    }
    assert (run.enqueued, run.skipped) == (1, {"no_consent": 1})


def test_the_preview_of_scheduled_messages_shows_staff_reminders_and_writes_nothing():
    client = ClientFactory()
    past = timezone.now() - dt.timedelta(minutes=1)
    ScheduledMessage.objects.create(
        client=client, channel="sms", body="Hi", due_at=past
    )
    ScheduledMessage.objects.create(client=client, channel="", body="Call", due_at=past)

    preview = run_job(Job.SCHEDULED_MESSAGES, preview=True)

    assert sorted(r.outcome for r in preview.rows) == ["queue", "staff"]
    assert not ScheduledMessage.objects.exclude(status="scheduled").exists()
    assert not Message.objects.exists()


def test_every_jobs_task_is_registered_and_scheduled_by_default():
    from crm_project.celery import app
    from crm_project.setup import DEFAULT_SCHEDULES

    scheduled = {item.task for item in DEFAULT_SCHEDULES}
    for job in JOBS.values():
        for task in job.tasks:
            assert task in app.tasks, task
            assert task in scheduled, task
