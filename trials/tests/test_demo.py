"""seed_demo's leads and trial lessons: every status, consistent rows, a funnel with
figures, pages that render."""

import datetime as dt
from collections import defaultdict

import phonenumbers
import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from crm_project.demo import seed_demo
from crm_project.tests.admin_testing import changelist_url
from leads.models import (
    Lead,
    LeadFollowUp,
    LeadStatus,
    LeadStatusHistory,
    Source,
)
from scheduling.models import Group, RoomOccupancy
from scheduling.selectors import lesson_places_taken
from trials.demo import seed_leads_and_trials
from trials.models import (
    ReminderStatus,
    Trial,
    TrialReminder,
    TrialResult,
    TrialStatus,
    TrialStatusHistory,
)
from trials.selectors import COUNT_FIELDS, funnel_by_salesperson, funnel_by_source

pytestmark = pytest.mark.django_db

DEMO_SOURCES = {
    Source.INSTAGRAM,
    Source.FACEBOOK,
    Source.LANDING_PAGE,
    Source.GOOGLE_SHEETS,
    Source.REFERRAL,
    Source.WALK_IN,
    Source.WHATSAPP,
    Source.CALL_TRACKING,
}


@pytest.fixture
def seeded(db):
    return seed_demo(clients=60, appointments_per_client=2, seed=11)


def test_leads_come_from_every_source_in_every_status(seeded):
    leads = Lead.objects.all()

    assert seeded.counts["leads_lead"] == leads.count() >= 140
    assert set(leads.values_list("status", flat=True)) == set(LeadStatus.values)
    assert set(leads.values_list("source", flat=True)) == DEMO_SOURCES
    assert leads.filter(status=LeadStatus.LOST).exclude(lost_reason="").exists()
    assert not leads.filter(status=LeadStatus.LOST, lost_reason="").exists()
    assert leads.filter(source=Source.INSTAGRAM).exclude(utm_campaign="").exists()
    assert leads.filter(source=Source.LANDING_PAGE).exclude(utm_term="").exists()
    oldest = timezone.now() - dt.timedelta(days=60)
    assert not leads.filter(received_at__lt=oldest).exists()


def test_contacts_are_valid_distinct_and_of_the_default_region(seeded):
    phones = [p for p in Lead.objects.values_list("phone", flat=True) if p]
    emails = [e for e in Lead.objects.values_list("email", flat=True) if e]

    assert len(phones) == len(set(phones)) > 100
    assert len(emails) == len(set(emails)) > 50
    for phone in phones:
        number = phonenumbers.parse(phone)
        assert phonenumbers.is_valid_number(number), phone
        assert (
            phonenumbers.region_code_for_number(number)
            == settings.PHONENUMBER_DEFAULT_REGION
        )


def test_leads_are_shared_among_the_salespeople(seeded):
    owners = defaultdict(int)
    for username in Lead.objects.values_list("assigned_to__username", flat=True):
        owners[username] += 1

    assert set(owners) == {"demo.sales1", "demo.sales2", None}
    assert abs(owners["demo.sales1"] - owners["demo.sales2"]) <= 1
    assert not Lead.objects.filter(assigned_to__isnull=True).exclude(
        status=LeadStatus.NEW
    )


def test_new_leads_show_overdue_first_contacts_and_open_leads_have_follow_ups(
    seeded,
):
    new = list(Lead.objects.filter(status=LeadStatus.NEW))
    follow_ups = LeadFollowUp.objects.all()

    assert any(lead.is_overdue for lead in new)
    assert not all(lead.is_overdue for lead in new)
    assert set(follow_ups.values_list("status", flat=True)) == set(
        LeadFollowUp.Status.values
    )
    overdue = follow_ups.filter(status=LeadFollowUp.Status.OVERDUE)
    assert not overdue.filter(due_at__gte=timezone.now())
    assert not overdue.filter(reminder_count=0)
    # Closed leads are nobody's to-do.
    assert not follow_ups.exclude(status=LeadFollowUp.Status.DONE).filter(
        lead__status__in=[LeadStatus.CONVERTED, LeadStatus.LOST]
    )


def test_every_lead_history_is_one_path_ending_in_its_status(seeded):
    now = timezone.now()
    paths = defaultdict(list)
    for row in LeadStatusHistory.objects.order_by("changed_at", "pk"):
        paths[row.lead_id].append(row)

    for lead in Lead.objects.all():
        rows = paths[lead.pk]
        assert (rows[0].from_status, rows[0].to_status) == ("", LeadStatus.NEW)
        assert rows[0].changed_at == lead.received_at
        for before, after in zip(rows, rows[1:], strict=False):
            assert after.from_status == before.to_status
        assert rows[-1].to_status == lead.status
        assert all(row.changed_at <= now for row in rows)


def test_trials_in_every_status_and_with_every_result(seeded):
    trials = Trial.objects.all()
    now = timezone.now()

    assert set(trials.values_list("status", flat=True)) == set(TrialStatus.values)
    assert set(trials.values_list("result", flat=True)) == set(TrialResult.values)
    assert trials.upcoming().exists()
    assert trials.overdue().exists()
    assert not trials.filter(status=TrialStatus.ATTENDED, starts_at__gt=now)
    assert not trials.filter(status=TrialStatus.NO_SHOW, starts_at__gt=now)
    assert not trials.exclude(result=TrialResult.PENDING).filter(result_at__gt=now)


def test_trial_results_moved_their_leads(seeded):
    accepted = Trial.objects.filter(result=TrialResult.ACCEPTED).select_related(
        "lead__client", "enrollment"
    )

    assert accepted.exists()
    for trial in accepted:
        assert trial.lead.status == LeadStatus.CONVERTED
        assert trial.lead.client is not None
        assert trial.enrollment is not None
        assert trial.enrollment.client_id == trial.lead.client_id
        assert trial.enrollment.group_id == trial.group_id
    rejected = Trial.objects.filter(result=TrialResult.REJECTED)
    assert rejected.exists()
    assert not rejected.exclude(lead__status=LeadStatus.LOST)
    upcoming = Trial.objects.upcoming()
    assert not upcoming.exclude(lead__status=LeadStatus.TRIAL_SCHEDULED)


def test_trials_fit_their_lessons_and_the_occupancy_counts_them(seeded):
    lessons = set(Trial.objects.values_list("group_id", "lesson_date"))
    groups = Group.objects.in_bulk({group_id for group_id, _day in lessons})

    for group_id, day in lessons:
        group = groups[group_id]
        assert group.has_lesson_on(day)
        assert lesson_places_taken(group, day) <= group.capacity
    for trial in Trial.objects.upcoming().select_related("group"):
        row = RoomOccupancy.objects.get(group=trial.group, date=trial.lesson_date)
        assert row.taken == lesson_places_taken(trial.group, trial.lesson_date)


def test_trial_histories_and_reminders_are_as_the_services_leave_them(seeded):
    now = timezone.now()
    paths = defaultdict(list)
    for row in TrialStatusHistory.objects.order_by("changed_at", "pk"):
        paths[row.trial_id].append(row)

    for trial in Trial.objects.all():
        rows = paths[trial.pk]
        assert (rows[0].from_status, rows[0].to_status) == ("", TrialStatus.SCHEDULED)
        assert rows[-1].to_status == trial.status
        assert all(row.changed_at <= now for row in rows)
    reminders = TrialReminder.objects.all()
    assert not reminders.filter(status=ReminderStatus.SENT, due_at__gt=now)
    assert not reminders.filter(status=ReminderStatus.PENDING).exclude(
        trial__status=TrialStatus.SCHEDULED
    )
    assert reminders.filter(
        status=ReminderStatus.SENT, trial__status=TrialStatus.ATTENDED
    ).exists()
    assert reminders.filter(
        status=ReminderStatus.PENDING, trial__starts_at__gt=now
    ).exists()


def test_the_funnel_has_figures_by_source_and_by_salesperson(seeded):
    today = timezone.localdate()
    start = today - dt.timedelta(days=59)

    by_source = funnel_by_source(start, today)
    by_salesperson = funnel_by_salesperson(start, today)

    for name in COUNT_FIELDS:
        assert getattr(by_source.total, name) > 0, name
    assert by_source.total == by_salesperson.total
    assert len(by_source.rows) == len(DEMO_SOURCES)
    sellers = [row for row in by_salesperson.rows if row.label != "Unassigned"]
    assert len(sellers) == 2
    assert all(row.trials and row.attended for row in sellers)
    colours = {colour for row in by_source.rows for _v, colour in row.percents()}
    assert len(colours - {""}) >= 2


def test_a_second_run_adds_no_leads_and_does_not_fail(seeded):
    before = (Lead.objects.count(), Trial.objects.count())

    again = seed_demo(clients=5, appointments_per_client=1, seed=11)

    assert (Lead.objects.count(), Trial.objects.count()) == before
    assert "leads_lead" not in again.counts
    assert seed_leads_and_trials([1], now=timezone.now(), rng=None) == {}


@pytest.mark.parametrize(
    "url",
    [
        changelist_url(Lead),
        changelist_url(LeadFollowUp),
        changelist_url(Trial),
        changelist_url(TrialReminder),
        reverse("admin:trials_trial_funnel"),
    ],
)
def test_the_admin_pages_render_the_demo_data(seeded, admin_client, url):
    response = admin_client.get(url)

    assert response.status_code == 200
