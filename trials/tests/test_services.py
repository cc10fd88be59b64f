import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from clients.models import Client
from crm_project.tests.concurrency import race
from leads.models import LeadStatus
from scheduling.models import Enrollment, GroupStatus, WaitlistEntry
from scheduling.selectors import lesson_places_taken
from trials import services
from trials.models import Trial, TrialReminder, TrialResult, TrialStatus

from .conftest import TODAY
from .factories import (
    EnrollmentFactory,
    GroupFactory,
    LeadFactory,
    SalespersonFactory,
    TrialFactory,
)

pytestmark = pytest.mark.django_db

TOMORROW = TODAY + dt.timedelta(days=1)


@pytest.fixture
def seller(db):
    return SalespersonFactory()


def schedule(lead=None, group=None, day=TOMORROW, **kwargs):
    return services.schedule_trial(
        lead or LeadFactory(status=LeadStatus.CONTACTED),
        group or GroupFactory(),
        day,
        by=kwargs.pop("by", None),
        **kwargs,
    )


def attended(trial, clock):
    clock.move_to(trial.starts_at + dt.timedelta(minutes=5))
    return services.mark_attended(trial)


# --- scheduling ---


def test_scheduling_on_a_day_without_a_lesson_is_refused(clock):
    # given a group that meets on Mondays only
    group = GroupFactory(weekdays="1")
    lead = LeadFactory(status=LeadStatus.CONTACTED)

    # when a trial is booked for a Tuesday
    with pytest.raises(ValidationError) as error:
        services.schedule_trial(lead, group, TOMORROW, by=None)

    # then the date is refused with the next lessons, and nothing is written
    messages = error.value.message_dict["lesson_date"]
    assert "has no lesson on" in messages[0]
    assert "Next lessons:" in messages[0]
    assert not Trial.objects.exists()
    lead.refresh_from_db()
    assert lead.status == LeadStatus.CONTACTED


def test_a_lesson_that_has_started_is_refused(clock):
    group = GroupFactory()
    clock.move_to(group.lesson_start(TODAY) + dt.timedelta(minutes=1))

    with pytest.raises(ValidationError) as error:
        schedule(group=group, day=TODAY)

    assert "already started" in error.value.message_dict["lesson_date"][0]


def test_a_group_that_is_not_running_takes_no_trial(clock):
    group = GroupFactory(status=GroupStatus.FINISHED)

    with pytest.raises(ValidationError) as error:
        schedule(group=group)

    assert "takes no trial students" in error.value.message_dict["group"][0]


def test_a_lead_who_is_a_client_already_is_refused(clock):
    with pytest.raises(ValidationError):
        schedule(lead=LeadFactory(status=LeadStatus.CONVERTED))

    assert not Trial.objects.exists()


def test_a_lesson_full_of_enrolled_students_and_trials_is_refused(clock):
    # given 3 places: two enrolled students and one trial student tomorrow
    group = GroupFactory(capacity=3)
    EnrollmentFactory.create_batch(2, group=group)
    schedule(group=group)

    # when a fourth person is booked into tomorrow's lesson
    with pytest.raises(ValidationError) as error:
        schedule(group=group)

    # then it is full; the day after, the trial's place is free again
    assert error.value.message_dict["lesson_date"] == [
        "The lesson on March 5, 2030 is full (3 of 3 places)."
    ]
    assert Trial.objects.count() == 1
    assert schedule(group=group, day=TOMORROW + dt.timedelta(days=1)).pk


def test_scheduling_moves_the_lead_plans_reminders_and_refreshes_occupancy(
    clock, seller, django_capture_on_commit_callbacks
):
    lead = LeadFactory(status=LeadStatus.INTERESTED, assigned_to=seller)
    group = GroupFactory()

    with django_capture_on_commit_callbacks() as callbacks:
        trial = services.schedule_trial(lead, group, TOMORROW, by=seller, notes="hi")

    lead.refresh_from_db()
    assert lead.status == LeadStatus.TRIAL_SCHEDULED
    assert lead.history.filter(to_status=LeadStatus.TRIAL_SCHEDULED).count() == 1
    assert trial.salesperson == seller
    assert trial.starts_at == group.lesson_start(TOMORROW)
    assert trial.ends_at == group.lesson_end(TOMORROW)
    assert trial.history.get().to_status == TrialStatus.SCHEDULED
    due = dict(trial.reminders.values_list("kind", "due_at"))
    assert due == {
        TrialReminder.Kind.BEFORE_TO_LEAD: trial.starts_at - dt.timedelta(hours=2),
        TrialReminder.Kind.BEFORE_TO_SALESPERSON: trial.starts_at
        - dt.timedelta(hours=2),
        TrialReminder.Kind.AFTER_TO_SALESPERSON: trial.ends_at
        + dt.timedelta(minutes=3),
    }
    assert len(callbacks) == 1  # the occupancy refresh, after commit
    assert lesson_places_taken(group, TOMORROW) == 1


def test_scheduling_the_same_lesson_twice_returns_the_first_trial(clock):
    lead = LeadFactory(status=LeadStatus.CONTACTED)
    group = GroupFactory()

    first = services.schedule_trial(lead, group, TOMORROW)
    second = services.schedule_trial(lead, group, TOMORROW)

    assert first.pk == second.pk
    assert Trial.objects.count() == 1
    assert TrialReminder.objects.count() == 3
    assert lead.history.filter(to_status=LeadStatus.TRIAL_SCHEDULED).count() == 1


def test_trials_count_in_the_groups_places_for_their_lesson_only(clock):
    group = GroupFactory()
    trial = schedule(group=group)
    TrialFactory(group=group, status=TrialStatus.CANCELLED)

    assert lesson_places_taken(group, TOMORROW) == 1
    assert lesson_places_taken(group, TOMORROW + dt.timedelta(days=1)) == 0

    services.cancel_trial(trial)

    assert lesson_places_taken(group, TOMORROW) == 0


# --- moving and cancelling ---


def test_moving_a_trial_to_a_full_lesson_is_refused_and_changes_nothing(clock):
    group = GroupFactory(capacity=1)
    trial = schedule(group=group)
    later = TOMORROW + dt.timedelta(days=1)
    EnrollmentFactory(group=group, start_date=later)

    with pytest.raises(ValidationError) as error:
        services.reschedule_trial(trial, later)

    assert "is full" in error.value.message_dict["lesson_date"][0]
    trial.refresh_from_db()
    assert trial.lesson_date == TOMORROW


def test_moving_a_trial_within_a_full_lesson_it_holds_is_allowed(clock):
    # given the trial holds the last place of tomorrow's lesson of group A
    group = GroupFactory(capacity=1)
    other = GroupFactory()
    trial = schedule(group=group)

    # when it moves to another group's lesson
    moved = services.reschedule_trial(trial, TOMORROW, group=other)

    # then its times follow, and the old lesson has its place back
    assert moved.group == other
    assert moved.starts_at == other.lesson_start(TOMORROW)
    assert lesson_places_taken(group, TOMORROW) == 0
    assert lesson_places_taken(other, TOMORROW) == 1


def test_cancelling_frees_the_place_and_sends_the_lead_back_to_interested(clock):
    lead = LeadFactory(status=LeadStatus.CONTACTED)
    trial = schedule(lead=lead)

    services.cancel_trial(trial, reason="ill")
    again = services.cancel_trial(trial)

    assert again.status == TrialStatus.CANCELLED
    assert trial.history.filter(to_status=TrialStatus.CANCELLED).count() == 1
    lead.refresh_from_db()
    assert lead.status == LeadStatus.INTERESTED
    assert set(trial.reminders.values_list("status", flat=True)) == {
        TrialReminder.Status.CANCELLED
    }


def test_a_cancelled_trial_cannot_be_moved(clock):
    trial = schedule()
    services.cancel_trial(trial)

    with pytest.raises(ValidationError):
        services.reschedule_trial(trial, TOMORROW + dt.timedelta(days=2))


# --- attendance ---


def test_attendance_is_not_recorded_before_the_lesson_starts(clock):
    trial = schedule()

    with pytest.raises(ValidationError) as error:
        services.mark_attended(trial)

    assert "has not started yet" in error.value.messages[0]


def test_attending_moves_the_lead_to_trial_attended_once(clock):
    lead = LeadFactory(status=LeadStatus.CONTACTED)
    trial = schedule(lead=lead)

    attended(trial, clock)
    services.mark_attended(trial)

    lead.refresh_from_db()
    assert lead.status == LeadStatus.TRIAL_ATTENDED
    assert trial.history.filter(to_status=TrialStatus.ATTENDED).count() == 1


def test_a_no_show_frees_the_place_and_stops_the_after_reminder(clock):
    group = GroupFactory()
    trial = schedule(group=group)
    clock.move_to(trial.starts_at + dt.timedelta(minutes=10))

    services.mark_no_show(trial)

    trial.refresh_from_db()
    assert trial.status == TrialStatus.NO_SHOW
    assert lesson_places_taken(group, TOMORROW) == 0
    after = trial.reminders.get(kind=TrialReminder.Kind.AFTER_TO_SALESPERSON)
    assert after.status == TrialReminder.Status.CANCELLED


# --- result ---


def test_a_result_needs_the_lead_to_have_attended(clock):
    trial = schedule()

    with pytest.raises(ValidationError) as error:
        services.record_result(trial, TrialResult.SALES_OFFER)

    assert "attendance" in error.value.message_dict["result"][0]


def test_accepting_converts_the_lead_and_enrols_them_in_the_group(clock, seller):
    lead = LeadFactory(status=LeadStatus.CONTACTED, full_name="Ana Lopez")
    group = GroupFactory()
    trial = attended(schedule(lead=lead, group=group), clock)

    trial = services.record_result(trial, TrialResult.ACCEPTED, by=seller)

    lead.refresh_from_db()
    assert lead.status == LeadStatus.CONVERTED
    client = Client.objects.get()
    assert lead.client == client
    assert (client.first_name, client.last_name) == ("Ana", "Lopez")
    enrollment = Enrollment.objects.get()
    assert (enrollment.client, enrollment.group) == (client, group)
    assert enrollment.start_date == TOMORROW
    assert trial.enrollment == enrollment
    assert trial.waitlist_entry is None
    # the enrolled place counts now, not the trial's as well
    assert lesson_places_taken(group, TOMORROW) == 1


def test_accepting_when_the_group_is_full_puts_the_client_on_the_waitlist(clock):
    group = GroupFactory(capacity=2)
    trial = schedule(group=group)
    EnrollmentFactory.create_batch(2, group=group)
    trial = attended(trial, clock)

    trial = services.record_result(trial, TrialResult.ACCEPTED)

    entry = WaitlistEntry.objects.get()
    assert trial.waitlist_entry == entry
    assert trial.enrollment is None
    assert entry.client == trial.lead.client
    assert Enrollment.objects.filter(client=entry.client).count() == 0


def test_accepting_writes_nothing_when_the_enrolment_fails(clock):
    # given the group was cancelled after the trial: enrolment must refuse
    lead = LeadFactory(status=LeadStatus.CONTACTED)
    group = GroupFactory()
    trial = attended(schedule(lead=lead, group=group), clock)
    type(group).objects.filter(pk=group.pk).update(status=GroupStatus.CANCELLED)

    with pytest.raises(ValidationError):
        services.record_result(trial, TrialResult.ACCEPTED)

    # then the conversion was rolled back with it
    lead.refresh_from_db()
    assert lead.status == LeadStatus.TRIAL_ATTENDED
    assert lead.client is None
    assert not Client.objects.exists()
    trial.refresh_from_db()
    assert trial.result == TrialResult.PENDING


def test_accepting_twice_makes_one_client_and_one_enrolment(clock):
    trial = attended(schedule(), clock)

    services.record_result(trial, TrialResult.ACCEPTED)
    services.record_result(trial, TrialResult.ACCEPTED)

    assert Client.objects.count() == 1
    assert Enrollment.objects.count() == 1
    with pytest.raises(ValidationError):
        services.record_result(trial, TrialResult.REJECTED)


def test_rejecting_marks_the_lead_lost_with_a_reason(clock):
    lead = LeadFactory(status=LeadStatus.CONTACTED)
    trial = attended(schedule(lead=lead), clock)

    services.record_result(trial, TrialResult.SALES_OFFER)
    services.record_result(trial, TrialResult.REJECTED, lost_reason="Too expensive")

    lead.refresh_from_db()
    assert lead.status == LeadStatus.LOST
    assert lead.lost_reason == "Too expensive"
    trial.refresh_from_db()
    assert trial.result == TrialResult.REJECTED
    assert trial.result_at is not None
    after = trial.reminders.get(kind=TrialReminder.Kind.AFTER_TO_SALESPERSON)
    assert after.status == TrialReminder.Status.CANCELLED


# --- derived properties ---


def test_overdue_today_and_hours_until_follow_the_clock(clock):
    trial = TrialFactory(lesson_date=TODAY)  # 18:00-19:00 today; now 09:00

    assert trial.hours_until_trial == 9.0
    assert trial.is_upcoming_today
    assert not trial.is_overdue

    clock.move_to(trial.ends_at + dt.timedelta(seconds=1))

    assert not trial.is_upcoming_today
    assert trial.is_overdue
    assert Trial.objects.overdue().get() == trial
    trial.status = TrialStatus.ATTENDED
    assert trial.is_overdue  # the result is still pending
    trial.result = TrialResult.SALES_OFFER
    assert not trial.is_overdue


# --- concurrency (PostgreSQL) ---


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_simultaneous_bookings_fill_exactly_the_free_places():
    # given a lesson with 2 free places (3 places, one enrolled student)
    assert connection.vendor == "postgresql"
    group = GroupFactory(capacity=3)
    EnrollmentFactory(group=group)
    leads = [LeadFactory(status=LeadStatus.CONTACTED) for _ in range(8)]
    tomorrow = timezone.localdate() + dt.timedelta(days=1)

    # when 8 salespeople book 8 leads into it at once
    def book(i):
        return [services.schedule_trial(leads[i], group, tomorrow)]

    outcomes = race(8, book)

    # then exactly 2 are booked; the others were told the lesson is full
    booked = [o for o in outcomes if isinstance(o, Trial)]
    refused = [o for o in outcomes if isinstance(o, ValidationError)]
    assert len(booked) == 2, outcomes
    assert len(refused) == 6, outcomes
    assert all("is full" in str(e) for e in refused)
    assert Trial.objects.count() == 2
