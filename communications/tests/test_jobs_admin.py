"""The jobs in the admin: the Jobs page (schedule, last run, preview, run now), the
job run log, scheduled messages, and the dashboard's due messages panel."""

import datetime as dt

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from appointments.tests.factories import AppointmentFactory
from clients.tests.factories import ClientFactory, UserFactory
from communications.jobs import JOBS, run_job, sweep_abandoned_runs
from communications.models import JobRun, Message, ScheduledMessage
from crm_project.tests.admin_testing import (
    ChangelistCase,
    add_url,
    change_url,
    changelist_url,
    check_changelist_pages,
    check_query_budget,
    filter_urls,
    form_data,
    messages_of,
    result_pks,
)

pytestmark = pytest.mark.django_db

Job = JobRun.Job
Status = ScheduledMessage.Status
JOBS_URL = reverse("admin:communications_jobrun_jobs")


def member_of(role: str):
    user = UserFactory(is_superuser=False)
    user.groups.add(Group.objects.get(name=role))
    return user


def make_run(i: int) -> JobRun:
    run = run_job(list(JOBS)[i % len(JOBS)], by=UserFactory() if i % 2 else None)
    JobRun.objects.filter(pk=run.pk).update(skipped={"opted_out": i, "capped": 1})
    return run


def make_scheduled(i: int) -> ScheduledMessage:
    return ScheduledMessage.objects.create(
        client=ClientFactory(last_name=f"Lastname{i}"),
        channel=["sms", "email", ""][i % 3],
        body=f"Note number {i}",
        due_at=timezone.now() + dt.timedelta(hours=i - 2),
        status=[Status.SCHEDULED, Status.DUE, Status.DONE][i % 3],
        assigned_to=UserFactory() if i % 2 else None,
        created_by=UserFactory(),
    )


SCHEDULED = ChangelistCase(ScheduledMessage, make_scheduled, "Lastname3", 3, 9)


# --- Job runs ---------------------------------------------------------------------


def test_the_job_run_log_lists_runs_with_their_figures(admin_client):
    runs = [make_run(i) for i in range(5)]

    response = admin_client.get(changelist_url(JobRun))

    assert response.status_code == 200
    assert result_pks(response) == {r.pk for r in runs}
    page = response.content.decode()
    assert "Opted out: 4" in page and "Frequency cap reached: 1" in page
    for url in filter_urls(response):
        assert admin_client.get(url).status_code == 200, url
    assert admin_client.get(change_url(runs[0])).status_code == 200
    assert admin_client.get(add_url(JobRun)).status_code == 403


def test_an_abandoned_run_is_shown_as_such_with_the_reason(admin_client):
    abandoned = JobRun.objects.create(
        job=Job.BIRTHDAYS, started_at=timezone.now() - dt.timedelta(hours=1)
    )
    sweep_abandoned_runs()
    abandoned.refresh_from_db()

    listed = admin_client.get(changelist_url(JobRun), {"status": "abandoned"})
    page = admin_client.get(change_url(abandoned))
    jobs = admin_client.get(JOBS_URL)

    assert result_pks(listed) == {abandoned.pk}
    assert '<span class="badge badge-warning" title="Abandoned: still running' in (
        listed.content.decode()
    )
    assert "the next run enqueues the rest" in page.content.decode()
    row = jobs.content.decode().split('id="job-birthdays"')[1].split("</tr>")[0]
    assert 'class="badge badge-warning"' in row and "Abandoned" in row


@pytest.mark.parametrize("rows", [5, 50])
def test_the_job_run_log_stays_within_its_query_budget(
    admin_client, django_assert_max_num_queries, rows
):
    for i in range(rows):
        make_run(i)

    # On PostgreSQL; SQLite runs one fewer (no row estimate for the paginator).
    with django_assert_max_num_queries(8):
        response = admin_client.get(changelist_url(JobRun))

    assert response.status_code == 200


# --- The Jobs page ----------------------------------------------------------------


def test_the_jobs_page_lists_each_job_with_its_schedule_and_last_run(admin_client):
    last = run_job(Job.BIRTHDAYS)
    reminders = PeriodicTask.objects.get(name="Appointment reminders")

    response = admin_client.get(JOBS_URL)

    assert response.status_code == 200
    page = response.content.decode()
    for name in JOBS:
        assert f'id="job-{name}"' in page
        assert reverse("admin:communications_jobrun_preview", args=[name]) in page
    assert (
        reverse("admin:django_celery_beat_periodictask_change", args=[reminders.pk])
        in page
    )
    assert "Every day at 09:00: reminders for tomorrow&#x27;s appointments." in page
    assert reverse("admin:communications_jobrun_change", args=[last.pk]) in page


def test_the_jobs_page_runs_a_constant_number_of_queries(
    admin_client, django_assert_max_num_queries
):
    for i in range(12):
        make_run(i)

    with django_assert_max_num_queries(8):
        assert admin_client.get(JOBS_URL).status_code == 200


def test_preview_shows_who_would_be_messaged_and_writes_nothing(admin_client):
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    appointment = AppointmentFactory(
        start_at=timezone.make_aware(dt.datetime.combine(tomorrow, dt.time(12))),
        client=ClientFactory(first_name="Previewed", email="seen@example.org"),
    )

    response = admin_client.get(
        reverse("admin:communications_jobrun_preview", args=[Job.APPOINTMENT_REMINDERS])
    )

    assert response.status_code == 200
    assert "seen@example.org" in response.content.decode()
    assert [r.about for r in response.context["rows"]] == [appointment]
    assert not Message.objects.exists()
    assert not JobRun.objects.exists()


def test_run_now_runs_the_job_as_the_user_and_reports_the_counts(admin_client):
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    AppointmentFactory(
        start_at=timezone.make_aware(dt.datetime.combine(tomorrow, dt.time(12)))
    )
    url = reverse("admin:communications_jobrun_run", args=[Job.APPOINTMENT_REMINDERS])

    assert admin_client.get(url).status_code == 405
    first = admin_client.post(url)
    second = admin_client.post(url)

    assert first.status_code == second.status_code == 302
    runs = list(JobRun.objects.order_by("pk"))
    assert [r.triggered_by.username for r in runs] == ["admin", "admin"]
    assert [(r.enqueued, r.duplicates) for r in runs] == [(1, 0), (0, 1)]
    assert messages_of(first) == [
        "Appointment reminders: 1 enqueued, 0 already in the outbox, 0 skipped."
    ]
    assert Message.objects.count() == 1


def test_a_failed_run_now_says_so(admin_client, settings):
    settings.COMMUNICATIONS_EXPIRY_WARNING_DAYS = "seven"

    response = admin_client.post(
        reverse("admin:communications_jobrun_run", args=[Job.PACKAGE_EXPIRY])
    )

    assert response.status_code == 302
    assert "It failed: TypeError" in messages_of(response)[0]
    assert JobRun.objects.get().status == JobRun.Status.FAILED


def test_an_unknown_job_is_404(admin_client):
    url = reverse("admin:communications_jobrun_preview", args=["nope"])

    assert admin_client.get(url).status_code == 404


def test_a_receptionist_may_not_see_or_run_jobs(client):
    client.force_login(member_of("receptionist"))

    assert client.get(JOBS_URL).status_code == 403
    run = reverse("admin:communications_jobrun_run", args=[Job.BIRTHDAYS])
    assert client.post(run).status_code == 403
    assert not JobRun.objects.exists()


def test_a_manager_sees_and_runs_jobs(client):
    client.force_login(member_of("manager"))

    assert client.get(JOBS_URL).status_code == 200
    run = reverse("admin:communications_jobrun_run", args=[Job.BIRTHDAYS])
    assert client.post(run).status_code == 302
    assert JobRun.objects.get().job == Job.BIRTHDAYS


# --- Scheduled messages -----------------------------------------------------------


def test_scheduled_message_pages(admin_client):
    check_changelist_pages(admin_client, SCHEDULED)


@pytest.mark.parametrize("rows", [5, 50])
def test_the_scheduled_message_list_stays_within_its_query_budget(
    admin_client, django_assert_max_num_queries, rows
):
    check_query_budget(admin_client, django_assert_max_num_queries, SCHEDULED, rows)


def test_staff_schedule_a_message_and_are_recorded_as_its_author(admin_client):
    client = ClientFactory(phone="+14155550123")
    page = admin_client.get(add_url(ScheduledMessage))
    due = timezone.localtime() + dt.timedelta(days=1)

    response = admin_client.post(
        add_url(ScheduledMessage),
        form_data(
            page,
            client=str(client.pk),
            channel="sms",
            due_at_0=due.strftime("%Y-%m-%d"),
            due_at_1="10:00:00",
            body="See you tomorrow!",
        ),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    scheduled = ScheduledMessage.objects.get()
    assert (scheduled.client, scheduled.status) == (client, Status.SCHEDULED)
    assert scheduled.created_by.username == "admin"


def test_a_channel_the_client_cannot_be_reached_on_is_refused(admin_client):
    client = ClientFactory(email="")
    page = admin_client.get(add_url(ScheduledMessage))

    response = admin_client.post(
        add_url(ScheduledMessage),
        form_data(
            page,
            client=str(client.pk),
            channel="email",
            due_at_0="2030-01-02",
            due_at_1="10:00:00",
            body="Hello",
        ),
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["channel"] == [
        "This client has no email address for this channel."
    ]
    assert not ScheduledMessage.objects.exists()


def test_the_mark_as_done_and_cancel_actions_report_what_they_skipped(admin_client):
    due = make_scheduled(1)  # due
    later = make_scheduled(0)  # scheduled, by SMS

    done = admin_client.post(
        changelist_url(ScheduledMessage),
        {"action": "mark_done", "_selected_action": [due.pk, later.pk]},
    )
    cancelled = admin_client.post(
        changelist_url(ScheduledMessage),
        {"action": "cancel", "_selected_action": [later.pk]},
    )

    due.refresh_from_db()
    later.refresh_from_db()
    assert (due.status, later.status) == (Status.DONE, Status.CANCELLED)
    assert messages_of(done)[0] == "1 message or reminder marked as done."
    assert "1 skipped" in messages_of(done)[1]
    assert messages_of(cancelled)[-1] == "1 scheduled message cancelled."


# --- The dashboard ----------------------------------------------------------------


def test_the_dashboard_lists_due_items_and_marks_them_done(client):
    receptionist = member_of("receptionist")
    client.force_login(receptionist)
    mine = ScheduledMessage.objects.create(
        client=ClientFactory(first_name="Ana"),
        channel="",
        body="Call Ana about her results",
        due_at=timezone.now() - dt.timedelta(minutes=5),
        assigned_to=receptionist,
    )
    sent = ScheduledMessage.objects.create(
        client=ClientFactory(first_name="Bea"),
        channel="sms",
        body="Your voucher is ready",
        due_at=timezone.now() - dt.timedelta(minutes=2),
    )
    other = ScheduledMessage.objects.create(
        client=ClientFactory(first_name="Cy"),
        channel="",
        body="Someone else's",
        due_at=timezone.now() - dt.timedelta(minutes=1),
        assigned_to=UserFactory(),
    )
    run_job(Job.SCHEDULED_MESSAGES)

    index = client.get(reverse("admin:index"))
    done = client.post(
        reverse("admin:communications_scheduledmessage_done", args=[mine.pk]),
        {"next": reverse("admin:index")},
    )

    assert index.status_code == 200
    assert index.context["due_scheduled_messages"] == [mine, sent]
    page = index.content.decode()
    assert "Due messages and reminders" in page and "Call Ana about her results" in page
    assert "Someone else&#x27;s" not in page
    assert done.status_code == 302 and done["Location"] == reverse("admin:index")
    mine.refresh_from_db()
    other.refresh_from_db()
    assert (mine.status, mine.done_by) == (Status.DONE, receptionist)
    assert other.status == Status.DUE
    after = client.get(reverse("admin:index"))
    assert after.context["due_scheduled_messages"] == [sent]


def test_the_done_button_only_posts_and_never_redirects_off_site(admin_client):
    item = make_scheduled(1)
    url = reverse("admin:communications_scheduledmessage_done", args=[item.pk])

    assert admin_client.get(url).status_code == 405
    response = admin_client.post(url, {"next": "https://evil.example/"})

    assert response["Location"] == reverse("admin:index")


def test_the_dashboard_panel_keeps_a_constant_query_count(
    admin_client, django_assert_max_num_queries
):
    admin_client.get(reverse("admin:index"))  # warm the caches
    with django_assert_max_num_queries(60) as baseline:
        admin_client.get(reverse("admin:index"))
    for i in range(10):
        ScheduledMessage.objects.create(
            client=ClientFactory(),
            channel="sms",
            body=f"Note {i}",
            due_at=timezone.now() - dt.timedelta(minutes=1),
        )
    run_job(Job.SCHEDULED_MESSAGES)

    with django_assert_max_num_queries(len(baseline.captured_queries)):
        response = admin_client.get(reverse("admin:index"))

    assert len(response.context["due_scheduled_messages"]) == 10
