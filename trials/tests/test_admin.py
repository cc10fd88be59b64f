import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group as Role
from django.urls import reverse
from django.utils import timezone

from crm_project.setup import ensure_roles
from crm_project.tests.admin_testing import (
    ChangelistCase,
    add_url,
    change_url,
    changelist_url,
    check_changelist_pages,
    check_query_budget,
    form_data,
    messages_of,
    result_pks,
)
from leads.models import LeadStatus, Source
from scheduling.models import Enrollment
from trials.models import Trial, TrialReminder, TrialResult, TrialStatus

from .conftest import TODAY
from .factories import (
    EnrollmentFactory,
    GroupFactory,
    LeadFactory,
    TrialFactory,
    TrialReminderFactory,
)

pytestmark = pytest.mark.django_db

User = get_user_model()
FUNNEL_URL = "admin:trials_trial_funnel"


def a_salesperson(i: int):
    user, _ = User.objects.get_or_create(
        username=f"seller-{i % 3}", defaults={"is_staff": True}
    )
    return user


def make_trial(i: int) -> Trial:
    return TrialFactory(
        lead=LeadFactory(full_name=f"Firstname{i} Lastname{i}"),
        salesperson=a_salesperson(i),
        status=[TrialStatus.SCHEDULED, TrialStatus.CANCELLED][i % 2],
        lesson_date=timezone.localdate() + dt.timedelta(days=1 + i % 4),
    )


def make_reminder(i: int) -> TrialReminder:
    return TrialReminderFactory(trial=make_trial(i))


# model, row maker, search term, which row the term finds, query budget
ADMINS = {
    "trial": ChangelistCase(Trial, make_trial, "Lastname3", 3, 10),
    "reminder": ChangelistCase(
        TrialReminder, make_reminder, "Lastname3", 3, 8, has_add_page=False
    ),
}


@pytest.mark.parametrize("name", ADMINS)
def test_changelist_search_filters_add_and_change_pages(admin_client, name):
    check_changelist_pages(admin_client, ADMINS[name])


@pytest.mark.parametrize("rows", [5, 50])
@pytest.mark.parametrize("name", ADMINS)
def test_changelist_queries_do_not_grow_with_rows(
    admin_client, django_assert_max_num_queries, name, rows
):
    check_query_budget(admin_client, django_assert_max_num_queries, ADMINS[name], rows)


def test_a_phone_in_any_format_finds_the_trial(admin_client):
    wanted = TrialFactory(lead=LeadFactory(phone="+16465550142"))
    TrialFactory(lead=LeadFactory(phone="+16465550143"))

    response = admin_client.get(changelist_url(Trial), {"q": "(646) 555-0142"})

    assert result_pks(response) == {wanted.pk}


def test_badges_show_status_and_result_and_escape_names(admin_client):
    TrialFactory(lead=LeadFactory(full_name="<script>x</script>"))

    page = admin_client.get(changelist_url(Trial)).content.decode()

    assert "<script>x</script>" not in page
    assert "crm-trial-scheduled" in page
    assert "crm-result-pending" in page


# --- filters ----------------------------------------------------------------------


def test_the_when_filter_finds_overdue_today_and_upcoming_trials(clock, admin_client):
    yesterday = TODAY - dt.timedelta(days=1)
    overdue = TrialFactory(lesson_date=yesterday)
    recorded = TrialFactory(
        lesson_date=yesterday,
        status=TrialStatus.ATTENDED,
        result=TrialResult.SALES_OFFER,
    )
    today = TrialFactory(lesson_date=TODAY)
    upcoming = TrialFactory(lesson_date=TODAY + dt.timedelta(days=3))

    def listed(when):
        return result_pks(admin_client.get(changelist_url(Trial), {"when": when}))

    assert listed("overdue") == {overdue.pk}
    assert listed("today") == {today.pk}
    assert listed("upcoming") == {today.pk, upcoming.pk}
    assert recorded.pk not in listed("overdue")
    page = admin_client.get(changelist_url(Trial)).content.decode()
    assert "crm-overdue" in page


# --- adding and changing through the services ---------------------------------------


def test_adding_a_trial_schedules_it_through_the_service(admin_client, admin_user):
    lead = LeadFactory(status=LeadStatus.CONTACTED)
    group = GroupFactory()
    day = timezone.localdate() + dt.timedelta(days=2)
    page = admin_client.get(add_url(Trial))

    response = admin_client.post(
        add_url(Trial),
        form_data(
            page,
            lead=lead.pk,
            group=group.pk,
            lesson_date=day.isoformat(),
            salesperson=admin_user.pk,
        ),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    trial = Trial.objects.get()
    assert (trial.lead, trial.group, trial.lesson_date) == (lead, group, day)
    assert trial.booked_by == admin_user
    assert trial.reminders.count() == 3
    lead.refresh_from_db()
    assert lead.status == LeadStatus.TRIAL_SCHEDULED


def test_a_day_without_a_lesson_is_a_form_error(admin_client):
    group = GroupFactory(weekdays="1")  # Mondays only
    day = timezone.localdate() + dt.timedelta(days=1)
    while day.isoweekday() == 1:
        day += dt.timedelta(days=1)
    page = admin_client.get(add_url(Trial))

    response = admin_client.post(
        add_url(Trial),
        form_data(
            page,
            lead=LeadFactory().pk,
            group=group.pk,
            lesson_date=day.isoformat(),
        ),
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "has no lesson on" in errors["lesson_date"][0]
    assert not Trial.objects.exists()


def test_a_full_lesson_is_a_form_error(admin_client):
    group = GroupFactory(capacity=1)
    EnrollmentFactory(group=group)
    page = admin_client.get(add_url(Trial))

    response = admin_client.post(
        add_url(Trial),
        form_data(
            page,
            lead=LeadFactory().pk,
            group=group.pk,
            lesson_date=(timezone.localdate() + dt.timedelta(days=1)).isoformat(),
        ),
    )

    assert response.status_code == 200
    assert "is full" in response.context["adminform"].form.errors["lesson_date"][0]
    assert not Trial.objects.exists()


def test_moving_a_trial_in_its_form_moves_its_reminders(admin_client):
    from trials import services

    trial = services.schedule_trial(
        LeadFactory(), GroupFactory(), timezone.localdate() + dt.timedelta(days=1)
    )
    later = trial.lesson_date + dt.timedelta(days=2)
    page = admin_client.get(change_url(trial))

    response = admin_client.post(
        change_url(trial), form_data(page, lesson_date=later.isoformat())
    )

    assert response.status_code == 302
    trial.refresh_from_db()
    assert trial.lesson_date == later
    pending = trial.reminders.filter(status=TrialReminder.Status.PENDING)
    assert pending.count() == 3
    assert all(r.due_at > trial.starts_at - dt.timedelta(hours=3) for r in pending)


def test_recording_attendance_and_acceptance_in_the_form_enrols_the_client(
    clock, admin_client
):
    from trials import services

    lead = LeadFactory(status=LeadStatus.CONTACTED)
    trial = services.schedule_trial(lead, GroupFactory(), TODAY)
    clock.move_to(trial.ends_at + dt.timedelta(minutes=5))
    page = admin_client.get(change_url(trial))

    response = admin_client.post(
        change_url(trial), form_data(page, status=TrialStatus.ATTENDED)
    )
    assert response.status_code == 302
    page = admin_client.get(change_url(trial))
    response = admin_client.post(
        change_url(trial), form_data(page, result=TrialResult.ACCEPTED)
    )

    assert response.status_code == 302
    trial.refresh_from_db()
    assert trial.status == TrialStatus.ATTENDED
    assert trial.enrollment == Enrollment.objects.get()
    lead.refresh_from_db()
    assert lead.status == LeadStatus.CONVERTED
    assert any("is now a client, enrolled" in m for m in messages_of(response))
    assert trial.history.filter(to_status=TrialStatus.ATTENDED).count() == 1


def test_a_result_before_attendance_is_a_form_error(admin_client):
    trial = TrialFactory()
    page = admin_client.get(change_url(trial))

    response = admin_client.post(
        change_url(trial), form_data(page, result=TrialResult.SALES_OFFER)
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "attendance before the result" in errors["result"][0]


def test_attendance_before_the_lesson_is_a_form_error(admin_client):
    trial = TrialFactory()  # tomorrow
    page = admin_client.get(change_url(trial))

    response = admin_client.post(
        change_url(trial), form_data(page, status=TrialStatus.ATTENDED)
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "has not started yet" in errors["status"][0]


def test_a_refusal_only_the_service_sees_is_a_message_not_a_server_error(admin_client):
    from trials import services

    lead, group = LeadFactory(), GroupFactory()
    first_day = timezone.localdate() + dt.timedelta(days=1)
    services.schedule_trial(lead, group, first_day)
    other = services.schedule_trial(lead, group, first_day + dt.timedelta(days=1))
    page = admin_client.get(change_url(other))

    response = admin_client.post(
        change_url(other), form_data(page, lesson_date=first_day.isoformat())
    )

    assert response.status_code == 302
    assert "The lead already has a trial in that lesson." in messages_of(response)
    other.refresh_from_db()
    assert other.lesson_date == first_day + dt.timedelta(days=1)


def test_a_trial_a_salesperson_books_is_theirs(client):
    seller = user_with_role("sam-seller", "salesperson")
    lead = LeadFactory(assigned_to=seller)
    client.force_login(seller)
    page = client.get(add_url(Trial))
    assert page.context["adminform"].form.initial["salesperson"] == seller.pk

    response = client.post(
        add_url(Trial),
        form_data(
            page,
            lead=lead.pk,
            group=GroupFactory().pk,
            lesson_date=(timezone.localdate() + dt.timedelta(days=1)).isoformat(),
        ),
    )

    assert response.status_code == 302
    assert Trial.objects.get().salesperson == seller


# --- bulk actions ---------------------------------------------------------------------


def test_mark_attended_reports_what_it_changed_and_skipped(clock, admin_client):
    started = TrialFactory(lesson_date=TODAY - dt.timedelta(days=1))
    done = TrialFactory(
        lesson_date=TODAY - dt.timedelta(days=1), status=TrialStatus.ATTENDED
    )
    future = TrialFactory(lesson_date=TODAY + dt.timedelta(days=1))

    response = admin_client.post(
        changelist_url(Trial),
        {
            "action": "mark_attended",
            "_selected_action": [started.pk, done.pk, future.pk],
        },
        follow=True,
    )

    notes = messages_of(response)
    assert "1 trial marked as attended." in notes
    assert "1 skipped: already recorded" in notes
    assert any(n.startswith("1 skipped: The lesson has not started yet") for n in notes)
    started.refresh_from_db()
    future.refresh_from_db()
    assert started.status == TrialStatus.ATTENDED
    assert future.status == TrialStatus.SCHEDULED


def test_mark_no_show_goes_through_the_service(clock, admin_client):
    trial = TrialFactory(lesson_date=TODAY - dt.timedelta(days=1))

    response = admin_client.post(
        changelist_url(Trial),
        {"action": "mark_no_show", "_selected_action": [trial.pk]},
        follow=True,
    )

    assert "1 trial marked as a no-show." in messages_of(response)
    assert trial.history.filter(to_status=TrialStatus.NO_SHOW).count() == 1


# --- who sees what ---


def user_with_role(username: str, role: str):
    ensure_roles()
    user = User.objects.create_user(username, password="pw", is_staff=True)
    user.groups.add(Role.objects.get(name=role))
    return user


def test_a_salesperson_sees_only_their_own_trials_and_reminders(client):
    seller = user_with_role("sam-seller", "salesperson")
    mine = TrialReminderFactory(trial=TrialFactory(salesperson=seller)).trial
    theirs = TrialReminderFactory(
        trial=TrialFactory(salesperson=a_salesperson(1))
    ).trial
    client.force_login(seller)

    assert result_pks(client.get(changelist_url(Trial))) == {mine.pk}
    assert client.get(change_url(theirs)).status_code in (302, 404)
    reminders = result_pks(client.get(changelist_url(TrialReminder)))
    assert reminders == set(mine.reminders.values_list("pk", flat=True))


def test_a_receptionist_sees_every_trial_but_adds_none(client):
    desk = user_with_role("rita-desk", "receptionist")
    trials = {make_trial(i).pk for i in range(3)}
    client.force_login(desk)

    assert result_pks(client.get(changelist_url(Trial))) == trials
    assert client.get(add_url(Trial)).status_code == 403


def test_reminders_cannot_be_added_or_edited(admin_client):
    reminder = TrialReminderFactory()

    page = admin_client.get(change_url(reminder))

    assert page.status_code == 200
    assert admin_client.get(add_url(TrialReminder)).status_code == 403
    assert "_save" not in page.content.decode()


# --- the funnel page ------------------------------------------------------------------


def test_the_funnel_page_shows_both_tables_with_coloured_percents(
    admin_client, django_assert_max_num_queries
):
    lead = LeadFactory(source=Source.WALK_IN, assigned_to=a_salesperson(0))
    TrialFactory(
        lead=lead,
        status=TrialStatus.ATTENDED,
        result=TrialResult.ACCEPTED,
        enrollment=EnrollmentFactory(),
    )
    LeadFactory.create_batch(3, source=Source.WALK_IN)

    with django_assert_max_num_queries(6):
        response = admin_client.get(reverse(FUNNEL_URL))

    assert response.status_code == 200
    page = response.content.decode()
    assert page.count("crm-funnel-table") == 2
    assert "Walk-in" in page and "seller-0" in page and "Unassigned" in page
    assert "crm-kpi-green" in page  # 1 lead of 4 enrolled: 25 %


def test_a_range_that_ends_before_it_starts_is_a_form_error(admin_client):
    response = admin_client.get(
        reverse(FUNNEL_URL), {"start": "2030-03-10", "end": "2030-03-01"}
    )

    assert response.status_code == 200
    assert "must end on or after its start" in response.content.decode()
    assert response.context["tables"] == []


def test_a_salesperson_sees_the_funnel_of_their_own_leads(client):
    seller = user_with_role("sam-seller", "salesperson")
    LeadFactory(source=Source.WALK_IN, assigned_to=seller)
    LeadFactory(source=Source.INSTAGRAM, assigned_to=a_salesperson(1))
    client.force_login(seller)

    response = client.get(reverse(FUNNEL_URL))

    assert response.status_code == 200
    by_source = response.context["tables"][0][1]
    assert [row.label for row in by_source.rows] == ["Walk-in"]


def test_the_funnel_is_in_the_menu(admin_client):
    page = admin_client.get(reverse("admin:index")).content.decode()

    assert reverse(FUNNEL_URL) in page


def test_staff_without_trial_access_cannot_open_the_funnel(client):
    marketer = user_with_role("mark-marketer", "marketer")
    client.force_login(marketer)

    assert client.get(reverse(FUNNEL_URL)).status_code == 403


# --- the dashboard ---


def test_the_dashboard_lists_my_trials_today_and_overdue(clock, client):
    seller = user_with_role("sam-seller", "salesperson")
    today = TrialFactory(salesperson=seller, lesson_date=TODAY)
    owed = TrialFactory(
        salesperson=seller,
        lesson_date=TODAY - dt.timedelta(days=2),
        status=TrialStatus.ATTENDED,
    )
    TrialFactory(salesperson=seller, lesson_date=TODAY + dt.timedelta(days=1))
    TrialFactory(salesperson=a_salesperson(1), lesson_date=TODAY)
    client.force_login(seller)

    response = client.get(reverse("admin:index"))

    assert [t.pk for t in response.context["trials_to_follow"]] == [owed.pk, today.pk]
    page = response.content.decode()
    assert "Record the result" in page
    assert "Comes today" in page
