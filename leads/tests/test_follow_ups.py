"""The follow-up job: overdue marking, reminders to the salesperson, escalation to
managers, once per interval, through the service and through the Celery task."""

import datetime as dt
import importlib

import pytest
import time_machine
from django.urls import reverse

from clients.tests.factories import UserFactory
from communications.models import Message
from communications.tasks import send_due_messages
from crm_project.tests.test_worker import worker  # noqa: F401  (a fixture)
from leads import services, tasks
from leads.models import LeadFollowUp, LeadStatus
from leads.tests.factories import (
    LeadFactory,
    LeadFollowUpFactory,
    ManagerFactory,
    SalespersonFactory,
)

pytestmark = pytest.mark.django_db

F = LeadFollowUp.Status
DUE = dt.datetime(2026, 3, 11, 14, 0, tzinfo=dt.UTC)
SITE = "https://crm.studio.example"


@pytest.fixture(autouse=True)
def follow_up_settings(settings):
    settings.CRM_SITE_URL = SITE + "/"
    settings.LEADS_REMINDER_INTERVAL_HOURS = 4
    settings.LEADS_ESCALATE_AFTER_REMINDERS = 3
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def salesperson():
    return SalespersonFactory(email="sam@studio.test")


@pytest.fixture
def managers():
    return [
        ManagerFactory(email="maria@studio.test"),
        ManagerFactory(email="mo@studio.test"),
        ManagerFactory(email="gone@studio.test", is_active=False),
        ManagerFactory(email=""),
    ]


@pytest.fixture
def follow_up(salesperson):
    lead = LeadFactory(
        full_name="Ana Pérez",
        phone="+14155550123",
        email="ana@example.com",
        assigned_to=salesperson,
    )
    return LeadFollowUpFactory(lead=lead, due_at=DUE, note="Call about the trial")


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    """Run the job at ``when`` with its on-commit emails sent."""

    def run_at(when: dt.datetime) -> services.FollowUpRun:
        with (
            time_machine.travel(when, tick=False),
            django_capture_on_commit_callbacks(execute=True),
        ):
            return services.process_follow_ups()

    return run_at


def state(follow_up) -> tuple[str, int, dt.datetime | None, dt.datetime | None]:
    follow_up.refresh_from_db()
    return (
        follow_up.status,
        follow_up.reminder_count,
        follow_up.last_reminded_at,
        follow_up.escalated_at,
    )


def test_a_follow_up_not_yet_due_is_left_alone(run, follow_up, mailoutbox):
    result = run(DUE - dt.timedelta(minutes=1))

    assert result == services.FollowUpRun(opened=0, overdue=0, reminded=0, escalated=0)
    assert state(follow_up) == (F.PENDING, 0, None, None)
    assert mailoutbox == []


def test_a_follow_up_past_due_becomes_overdue_and_its_salesperson_is_emailed(
    run, follow_up, salesperson, mailoutbox
):
    now = DUE + dt.timedelta(minutes=1)

    result = run(now)

    assert result == services.FollowUpRun(opened=0, overdue=1, reminded=1, escalated=0)
    assert state(follow_up) == (F.OVERDUE, 1, now, None)
    (message,) = mailoutbox
    assert message.to == [salesperson.email]
    assert message.subject == "Overdue follow-up: Ana Pérez"
    assert "Call about the trial" in message.body
    assert "+14155550123" in message.body and "ana@example.com" in message.body
    link = SITE + reverse("admin:leads_lead_change", args=[follow_up.lead_id])
    assert link in message.body


def test_running_again_within_the_interval_sends_nothing(run, follow_up, mailoutbox):
    first = DUE + dt.timedelta(minutes=1)
    run(first)

    result = run(first + dt.timedelta(hours=3, minutes=59))

    assert result == services.FollowUpRun(opened=0, overdue=0, reminded=0, escalated=0)
    assert state(follow_up) == (F.OVERDUE, 1, first, None)
    assert len(mailoutbox) == 1


def test_after_the_interval_the_salesperson_is_reminded_again(
    run, follow_up, salesperson, mailoutbox
):
    first = DUE + dt.timedelta(minutes=1)
    run(first)
    second = first + dt.timedelta(hours=4)

    result = run(second)

    assert result == services.FollowUpRun(opened=0, overdue=0, reminded=1, escalated=0)
    assert state(follow_up) == (F.OVERDUE, 2, second, None)
    assert [m.to for m in mailoutbox] == [[salesperson.email]] * 2


def test_the_interval_comes_from_settings(run, follow_up, mailoutbox, settings):
    settings.LEADS_REMINDER_INTERVAL_HOURS = 1
    first = DUE + dt.timedelta(minutes=1)
    run(first)

    run(first + dt.timedelta(hours=1))

    assert state(follow_up)[1] == 2
    assert len(mailoutbox) == 2


def test_managers_are_told_once_after_the_set_number_of_reminders(
    run, follow_up, salesperson, managers, mailoutbox
):
    times = [DUE + dt.timedelta(minutes=1, hours=4 * i) for i in range(5)]
    results = [run(when) for when in times]

    assert [r.reminded for r in results] == [1, 1, 1, 1, 1]
    assert [r.escalated for r in results] == [0, 0, 1, 0, 0]
    assert state(follow_up) == (F.OVERDUE, 5, times[4], times[2])
    reminders = [m for m in mailoutbox if m.subject == "Overdue follow-up: Ana Pérez"]
    assert [m.to for m in reminders] == [[salesperson.email]] * 5
    escalations = [m for m in mailoutbox if m not in reminders]
    # Each active manager with an address, once, with the follow-up's story.
    assert sorted(m.to[0] for m in escalations) == [
        "maria@studio.test",
        "mo@studio.test",
    ]
    for message in escalations:
        assert message.subject == "Escalation: overdue follow-up with Ana Pérez"
        assert "Call about the trial" in message.body
        assert "after 3 reminders to" in message.body
    assert len(mailoutbox) == 7


def test_the_escalation_threshold_comes_from_settings(
    run, follow_up, managers, mailoutbox, settings
):
    settings.LEADS_ESCALATE_AFTER_REMINDERS = 1

    result = run(DUE + dt.timedelta(minutes=1))

    assert result.escalated == 1
    assert [m.subject.startswith("Escalation") for m in mailoutbox] == [
        False,
        True,
        True,
    ]


def test_done_follow_ups_are_never_reminded(run, salesperson, mailoutbox):
    lead = LeadFactory(assigned_to=salesperson)
    done = LeadFollowUpFactory(lead=lead, done=True, due_at=DUE)

    for hours in (1, 5, 9, 13, 17):
        run(DUE + dt.timedelta(hours=hours))

    assert state(done) == (F.DONE, 0, None, None)
    assert mailoutbox == []


def test_a_follow_up_completed_after_a_reminder_gets_no_more(
    run, follow_up, mailoutbox
):
    run(DUE + dt.timedelta(minutes=1))

    services.complete_follow_up(follow_up)
    run(DUE + dt.timedelta(hours=9))

    assert state(follow_up)[:2] == (F.DONE, 1)
    assert len(mailoutbox) == 1


def test_a_lead_that_was_lost_gets_no_reminder(run, follow_up, mailoutbox):
    services.change_lead_status(
        follow_up.lead, LeadStatus.LOST, lost_reason="Moved away"
    )

    result = run(DUE + dt.timedelta(hours=1))

    assert result.reminded == 0
    assert state(follow_up)[:2] == (F.DONE, 0)
    assert mailoutbox == []


def test_an_unassigned_follow_up_is_counted_but_emails_nobody(
    run, managers, mailoutbox
):
    orphan = LeadFollowUpFactory(lead=LeadFactory(), due_at=DUE)

    result = run(DUE + dt.timedelta(minutes=1))

    assert result == services.FollowUpRun(opened=0, overdue=1, reminded=1, escalated=0)
    assert state(orphan)[:2] == (F.OVERDUE, 1)
    assert mailoutbox == []


def test_the_reminder_goes_to_the_salesperson_the_lead_was_moved_to(
    run, follow_up, mailoutbox
):
    newcomer = SalespersonFactory(email="nina@studio.test")
    services.assign_lead(follow_up.lead, newcomer)

    run(DUE + dt.timedelta(minutes=1))

    assert [m.to for m in mailoutbox] == [["nina@studio.test"]]


def test_each_overdue_follow_up_is_reminded_once_per_run(run, salesperson, mailoutbox):
    other = SalespersonFactory(email="olga@studio.test")
    mine = [
        LeadFollowUpFactory(
            lead=LeadFactory(assigned_to=salesperson),
            due_at=DUE - dt.timedelta(hours=i),
        )
        for i in range(3)
    ]
    theirs = LeadFollowUpFactory(lead=LeadFactory(assigned_to=other), due_at=DUE)
    later = LeadFollowUpFactory(
        lead=LeadFactory(assigned_to=other), due_at=DUE + dt.timedelta(days=1)
    )

    result = run(DUE + dt.timedelta(minutes=1))

    assert result == services.FollowUpRun(opened=0, overdue=4, reminded=4, escalated=0)
    for follow_up in [*mine, theirs]:
        assert state(follow_up)[:2] == (F.OVERDUE, 1)
    assert state(later)[:2] == (F.PENDING, 0)
    assert sorted(m.to[0] for m in mailoutbox) == sorted(
        [salesperson.email] * 3 + ["olga@studio.test"]
    )


def test_the_task_runs_the_job_and_reports_what_it_did(
    follow_up, managers, mailoutbox, django_capture_on_commit_callbacks, settings
):
    settings.LEADS_ESCALATE_AFTER_REMINDERS = 2

    reports = []
    for hours in (1, 2, 5, 9):
        with (
            time_machine.travel(DUE + dt.timedelta(hours=hours), tick=False),
            django_capture_on_commit_callbacks(execute=True),
        ):
            reports.append(tasks.process_follow_ups.delay().get())

    assert reports == [
        {"first_contacts_missed": 0, "overdue": 1, "reminded": 1, "escalated": 0},
        {"first_contacts_missed": 0, "overdue": 0, "reminded": 0, "escalated": 0},
        {"first_contacts_missed": 0, "overdue": 0, "reminded": 1, "escalated": 1},
        {"first_contacts_missed": 0, "overdue": 0, "reminded": 1, "escalated": 0},
    ]
    assert [m.subject.startswith("Escalation") for m in mailoutbox] == [
        False,
        False,
        True,
        True,
        False,
    ]
    assert state(follow_up)[1] == 3


def test_the_task_is_registered_under_the_scheduled_name():
    assert tasks.process_follow_ups.name == "leads.tasks.process_follow_ups"


def test_a_staff_user_outside_the_manager_group_is_not_escalated_to(
    run, follow_up, salesperson, mailoutbox, settings
):
    settings.LEADS_ESCALATE_AFTER_REMINDERS = 1
    UserFactory(email="boss@studio.test")

    run(DUE + dt.timedelta(minutes=1))

    assert mailoutbox[0].to == [salesperson.email]


@pytest.fixture
def console_worker(monkeypatch, request):
    """A real worker (crm_project.tests.test_worker) that prints its emails."""
    monkeypatch.setenv(
        "EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend"
    )
    monkeypatch.setenv("CRM_SITE_URL", SITE)
    return request.getfixturevalue("worker")


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_follow_up_job_once_per_interval(console_worker):
    from crm_project.tests.test_worker import wait_for

    queue, log, process = console_worker
    salesperson = SalespersonFactory(email="sam@studio.test")
    overdue = LeadFollowUpFactory(
        lead=LeadFactory(full_name="Ana Worker", assigned_to=salesperson),
        due_at=dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC),
        note="Worker follow-up",
    )

    tasks.process_follow_ups.apply_async(queue=queue)
    wait_for(
        lambda: LeadFollowUp.objects.get(pk=overdue.pk).reminder_count == 1,
        what="the overdue follow-up to be reminded",
        log=log,
        worker=process,
    )
    tasks.process_follow_ups.apply_async(queue=queue)
    wait_for(
        lambda: "0 overdue, 0 reminded, 0 escalated" in log.read_text(),
        what="the second run to finish",
        log=log,
        worker=process,
    )
    # The job only fills the outbox; its sender (queued on this test's queue, as
    # the job's own on-commit sender went to the default queue) sends.
    send_due_messages.apply_async(queue=queue)
    wait_for(
        lambda: Message.objects.filter(status="sent").exists(),
        what="the outbox to send the reminder",
        log=log,
        worker=process,
    )

    follow_up = LeadFollowUp.objects.get(pk=overdue.pk)
    assert (follow_up.status, follow_up.reminder_count) == (F.OVERDUE, 1)
    output = log.read_text()
    assert output.count("Subject: Overdue follow-up: Ana Worker") == 1
    assert Message.objects.filter(user=salesperson, status="sent").count() == 1
    assert "To: sam@studio.test" in output
    assert SITE + f"/admin/leads/lead/{overdue.lead_id}/change/" in output
    assert "1 overdue, 1 reminded, 0 escalated" in output


# --- missed first contacts -----------------------------------------------------------


@pytest.fixture
def new_lead(salesperson):
    """A new lead received at DUE − 2 h: its first contact is due at DUE."""
    return LeadFactory(
        full_name="Bea Soto",
        assigned_to=salesperson,
        received_at=DUE - dt.timedelta(hours=2),
        first_contact_due_at=DUE,
    )


def test_a_new_lead_not_yet_due_has_no_follow_up(run, new_lead, mailoutbox):
    result = run(DUE - dt.timedelta(minutes=1))

    assert result == services.FollowUpRun(opened=0, overdue=0, reminded=0, escalated=0)
    assert not new_lead.follow_ups.exists()
    assert mailoutbox == []


def test_a_missed_first_contact_opens_one_overdue_follow_up_and_reminds(
    run, new_lead, salesperson, mailoutbox
):
    now = DUE + dt.timedelta(minutes=1)

    first = run(now)
    again = run(now + dt.timedelta(minutes=15))

    assert first == services.FollowUpRun(opened=1, overdue=1, reminded=1, escalated=0)
    assert again == services.FollowUpRun(opened=0, overdue=0, reminded=0, escalated=0)
    follow_up = new_lead.follow_ups.get()
    assert follow_up.first_contact
    assert (follow_up.note, follow_up.due_at) == ("First contact", DUE)
    assert (follow_up.assigned_to, follow_up.created_by) == (salesperson, None)
    assert state(follow_up) == (F.OVERDUE, 1, now, None)
    (message,) = mailoutbox
    assert message.to == [salesperson.email]
    assert message.subject == "Overdue follow-up: Bea Soto"


def test_a_lead_contacted_in_time_never_gets_a_first_contact_follow_up(
    run, new_lead, mailoutbox
):
    services.change_lead_status(new_lead, LeadStatus.CONTACTED)

    result = run(DUE + dt.timedelta(hours=5))

    assert result.opened == 0
    assert not new_lead.follow_ups.exists()
    assert mailoutbox == []


def test_contacting_a_lead_late_closes_its_first_contact_but_not_other_follow_ups(
    run, new_lead, mailoutbox
):
    call_back = LeadFollowUpFactory(lead=new_lead, due_at=DUE, note="Call back")
    run(DUE + dt.timedelta(minutes=1))
    missed = new_lead.follow_ups.get(first_contact=True)

    services.change_lead_status(new_lead, LeadStatus.CONTACTED)

    assert state(missed)[0] == F.DONE
    assert state(call_back)[0] == F.OVERDUE  # a call-back still to make
    result = run(DUE + dt.timedelta(hours=9))
    assert (result.opened, result.reminded) == (0, 1)


def test_first_contact_rows_from_before_the_change_are_recognised(salesperson):
    """The data migration marks the follow-up intake used to write for each lead
    (the earliest, in either shipped language); later ones stay ordinary."""
    from django.apps import apps

    first_contact = importlib.import_module(
        "leads.migrations.0004_first_contact_follow_up_on_miss"
    )
    english, spanish, other = LeadFactory(), LeadFactory(), LeadFactory()
    rows = [
        LeadFollowUpFactory(lead=english, due_at=DUE, note="First contact"),
        LeadFollowUpFactory(lead=english, due_at=DUE, note="First contact"),
        LeadFollowUpFactory(lead=spanish, due_at=DUE, note="Primer contacto"),
        LeadFollowUpFactory(lead=other, due_at=DUE, note="Call back"),
    ]

    first_contact.mark_first_contacts(apps, None)

    marked = [row.pk for row in LeadFollowUp.objects.filter(first_contact=True)]
    assert sorted(marked) == [rows[0].pk, rows[2].pk]
