import datetime as dt
import re
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clients.tests.factories import ClientFactory
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
    staff_user,
)
from scheduling import services
from scheduling.models import (
    Attendance,
    Course,
    Enrollment,
    EnrollmentStatus,
    Group,
    GroupStatus,
    Room,
    RoomOccupancy,
    WaitlistEntry,
    WaitlistStatus,
)
from scheduling.patterns import DayPattern

from .factories import (
    START,
    AttendanceFactory,
    CourseFactory,
    EnrollmentFactory,
    GroupFactory,
    RoomFactory,
    WaitlistEntryFactory,
)

pytestmark = pytest.mark.django_db

User = get_user_model()
GRID_URL = "/admin/scheduling/roomoccupancy/grid/"


def a_teacher(i: int):
    user, _ = User.objects.get_or_create(
        username=f"teacher-{i % 3}", defaults={"is_staff": True}
    )
    return user


def named_client(i: int):
    return ClientFactory(first_name=f"Firstname{i}", last_name=f"Lastname{i}")


def make_course(i: int) -> Course:
    return CourseFactory(name=f"Coursename{i}", teacher=a_teacher(i))


def make_room(i: int) -> Room:
    return RoomFactory(name=f"Roomname{i}", capacity=10 + i)


def make_group(i: int) -> Group:
    group = GroupFactory(
        name=f"Groupname{i}",
        course=CourseFactory(name=f"Course of group {i % 3}"),
        room=RoomFactory(name=f"Room of group {i % 4}"),
        teacher=a_teacher(i),
        capacity=10,
        status=GroupStatus.ACTIVE if i % 2 else GroupStatus.PLANNED,
    )
    EnrollmentFactory.create_batch(i % 3, group=group)
    return group


def make_enrollment(i: int) -> Enrollment:
    enrollment = EnrollmentFactory(
        client=named_client(i),
        status=EnrollmentStatus.PAUSED if i % 4 == 1 else EnrollmentStatus.ACTIVE,
    )
    if i % 2:
        AttendanceFactory(enrollment=enrollment)
    return enrollment


def make_waitlist_entry(i: int) -> WaitlistEntry:
    return WaitlistEntryFactory(client=named_client(i))


def make_attendance(i: int) -> Attendance:
    return AttendanceFactory(enrollment=EnrollmentFactory(client=named_client(i)))


def make_occupancy(i: int) -> RoomOccupancy:
    group = GroupFactory(name=f"Groupname{i}")
    return RoomOccupancy.objects.create(
        room=group.room,
        date=START + dt.timedelta(days=i),
        start_time=group.start_time,
        end_time=group.end_time,
        group=group,
        capacity=10,
        taken=i % 11,
        percent=Decimal(10 * (i % 11)),
    )


# model, row maker, search term, which row the term finds, query budget
ADMINS = {
    "course": ChangelistCase(Course, make_course, "Coursename3", 3, 8),
    "room": ChangelistCase(Room, make_room, "Roomname3", 3, 7),
    "group": ChangelistCase(Group, make_group, "Groupname3", 3, 10),
    "enrollment": ChangelistCase(Enrollment, make_enrollment, "Lastname3", 3, 8),
    "waitlist": ChangelistCase(WaitlistEntry, make_waitlist_entry, "Lastname3", 3, 8),
    "attendance": ChangelistCase(Attendance, make_attendance, "Lastname3", 3, 10),
    "occupancy": ChangelistCase(
        RoomOccupancy, make_occupancy, "Groupname3", 3, 10, has_add_page=False
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


# --- Groups: the list -----------------------------------------------------------------


def row_html(response, obj) -> str:
    """The changelist row of ``obj``."""
    content = response.content.decode()
    link = change_url(obj)
    start = content.index(f'href="{link}"')
    return content[content.rindex("<tr", 0, start) : content.index("</tr>", start)]


@pytest.mark.parametrize(
    ("enrolled", "capacity", "colour", "text"),
    [
        (4, 10, "crm-bg-green", "40 %"),
        (5, 10, "crm-bg-orange", "50 %"),
        (8, 10, "crm-bg-red", "80 %"),
        (2, 2, "crm-bg-red", "100 %"),
    ],
)
def test_the_group_list_shows_places_free_slots_and_a_coloured_badge(
    admin_client, enrolled, capacity, colour, text
):
    group = GroupFactory(capacity=capacity)
    EnrollmentFactory.create_batch(enrolled, group=group)
    EnrollmentFactory(group=group, status=EnrollmentStatus.LEFT, end_date=START)

    response = admin_client.get(changelist_url(Group))

    row = row_html(response, group)
    assert f"{enrolled}/{capacity}" in row
    assert f'<td class="field-free_slots">{capacity - enrolled}</td>' in row
    assert re.search(rf'class="badge crm-occupancy {colour}"[^>]*>{text}<', row)


def test_the_group_list_filters_by_course_room_status_and_teacher(admin_client):
    wanted = GroupFactory(teacher=a_teacher(1), status=GroupStatus.ACTIVE)
    GroupFactory(teacher=a_teacher(2), status=GroupStatus.PLANNED)

    for query in (
        {"course__id__exact": wanted.course_id},
        {"room__id__exact": wanted.room_id},
        {"status__exact": "active"},
        {"teacher__id__exact": wanted.teacher_id},
    ):
        response = admin_client.get(changelist_url(Group), query)
        assert result_pks(response) == {wanted.pk}, query


# --- Groups: the form -----------------------------------------------------------------


def group_add_data(admin_client, **overrides) -> dict:
    page = admin_client.get(add_url(Group))
    values = {
        "course": str(CourseFactory().pk),
        "name": "Evening beginners",
        "status": GroupStatus.PLANNED,
        "day_pattern": DayPattern.MON_WED_FRI,
        "weekdays": None,
        "start_time": "18:00",
        "end_time": "19:00",
        "room": str(RoomFactory(name="Studio A", capacity=12).pk),
        "capacity": "10",
        "start_date": "2030-01-07",
        "end_date": "2030-06-30",
    }
    values.update(overrides)
    return form_data(page, **values)


def form_errors(response) -> dict:
    return response.context["adminform"].form.errors


def test_adding_a_group_saves_it(admin_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(add_url(Group), group_add_data(admin_client))

    assert response.status_code == 302, form_errors(response)
    group = Group.objects.get()
    assert (group.name, group.capacity, group.weekdays) == ("Evening beginners", 10, "")


def test_a_room_clash_is_a_form_error_naming_the_group_date_and_time(admin_client):
    room = RoomFactory(name="Studio A", capacity=12)
    other = GroupFactory(
        room=room,
        name="Salsa",
        day_pattern=DayPattern.EVEN_DAYS,
        start_time=dt.time(18, 30),
        end_time=dt.time(19, 30),
        start_date=dt.date(2026, 12, 1),
    )

    response = admin_client.post(
        add_url(Group),
        group_add_data(
            admin_client,
            room=str(room.pk),
            day_pattern=DayPattern.WED,
            start_date="2026-11-23",
        ),
    )

    assert response.status_code == 200
    assert form_errors(response)["room"] == [
        f"Room Studio A already holds group {other} on 2026-12-02 at 18:30–19:30."
    ]
    assert Group.objects.count() == 1


def test_back_to_back_groups_in_one_room_are_accepted(admin_client):
    room = RoomFactory(name="Studio A", capacity=12)
    GroupFactory(room=room, start_time=dt.time(19, 0), end_time=dt.time(20, 0))

    response = admin_client.post(
        add_url(Group), group_add_data(admin_client, room=str(room.pk))
    )

    assert response.status_code == 302, form_errors(response)


def test_a_capacity_above_the_rooms_is_a_form_error(admin_client):
    response = admin_client.post(
        add_url(Group), group_add_data(admin_client, capacity="13")
    )

    assert response.status_code == 200
    assert form_errors(response)["capacity"] == [
        "The room Studio A holds 12; the group cannot take more."
    ]


def test_chosen_weekdays_need_at_least_one_day(admin_client):
    response = admin_client.post(
        add_url(Group), group_add_data(admin_client, day_pattern=DayPattern.CUSTOM)
    )

    assert response.status_code == 200
    assert "weekdays" in form_errors(response)


def test_chosen_weekdays_are_saved_as_their_numbers(admin_client):
    response = admin_client.post(
        add_url(Group),
        group_add_data(
            admin_client, day_pattern=DayPattern.CUSTOM, weekdays=["6", "2"]
        ),
    )

    assert response.status_code == 302, form_errors(response)
    group = Group.objects.get()
    assert group.weekdays == "2,6"
    page = admin_client.get(change_url(group))
    assert page.context["adminform"].form.initial["weekdays"] == ["2", "6"]


def test_raising_a_groups_capacity_enrols_the_waitlist_and_says_so(admin_client):
    group = GroupFactory(capacity=2, room=RoomFactory(capacity=10))
    EnrollmentFactory.create_batch(2, group=group)
    entry = WaitlistEntryFactory(group=group, client=named_client(7))
    page = admin_client.get(change_url(group))

    response = admin_client.post(
        change_url(group), form_data(page, capacity="3", weekdays=None)
    )

    assert response.status_code == 302, form_errors(response)
    entry.refresh_from_db()
    assert entry.status == WaitlistStatus.ENROLLED
    assert any(
        "Firstname7 Lastname7 was enrolled from the waitlist" in m
        for m in messages_of(response)
    )


def test_the_capacity_cannot_drop_below_the_enrolled_students(admin_client):
    group = GroupFactory(capacity=3)
    EnrollmentFactory.create_batch(3, group=group)
    page = admin_client.get(change_url(group))

    response = admin_client.post(
        change_url(group), form_data(page, capacity="2", weekdays=None)
    )

    assert response.status_code == 200
    assert "capacity cannot be lower" in form_errors(response)["capacity"][0]


def inline_add(page, client, *, index: int = 0, **fields) -> dict:
    prefix = "enrollments"
    total = int(form_data(page)[f"{prefix}-TOTAL_FORMS"])
    data = {
        f"{prefix}-TOTAL_FORMS": str(total + index + 1),
        f"{prefix}-{total + index}-client": str(client.pk),
        f"{prefix}-{total + index}-status": "active",
        f"{prefix}-{total + index}-start_date": str(START),
    }
    data.update(fields)
    return data


def test_enrolling_from_the_group_page_goes_through_the_service(
    admin_client, admin_user
):
    group = GroupFactory(capacity=2)
    client = ClientFactory()
    page = admin_client.get(change_url(group))

    response = admin_client.post(
        change_url(group),
        {**form_data(page, weekdays=None), **inline_add(page, client)},
    )

    assert response.status_code == 302, response.context and form_errors(response)
    enrollment = Enrollment.objects.get(group=group)
    assert (enrollment.client, enrollment.enrolled_by) == (client, admin_user)


def test_more_new_students_than_free_places_is_a_form_error(admin_client):
    group = GroupFactory(capacity=1)
    page = admin_client.get(change_url(group))
    data = {
        **form_data(page, weekdays=None),
        **inline_add(page, ClientFactory()),
        **inline_add(page, ClientFactory(), index=1),
    }

    response = admin_client.post(change_url(group), data)

    assert response.status_code == 200
    errors = response.context["inline_admin_formsets"][0].formset.non_form_errors()
    assert "1 free places; 2 new students do not fit" in errors[0]
    assert not Enrollment.objects.exists()


def test_a_student_leaving_on_the_group_page_promotes_the_waitlist(admin_client):
    group = GroupFactory(capacity=1)
    enrollment = EnrollmentFactory(group=group)
    entry = WaitlistEntryFactory(group=group)
    page = admin_client.get(change_url(group))

    response = admin_client.post(
        change_url(group),
        form_data(page, weekdays=None, **{"enrollments-0-status": "left"}),
    )

    assert response.status_code == 302, form_errors(response)
    enrollment.refresh_from_db()
    entry.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.LEFT
    assert entry.status == WaitlistStatus.ENROLLED


# --- Enrolments -----------------------------------------------------------------------


def test_adding_an_enrolment_enrols_through_the_service(admin_client, admin_user):
    group = GroupFactory(capacity=2)
    client = ClientFactory()
    page = admin_client.get(add_url(Enrollment))

    response = admin_client.post(
        add_url(Enrollment),
        form_data(page, client=str(client.pk), group=str(group.pk), start_date=""),
    )

    assert response.status_code == 302, form_errors(response)
    enrollment = Enrollment.objects.get()
    assert enrollment.start_date == START
    assert enrollment.enrolled_by == admin_user


def test_enrolling_into_a_full_group_is_a_form_error(admin_client):
    group = GroupFactory(capacity=1)
    EnrollmentFactory(group=group)
    page = admin_client.get(add_url(Enrollment))

    response = admin_client.post(
        add_url(Enrollment),
        form_data(
            page, client=str(ClientFactory().pk), group=str(group.pk), start_date=""
        ),
    )

    assert response.status_code == 200
    assert "waitlist" in form_errors(response)["group"][0]


def test_the_enrolment_list_shows_the_attendance_rate(admin_client):
    today = timezone.localdate()
    monday = today - dt.timedelta(days=today.weekday() + 14)
    group = GroupFactory(start_date=monday)
    enrollment = EnrollmentFactory(group=group, start_date=monday)
    for offset, status in [(0, "present"), (2, "absent"), (4, "excused")]:
        services.mark_attendance(
            enrollment, monday + dt.timedelta(days=offset), status, by=None
        )

    response = admin_client.get(changelist_url(Enrollment))
    page = admin_client.get(change_url(enrollment))

    assert "50 % (1/2)" in row_html(response, enrollment)
    assert "50 % (1/2)" in page.content.decode()
    assert "excused absences" in page.content.decode()  # the help text


def enrollment_action(admin_client, action, rows):
    return admin_client.post(
        changelist_url(Enrollment),
        {"action": action, "_selected_action": [str(r.pk) for r in rows]},
        follow=True,
    )


def test_leaving_in_bulk_reports_counts_promotions_and_skips(admin_client):
    group = GroupFactory(capacity=2)
    staying, leaving = EnrollmentFactory.create_batch(2, group=group)
    gone = EnrollmentFactory(status=EnrollmentStatus.LEFT, end_date=START)
    entry = WaitlistEntryFactory(group=group, client=named_client(4))

    response = enrollment_action(admin_client, "leave_selected", [leaving, gone])

    texts = messages_of(response)
    assert "1 student left the group." in texts
    assert "1 skipped: nothing to change" in texts
    assert any(
        "Firstname4 Lastname4 was enrolled from the waitlist" in t for t in texts
    )
    entry.refresh_from_db()
    assert entry.status == WaitlistStatus.ENROLLED
    staying.refresh_from_db()
    assert staying.status == EnrollmentStatus.ACTIVE


def test_pausing_and_reactivating_in_bulk(admin_client):
    enrollments = EnrollmentFactory.create_batch(2)

    paused = enrollment_action(admin_client, "pause_selected", enrollments)
    back = enrollment_action(admin_client, "reactivate_selected", enrollments)

    assert "2 enrolments paused." in messages_of(paused)
    assert "2 enrolments reactivated." in messages_of(back)
    assert {e.status for e in Enrollment.objects.all()} == {"active"}


def test_reactivating_into_a_full_group_is_skipped_with_the_reason(admin_client):
    group = GroupFactory(capacity=1)
    EnrollmentFactory(group=group)
    left = EnrollmentFactory(group=group, status=EnrollmentStatus.LEFT, end_date=START)

    response = enrollment_action(admin_client, "reactivate_selected", [left])

    assert any(
        "skipped: The group" in m and "is full" in m for m in messages_of(response)
    )
    left.refresh_from_db()
    assert left.status == EnrollmentStatus.LEFT


# --- The waitlist ---------------------------------------------------------------------


def waitlist_action(admin_client, action, rows):
    return admin_client.post(
        changelist_url(WaitlistEntry),
        {"action": action, "_selected_action": [str(r.pk) for r in rows]},
        follow=True,
    )


def test_enrolling_now_from_the_waitlist(admin_client):
    group = GroupFactory(capacity=1)
    first, second = WaitlistEntryFactory.create_batch(2, group=group)

    response = waitlist_action(admin_client, "enroll_now", [first, second])

    texts = messages_of(response)
    assert "1 client enrolled from the waitlist." in texts
    assert any(t.startswith("1 skipped: The group") for t in texts)
    assert Enrollment.objects.get(group=group).client == first.client


def test_offering_and_withdrawing_from_the_waitlist(admin_client, settings):
    settings.SCHEDULING_WAITLIST_AUTO_ENROLL = False
    group = GroupFactory(capacity=1)
    first, second = WaitlistEntryFactory.create_batch(2, group=group)

    offered = waitlist_action(admin_client, "offer_place", [first])
    withdrawn = waitlist_action(admin_client, "withdraw", [first])

    assert "1 client offered a place." in messages_of(offered)
    texts = messages_of(withdrawn)
    assert "1 client withdrawn from the waitlist." in texts
    assert any("it is offered to" in t for t in texts)
    second.refresh_from_db()
    assert second.status == WaitlistStatus.OFFERED


def test_adding_to_the_waitlist_of_a_group_with_room_is_a_form_error(admin_client):
    group = GroupFactory(capacity=3)
    page = admin_client.get(add_url(WaitlistEntry))

    response = admin_client.post(
        add_url(WaitlistEntry),
        form_data(page, client=str(ClientFactory().pk), group=str(group.pk)),
    )

    assert response.status_code == 200
    assert "enrol the client instead" in form_errors(response)["group"][0]


def test_adding_to_the_waitlist_of_a_full_group(admin_client, admin_user):
    group = GroupFactory(capacity=1)
    EnrollmentFactory(group=group)
    client = ClientFactory()
    page = admin_client.get(add_url(WaitlistEntry))

    response = admin_client.post(
        add_url(WaitlistEntry),
        form_data(page, client=str(client.pk), group=str(group.pk), note="evenings"),
    )

    assert response.status_code == 302, form_errors(response)
    entry = WaitlistEntry.objects.get()
    assert (entry.client, entry.added_by, entry.note) == (
        client,
        admin_user,
        "evenings",
    )


def test_the_dashboard_lists_waitlist_offers_and_promotions(admin_client, settings):
    settings.SCHEDULING_WAITLIST_AUTO_ENROLL = False
    group = GroupFactory(capacity=1)
    enrollment = EnrollmentFactory(group=group)
    WaitlistEntryFactory(group=group, client=named_client(5))
    services.leave_enrollment(enrollment, by=None)

    response = admin_client.get("/admin/")

    panel = response.content.decode().split('id="waitlist-promotions"')[1]
    panel = panel.split("</table>")[0]
    assert "Firstname5 Lastname5" in panel
    assert "Place offered: call the client" in panel


# --- Attendance -----------------------------------------------------------------------


@pytest.fixture
def lesson():
    """A Monday/Wednesday/Friday group with two students; its Monday lesson two
    weeks ago."""
    today = timezone.localdate()
    monday = today - dt.timedelta(days=today.weekday() + 14)
    group = GroupFactory(start_date=monday)
    students = [
        EnrollmentFactory(group=group, start_date=monday, client=named_client(i))
        for i in range(2)
    ]
    return group, monday, students


def attendance_url(group, day) -> str:
    url = reverse("admin:scheduling_group_attendance", args=[group.pk])
    return f"{url}?date={day.isoformat()}"


def test_the_attendance_page_lists_the_lessons_students(admin_client, lesson):
    group, monday, students = lesson
    EnrollmentFactory(group=group, start_date=monday + dt.timedelta(days=7))

    response = admin_client.get(attendance_url(group, monday))

    assert response.status_code == 200
    assert [e.pk for e in response.context["form"].enrollments] == [
        s.pk for s in students
    ]
    assert response.context["next_lesson"] == monday + dt.timedelta(days=2)
    assert 'value="excused"' in response.content.decode()


def test_taking_attendance_saves_one_mark_per_student(admin_client, admin_user, lesson):
    group, monday, (anna, ben) = lesson

    response = admin_client.post(
        attendance_url(group, monday),
        {f"e{anna.pk}": "present", f"e{ben.pk}": "excused"},
        follow=True,
    )

    assert "Attendance saved for 2 students." in messages_of(response)
    marks = dict(Attendance.objects.values_list("enrollment_id", "status"))
    assert marks == {anna.pk: "present", ben.pk: "excused"}
    assert set(Attendance.objects.values_list("marked_by", flat=True)) == {
        admin_user.pk
    }
    again = admin_client.get(attendance_url(group, monday))
    assert again.context["form"][f"e{anna.pk}"].initial == "present"


def test_a_day_without_a_lesson_says_so(admin_client, lesson):
    group, monday, _students = lesson

    response = admin_client.get(attendance_url(group, monday + dt.timedelta(days=1)))

    assert response.status_code == 200
    assert 'id="no-lesson"' in response.content.decode()


def test_the_attendance_page_needs_the_attendance_permissions(client, lesson):
    group, monday, _students = lesson
    client.force_login(staff_user("scheduling.view_group"))

    assert client.get(attendance_url(group, monday)).status_code == 403


def test_the_group_page_links_to_taking_attendance(admin_client, lesson):
    group, _monday, _students = lesson

    response = admin_client.get(change_url(group))

    assert reverse("admin:scheduling_group_attendance", args=[group.pk]) in (
        response.content.decode()
    )


def test_adding_an_attendance_mark_outside_the_lessons_is_a_form_error(
    admin_client, lesson
):
    _group, monday, (anna, _ben) = lesson
    page = admin_client.get(add_url(Attendance))

    response = admin_client.post(
        add_url(Attendance),
        form_data(
            page,
            enrollment=str(anna.pk),
            lesson_date=str(monday + dt.timedelta(days=1)),
            status="present",
        ),
    )

    assert response.status_code == 200
    assert "has no lesson on" in form_errors(response)["lesson_date"][0]


# --- The occupancy grid ---------------------------------------------------------------


def seed_rooms(rooms: int, first: int = 0):
    groups = []
    for i in range(first, first + rooms):
        room = RoomFactory(name=f"Grid room {i}", capacity=12)
        group = GroupFactory(room=room, name=f"Grid group {i}", capacity=10)
        EnrollmentFactory.create_batch(4, group=group)
        groups.append(group)
    services.refresh_room_occupancy(start=START, end=START + dt.timedelta(days=6))
    return groups


def test_the_grid_shows_each_rooms_slots_by_day(admin_client):
    (group,) = seed_rooms(1)

    response = admin_client.get(GRID_URL, {"week": "2030-01-09"})  # a Wednesday

    assert response.status_code == 200
    assert response.context["monday"] == START
    days = response.context["days"]
    (row,) = [r for r in response.context["rows"] if r.room == group.room]
    assert [len(cell) for cell in row.cells] == [1, 0, 1, 0, 1, 0, 0]
    html = response.content.decode()
    assert '<span class="text-nowrap">18:00–19:00</span> Grid group 0' in html
    assert "4/10 · 40 %" in html
    assert 'class="badge crm-occupancy crm-bg-green"' in html
    assert days[0] == START and days[-1] == START + dt.timedelta(days=6)
    assert "?week=2029-12-31" in html and "?week=2030-01-14" in html


def test_the_grid_query_count_does_not_grow_with_rooms_and_slots(admin_client):
    seed_rooms(2)
    admin_client.get(GRID_URL, {"week": "2030-01-07"})  # the session is warm now
    with CaptureQueriesContext(connection) as small:
        admin_client.get(GRID_URL, {"week": "2030-01-07"})
    seed_rooms(6, first=2)

    with CaptureQueriesContext(connection) as large:
        response = admin_client.get(GRID_URL, {"week": "2030-01-07"})

    assert len(response.context["rows"]) == 8
    assert len(large.captured_queries) == len(small.captured_queries) <= 6


def test_refreshing_a_week_from_the_grid(admin_client):
    GroupFactory()

    response = admin_client.post(f"{GRID_URL}?week=2030-01-07", follow=True)

    assert "Occupancy refreshed: 3 lesson slots." in messages_of(response)
    assert RoomOccupancy.objects.count() == 3


def test_the_occupancy_list_links_to_the_grid(admin_client):
    response = admin_client.get(changelist_url(RoomOccupancy))

    assert 'id="occupancy-grid-link"' in response.content.decode()
    assert GRID_URL in response.content.decode()


def test_the_menu_links_to_the_grid(admin_client):
    response = admin_client.get("/admin/")

    assert GRID_URL in response.content.decode()


def test_occupancy_rows_are_read_only(admin_client):
    row = make_occupancy(0)

    assert admin_client.get(add_url(RoomOccupancy)).status_code == 403
    page = admin_client.get(change_url(row))
    assert page.status_code == 200
    assert not page.context["has_change_permission"]


# --- Trial students and roles ---------------------------------------------------------


def test_the_group_list_counts_upcoming_scheduled_trial_students(admin_client):
    from scheduling.admin.groups import trials_counted

    assert trials_counted()  # the trials app is installed: its column shows
    from trials.models import TrialStatus
    from trials.tests.factories import TrialFactory

    group = GroupFactory(
        day_pattern=DayPattern.CUSTOM,
        weekdays="1,2,3,4,5,6,7",
        start_date=timezone.localdate() - dt.timedelta(days=10),
    )
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    TrialFactory.create_batch(2, group=group)
    TrialFactory(group=group, status=TrialStatus.CANCELLED)
    TrialFactory(
        group=group,
        lesson_date=yesterday,
        starts_at=group.lesson_start(yesterday),
        ends_at=group.lesson_end(yesterday),
    )
    EnrollmentFactory.create_batch(3, group=group)

    response = admin_client.get(changelist_url(Group))

    row = row_html(response, group)
    assert '<td class="field-trial_students">2</td>' in row
    assert "3/10" in row  # trials do not inflate the enrolled count


@pytest.mark.parametrize(
    ("role", "allowed", "refused"),
    [
        (
            "receptionist",
            [
                "scheduling.add_enrollment",
                "scheduling.change_enrollment",
                "scheduling.change_waitlistentry",
                "scheduling.add_attendance",
                "scheduling.change_attendance",
                "scheduling.view_group",
            ],
            ["scheduling.change_group", "scheduling.delete_enrollment"],
        ),
        (
            "salesperson",
            ["scheduling.view_group", "scheduling.view_course"],
            ["scheduling.change_group", "scheduling.add_enrollment"],
        ),
        (
            "manager",
            ["scheduling.change_group", "scheduling.delete_room"],
            [],
        ),
    ],
)
def test_roles_get_their_scheduling_permissions(role, allowed, refused):
    from django.contrib.auth.models import Group as Role

    from clients.tests.factories import UserFactory

    user = UserFactory(is_superuser=False)
    user.groups.add(Role.objects.get(name=role))
    user = User.objects.get(pk=user.pk)

    assert user.has_perms(allowed)
    assert not any(user.has_perm(p) for p in refused)


def test_a_receptionist_takes_attendance(client, lesson):
    from django.contrib.auth.models import Group as Role

    from clients.tests.factories import UserFactory

    group, monday, (anna, _ben) = lesson
    receptionist = UserFactory(is_superuser=False)
    receptionist.groups.add(Role.objects.get(name="receptionist"))
    client.force_login(receptionist)

    response = client.post(attendance_url(group, monday), {f"e{anna.pk}": "absent"})

    assert response.status_code == 302
    assert Attendance.objects.get().status == "absent"
