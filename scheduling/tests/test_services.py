import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from clients.tests.factories import ClientFactory, UserFactory
from scheduling import bookings, services
from scheduling.models import (
    GREEN,
    ORANGE,
    RED,
    Attendance,
    AttendanceStatus,
    Enrollment,
    EnrollmentStatus,
    GroupStatus,
    RoomOccupancy,
    WaitlistEntry,
    WaitlistStatus,
    occupancy_colour,
)
from scheduling.patterns import DayPattern
from scheduling.selectors import (
    attendance_rate,
    enrolled_places,
    free_places,
    lesson_places_taken,
)

from .factories import (
    START,
    EnrollmentFactory,
    GroupFactory,
    RoomFactory,
    WaitlistEntryFactory,
)

pytestmark = pytest.mark.django_db

D = dt.date


@pytest.fixture
def desk():
    return UserFactory(username="desk")


def full_group(capacity: int = 2, **fields):
    group = GroupFactory(capacity=capacity, **fields)
    EnrollmentFactory.create_batch(capacity, group=group)
    return group


@pytest.fixture
def lesson_bookings():
    """Register a provider holding places for single lessons, as trials does."""
    held: dict[tuple[int, dt.date], int] = {}

    def provider(group_ids, start, end):
        return {
            key: n
            for key, n in held.items()
            if key[0] in group_ids and start <= key[1] <= end
        }

    bookings.register_lesson_bookings(provider)
    yield held
    bookings._providers.remove(provider)


# --- Enrolment ------------------------------------------------------------------------


def test_enrolling_gives_a_place_from_the_groups_first_day(desk):
    group = GroupFactory(capacity=3)
    client = ClientFactory()

    enrollment = services.enroll_client(client, group, by=desk)

    assert isinstance(enrollment, Enrollment)
    assert (enrollment.client, enrollment.group) == (client, group)
    assert enrollment.status == EnrollmentStatus.ACTIVE
    assert enrollment.start_date == START  # the group starts after today
    assert enrollment.enrolled_by == desk
    assert enrolled_places(group) == 1
    assert free_places(group) == 2


def test_enrolling_twice_returns_the_same_enrolment(desk):
    group = GroupFactory(capacity=3)
    client = ClientFactory()

    first = services.enroll_client(client, group, by=desk)
    second = services.enroll_client(client, group, by=desk)

    assert first.pk == second.pk
    assert Enrollment.objects.filter(group=group).count() == 1


def test_a_paused_student_keeps_their_place_when_enrolled_again(desk):
    enrollment = EnrollmentFactory(status=EnrollmentStatus.PAUSED)

    again = services.enroll_client(enrollment.client, enrollment.group, by=desk)

    assert again.pk == enrollment.pk
    assert again.status == EnrollmentStatus.PAUSED


def test_a_full_group_puts_the_client_on_its_waitlist_once(desk):
    group = full_group()
    client = ClientFactory()

    entry = services.enroll_client(client, group, by=desk)
    again = services.enroll_client(client, group, by=desk)

    assert isinstance(entry, WaitlistEntry)
    assert entry.status == WaitlistStatus.WAITING
    assert again.pk == entry.pk
    assert entry.added_by == desk
    assert not Enrollment.objects.filter(client=client).exists()


def test_a_full_group_refuses_when_the_waitlist_is_not_wanted(desk):
    group = full_group(capacity=2)

    with pytest.raises(services.GroupFull) as caught:
        services.enroll_client(ClientFactory(), group, by=desk, waitlist_if_full=False)

    assert "is full: all 2 places are taken" in caught.value.messages[0]
    assert isinstance(caught.value, ValidationError)
    assert not WaitlistEntry.objects.exists()


@pytest.mark.parametrize("status", [GroupStatus.FINISHED, GroupStatus.CANCELLED])
def test_a_finished_or_cancelled_group_takes_no_students(desk, status):
    group = GroupFactory(status=status)

    with pytest.raises(ValidationError, match="takes no students"):
        services.enroll_client(ClientFactory(), group, by=desk)

    assert not Enrollment.objects.exists()
    assert not WaitlistEntry.objects.exists()


def test_a_client_who_left_is_reactivated_when_there_is_room(desk):
    left = EnrollmentFactory(status=EnrollmentStatus.LEFT, end_date=START)

    back = services.enroll_client(left.client, left.group, by=desk)

    assert back.pk == left.pk
    assert (back.status, back.end_date) == (EnrollmentStatus.ACTIVE, None)


def test_paused_students_hold_places_and_those_who_left_do_not():
    group = GroupFactory(capacity=5)
    EnrollmentFactory(group=group)
    EnrollmentFactory(group=group, status=EnrollmentStatus.PAUSED)
    EnrollmentFactory(group=group, status=EnrollmentStatus.LEFT, end_date=START)

    assert enrolled_places(group) == 2
    assert free_places(group) == 3


def test_lesson_places_count_enrolments_covering_the_day_and_lesson_bookings(
    lesson_bookings,
):
    group = GroupFactory(capacity=10)
    monday, wednesday = START, START + dt.timedelta(days=2)
    EnrollmentFactory(group=group)
    EnrollmentFactory(group=group, start_date=wednesday)  # starts later
    EnrollmentFactory(group=group, end_date=monday)  # ends after Monday
    lesson_bookings[(group.pk, wednesday)] = 2

    assert lesson_places_taken(group, monday) == 2
    assert lesson_places_taken(group, wednesday) == 2 + 2


# --- Leaving and the waitlist ---------------------------------------------------------


def test_leaving_enrols_the_first_waiting_client(desk, settings):
    settings.SCHEDULING_WAITLIST_AUTO_ENROLL = True
    group = full_group(capacity=2)
    leaving = group.enrollments.first()
    first = WaitlistEntryFactory(group=group)
    second = WaitlistEntryFactory(group=group)

    result = services.leave_enrollment(leaving, by=desk)

    leaving.refresh_from_db()
    assert leaving.status == EnrollmentStatus.LEFT
    assert leaving.end_date == max(timezone.localdate(), leaving.start_date)
    assert [e.pk for e in result.promoted] == [first.pk]
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == WaitlistStatus.ENROLLED
    assert first.enrolled_at is not None
    assert second.status == WaitlistStatus.WAITING
    promoted = Enrollment.objects.get(group=group, client=first.client)
    assert (promoted.status, promoted.enrolled_by) == (EnrollmentStatus.ACTIVE, desk)
    assert enrolled_places(group) == 2


def test_without_auto_enrolment_the_first_waiting_client_is_offered_the_place(
    desk, settings
):
    settings.SCHEDULING_WAITLIST_AUTO_ENROLL = False
    group = full_group(capacity=2)
    first = WaitlistEntryFactory(group=group)

    result = services.leave_enrollment(group.enrollments.first(), by=desk)

    first.refresh_from_db()
    assert [e.pk for e in result.promoted] == [first.pk]
    assert first.status == WaitlistStatus.OFFERED
    assert first.offered_at is not None
    assert not Enrollment.objects.filter(client=first.client).exists()
    # The offered place is kept: a newcomer goes to the waitlist.
    newcomer = services.enroll_client(ClientFactory(), group, by=desk)
    assert isinstance(newcomer, WaitlistEntry)


def test_accepting_an_offer_enrols_the_client_into_the_kept_place(desk, settings):
    settings.SCHEDULING_WAITLIST_AUTO_ENROLL = False
    group = full_group(capacity=2)
    entry = WaitlistEntryFactory(group=group)
    services.leave_enrollment(group.enrollments.first(), by=desk)

    enrollment = services.accept_waitlist_offer(entry, by=desk)
    again = services.accept_waitlist_offer(entry, by=desk)

    entry.refresh_from_db()
    assert entry.status == WaitlistStatus.ENROLLED
    assert enrollment.status == EnrollmentStatus.ACTIVE
    assert again.pk == enrollment.pk
    assert enrolled_places(group) == 2


def test_a_client_offered_a_place_takes_it_by_enrolling(desk, settings):
    settings.SCHEDULING_WAITLIST_AUTO_ENROLL = False
    group = full_group(capacity=1)
    entry = WaitlistEntryFactory(group=group)
    services.leave_enrollment(group.enrollments.first(), by=desk)

    enrollment = services.enroll_client(entry.client, group, by=desk)

    assert isinstance(enrollment, Enrollment)
    entry.refresh_from_db()
    assert entry.status == WaitlistStatus.ENROLLED


def test_withdrawing_an_offer_passes_the_place_to_the_next_client(desk, settings):
    settings.SCHEDULING_WAITLIST_AUTO_ENROLL = False
    group = full_group(capacity=1)
    first = WaitlistEntryFactory(group=group)
    second = WaitlistEntryFactory(group=group)
    services.leave_enrollment(group.enrollments.first(), by=desk)

    result = services.withdraw_waitlist_entry(first, by=desk)

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == WaitlistStatus.WITHDRAWN
    assert [e.pk for e in result.promoted] == [second.pk]
    assert second.status == WaitlistStatus.OFFERED


def test_withdrawing_a_waiting_client_changes_no_one_else(desk):
    group = full_group(capacity=1)
    first = WaitlistEntryFactory(group=group)
    second = WaitlistEntryFactory(group=group)

    result = services.withdraw_waitlist_entry(first, by=desk)
    again = services.withdraw_waitlist_entry(first, by=desk)

    assert result.promoted == [] and again.promoted == []
    second.refresh_from_db()
    assert second.status == WaitlistStatus.WAITING


def test_an_enrolled_entry_cannot_be_withdrawn(desk):
    entry = WaitlistEntryFactory(status=WaitlistStatus.ENROLLED)

    with pytest.raises(ValidationError, match="enrolled already"):
        services.withdraw_waitlist_entry(entry, by=desk)


def test_enrolling_now_from_the_waitlist_needs_a_free_place(desk):
    group = full_group(capacity=1)
    entry = WaitlistEntryFactory(group=group)

    with pytest.raises(services.GroupFull):
        services.accept_waitlist_offer(entry, by=desk)

    entry.refresh_from_db()
    assert entry.status == WaitlistStatus.WAITING


def test_offering_a_place_needs_a_free_one(desk):
    group = GroupFactory(capacity=1)
    waiting = WaitlistEntryFactory(group=group)

    offered = services.offer_waitlist_place(waiting, by=desk)
    second = WaitlistEntryFactory(group=group)

    assert offered.status == WaitlistStatus.OFFERED
    with pytest.raises(services.GroupFull):
        services.offer_waitlist_place(second, by=desk)


def test_waitlisting_a_group_with_free_places_is_refused(desk):
    group = GroupFactory(capacity=2)

    with pytest.raises(ValidationError, match="free places"):
        services.add_to_waitlist(ClientFactory(), group, by=desk)


def test_pausing_keeps_the_place_so_nobody_is_promoted(desk):
    group = full_group(capacity=1)
    entry = WaitlistEntryFactory(group=group)

    result = services.pause_enrollment(group.enrollments.get(), by=desk)

    assert result.promoted == []
    assert result.subject.status == EnrollmentStatus.PAUSED
    entry.refresh_from_db()
    assert entry.status == WaitlistStatus.WAITING


def test_leaving_twice_is_harmless(desk):
    group = full_group(capacity=1)
    enrollment = group.enrollments.get()
    WaitlistEntryFactory(group=group)
    services.leave_enrollment(enrollment, by=desk)

    again = services.leave_enrollment(enrollment, by=desk)

    assert again.promoted == []
    assert Enrollment.objects.filter(group=group).count() == 2


def test_coming_back_into_a_full_group_is_refused(desk):
    group = full_group(capacity=1)
    left = EnrollmentFactory(group=group, status=EnrollmentStatus.LEFT, end_date=START)

    with pytest.raises(services.GroupFull):
        services.reactivate_enrollment(left, by=desk)

    left.refresh_from_db()
    assert left.status == EnrollmentStatus.LEFT


def test_raising_the_capacity_enrols_as_many_waiting_clients(desk):
    group = full_group(capacity=2)
    waiting = WaitlistEntryFactory.create_batch(3, group=group)

    group.capacity = 4
    result = services.save_group(group, by=desk)

    assert [e.pk for e in result.promoted] == [w.pk for w in waiting[:2]]
    assert enrolled_places(group) == 4
    statuses = [WaitlistEntry.objects.get(pk=w.pk).status for w in waiting]
    assert statuses == ["enrolled", "enrolled", "waiting"]


def test_the_capacity_cannot_drop_below_the_places_held(desk):
    group = full_group(capacity=3)

    group.capacity = 2
    with pytest.raises(ValidationError) as caught:
        services.save_group(group, by=desk)

    assert "capacity" in caught.value.message_dict
    group.refresh_from_db()
    assert group.capacity == 3


# --- Attendance -----------------------------------------------------------------------


@pytest.fixture
def past_enrollment():
    """An enrolment in a Monday/Wednesday/Friday group running since 8 weeks ago."""
    today = timezone.localdate()
    monday = today - dt.timedelta(days=today.weekday() + 56)
    group = GroupFactory(start_date=monday, end_date=monday + dt.timedelta(days=200))
    return EnrollmentFactory(group=group, start_date=monday)


def test_marking_a_lesson_twice_keeps_one_row_with_the_last_mark(desk, past_enrollment):
    monday = past_enrollment.start_date

    services.mark_attendance(past_enrollment, monday, "absent", by=desk)
    mark = services.mark_attendance(past_enrollment, monday, "present", by=desk)

    assert Attendance.objects.get() == mark
    assert (mark.status, mark.marked_by, mark.lesson_date) == ("present", desk, monday)


def test_a_day_without_a_lesson_cannot_be_marked(desk, past_enrollment):
    tuesday = past_enrollment.start_date + dt.timedelta(days=1)

    with pytest.raises(ValidationError, match="has no lesson on"):
        services.mark_attendance(past_enrollment, tuesday, "present", by=desk)

    assert not Attendance.objects.exists()


def test_a_lesson_outside_the_enrolment_cannot_be_marked(desk, past_enrollment):
    monday = past_enrollment.start_date
    past_enrollment.start_date = monday + dt.timedelta(days=7)
    past_enrollment.save()

    with pytest.raises(ValidationError, match="was not enrolled on"):
        services.mark_attendance(past_enrollment, monday, "present", by=desk)


def test_a_future_lesson_takes_only_an_excused_absence(desk, past_enrollment):
    group = past_enrollment.group
    later = group.lesson_dates(
        timezone.localdate() + dt.timedelta(days=1), group.end_date
    )[0]

    with pytest.raises(ValidationError, match="has not begun"):
        services.mark_attendance(past_enrollment, later, "present", by=desk)
    excused = services.mark_attendance(past_enrollment, later, "excused", by=desk)

    assert excused.status == AttendanceStatus.EXCUSED


def test_attendance_rate_is_present_over_present_and_absent(desk, past_enrollment):
    lessons = past_enrollment.group.lesson_dates(
        past_enrollment.start_date, past_enrollment.start_date + dt.timedelta(days=13)
    )
    marks = ["present", "present", "present", "absent", "excused", "excused"]
    assert attendance_rate(past_enrollment) is None
    for day, status in zip(lessons, marks, strict=True):
        services.mark_attendance(past_enrollment, day, status, by=desk)

    assert attendance_rate(past_enrollment) == 75.0  # 3 of 4; excused not counted


# --- Room clashes ---------------------------------------------------------------------


def unsaved_group(room, **fields):
    values = {
        "course": GroupFactory.build().course,
        "name": "New group",
        "day_pattern": DayPattern.MON_WED_FRI,
        "start_time": dt.time(18, 0),
        "end_time": dt.time(19, 0),
        "room": room,
        "capacity": 10,
        "start_date": START,
        "end_date": START + dt.timedelta(days=365),
        "status": GroupStatus.PLANNED,
    }
    values.update(fields)
    group = GroupFactory.build(**values)
    group.course.save()
    group.course_id = group.course.pk
    return group


def test_overlapping_times_on_a_shared_day_clash_from_the_first_shared_lesson():
    room = RoomFactory()
    other = GroupFactory(
        room=room,
        day_pattern=DayPattern.WED,
        start_time=dt.time(18, 30),
        end_time=dt.time(19, 30),
        start_date=START + dt.timedelta(days=3),  # Thursday: its first Wednesday is
    )  # the 16th
    group = unsaved_group(room)

    assert services.room_clashes(group) == [(other, D(2030, 1, 16))]


def test_touching_times_do_not_clash():
    room = RoomFactory()
    GroupFactory(room=room, start_time=dt.time(19, 0), end_time=dt.time(20, 0))
    GroupFactory(room=room, start_time=dt.time(17, 0), end_time=dt.time(18, 0))

    assert services.room_clashes(unsaved_group(room)) == []


def test_odd_and_even_day_groups_never_clash():
    room = RoomFactory()
    GroupFactory(room=room, day_pattern=DayPattern.EVEN_DAYS)

    group = unsaved_group(room, day_pattern=DayPattern.ODD_DAYS)

    assert services.room_clashes(group) == []


def test_odd_days_clash_with_a_weekday_group_on_its_first_odd_weekday():
    room = RoomFactory()
    other = GroupFactory(room=room, day_pattern=DayPattern.TUE)  # from Mon Jan 7

    group = unsaved_group(room, day_pattern=DayPattern.ODD_DAYS)

    # Tuesdays: Jan 8, 15 (odd), ...
    assert services.room_clashes(group) == [(other, D(2030, 1, 15))]


def test_groups_on_different_weekdays_rooms_or_dates_do_not_clash():
    room = RoomFactory()
    GroupFactory(room=room, day_pattern=DayPattern.TUE_THU)
    GroupFactory(room=RoomFactory())  # same days and times, another room
    GroupFactory(
        room=room,
        start_date=START - dt.timedelta(days=100),
        end_date=START - dt.timedelta(days=1),
    )
    GroupFactory(room=room, status=GroupStatus.FINISHED)

    assert services.room_clashes(unsaved_group(room)) == []


def test_a_year_long_group_against_many_is_settled_in_a_few_queries(
    django_assert_max_num_queries,
):
    room = RoomFactory()
    for hour in range(8, 18):
        GroupFactory(
            room=room,
            day_pattern=DayPattern.TUE_THU,
            start_time=dt.time(hour, 0),
            end_time=dt.time(hour + 1, 0),
            end_date=START + dt.timedelta(days=365),
        )
    group = unsaved_group(
        room,
        day_pattern=DayPattern.ODD_DAYS,
        start_time=dt.time(8, 0),
        end_time=dt.time(18, 0),
    )

    with django_assert_max_num_queries(1):
        clashes = services.room_clashes(group)

    assert len(clashes) == 10
    assert {day for _other, day in clashes} == {D(2030, 1, 15)}  # Tuesday the 15th


def test_saving_a_clashing_group_is_refused_with_the_group_and_date(desk):
    room = RoomFactory(name="Studio A")
    other = GroupFactory(room=room, name="Evening", day_pattern=DayPattern.WED)
    group = unsaved_group(room)

    with pytest.raises(ValidationError) as caught:
        services.save_group(group, by=desk)

    assert caught.value.message_dict["room"] == [
        f"Room Studio A already holds group {other} on 2030-01-09 at 18:00–19:00."
    ]
    assert group.pk is None


def test_saving_a_group_above_the_rooms_capacity_is_refused(desk):
    group = unsaved_group(RoomFactory(capacity=8), capacity=9)

    with pytest.raises(ValidationError) as caught:
        services.save_group(group, by=desk)

    assert "capacity" in caught.value.message_dict


# --- Room occupancy -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("percent", "full", "colour"),
    [
        (0, False, GREEN),
        (49.9, False, GREEN),
        (50, False, ORANGE),
        (79.9, False, ORANGE),
        (80, False, RED),
        (100, True, RED),
        (40, True, RED),  # full (a tiny group) is red whatever the percent
    ],
)
def test_occupancy_colours(percent, full, colour):
    assert occupancy_colour(percent, full=full) == colour


def test_refreshing_occupancy_writes_one_row_per_lesson_with_places_and_colour(
    lesson_bookings,
):
    group = GroupFactory(capacity=10)  # Monday, Wednesday, Friday from START
    for _ in range(4):
        EnrollmentFactory(group=group)
    EnrollmentFactory(group=group, status=EnrollmentStatus.PAUSED)
    EnrollmentFactory(group=group, status=EnrollmentStatus.LEFT, end_date=START)
    EnrollmentFactory(group=group, start_date=START + dt.timedelta(days=4))  # Fri
    lesson_bookings[(group.pk, START + dt.timedelta(days=2))] = 3  # Wednesday

    written = services.refresh_room_occupancy(
        start=START, end=START + dt.timedelta(days=6)
    )

    assert written == 3
    rows = {
        r.date: r for r in RoomOccupancy.objects.filter(group=group).order_by("date")
    }
    monday, wednesday, friday = (START + dt.timedelta(days=d) for d in (0, 2, 4))
    assert list(rows) == [monday, wednesday, friday]
    assert (rows[monday].taken, rows[monday].percent) == (5, Decimal("50.0"))
    assert rows[monday].colour == ORANGE
    assert (rows[wednesday].taken, rows[wednesday].colour) == (8, RED)
    assert (rows[friday].taken, rows[friday].colour) == (6, ORANGE)
    assert rows[monday].room_id == group.room_id
    assert (rows[monday].start_time, rows[monday].end_time) == (
        dt.time(18),
        dt.time(19),
    )


def test_a_quiet_group_is_green():
    group = GroupFactory(capacity=10)
    EnrollmentFactory(group=group)

    services.refresh_room_occupancy(start=START, end=START)

    row = RoomOccupancy.objects.get()
    assert (row.taken, row.percent, row.colour) == (1, Decimal("10.0"), GREEN)


def test_refreshing_again_changes_nothing_and_drops_stale_slots():
    group = GroupFactory()
    other = GroupFactory(day_pattern=DayPattern.TUE_THU)
    week = {"start": START, "end": START + dt.timedelta(days=6)}
    services.refresh_room_occupancy(**week)
    before = list(RoomOccupancy.objects.values_list("pk", "taken").order_by("pk"))

    services.refresh_room_occupancy(**week)

    assert list(RoomOccupancy.objects.values_list("pk", "taken").order_by("pk")) == (
        before
    )
    # A retimed group's old slots go; a cancelled group's slots go.
    group.start_time, group.end_time = dt.time(9), dt.time(10)
    group.save()
    other.status = GroupStatus.CANCELLED
    other.save()
    services.refresh_room_occupancy(**week)
    assert set(RoomOccupancy.objects.values_list("group_id", "start_time")) == {
        (group.pk, dt.time(9))
    }
    assert RoomOccupancy.objects.count() == 3


def test_refreshing_one_group_leaves_the_other_rows_alone():
    group = GroupFactory()
    other = GroupFactory(room=RoomFactory())
    week = {"start": START, "end": START + dt.timedelta(days=6)}
    services.refresh_room_occupancy(**week)
    EnrollmentFactory(group=group)
    EnrollmentFactory(group=other)

    services.refresh_room_occupancy(group_ids=[group.pk], **week)

    assert set(
        RoomOccupancy.objects.filter(group=group).values_list("taken", flat=True)
    ) == {1}
    assert set(
        RoomOccupancy.objects.filter(group=other).values_list("taken", flat=True)
    ) == {0}


def test_an_enrolment_refreshes_the_groups_occupancy_after_commit(
    desk, django_capture_on_commit_callbacks
):
    today = timezone.localdate()
    monday = today - dt.timedelta(days=today.weekday())
    group = GroupFactory(
        day_pattern=DayPattern.CUSTOM,
        weekdays="1,2,3,4,5,6,7",
        start_date=monday,
        end_date=today + dt.timedelta(days=60),
        capacity=4,
    )

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.enroll_client(ClientFactory(), group, by=desk)

    assert len(callbacks) == 1
    rows = RoomOccupancy.objects.filter(group=group)
    # Every lesson of SCHEDULING_OCCUPANCY_WEEKS (4) weeks from this Monday, each
    # with the one student, who is enrolled from today.
    assert rows.count() == 28
    assert min(rows.values_list("date", flat=True)) == monday
    assert set(rows.filter(date__gte=today).values_list("taken", "percent")) == {
        (1, Decimal("25.0"))
    }
    assert set(rows.filter(date__lt=today).values_list("taken", flat=True)) <= {0}


def test_a_failed_enrolment_queues_nothing(desk, django_capture_on_commit_callbacks):
    group = full_group(capacity=1)

    with django_capture_on_commit_callbacks() as callbacks:
        with pytest.raises(services.GroupFull):
            services.enroll_client(
                ClientFactory(), group, by=desk, waitlist_if_full=False
            )

    assert callbacks == []


def test_an_enrolment_never_starts_before_the_groups_first_day(desk):
    group = GroupFactory()

    enrollment = services.enroll_client(
        ClientFactory(), group, by=desk, start_date=START - dt.timedelta(days=30)
    )

    assert enrollment.start_date == START


def test_an_enrolment_starting_after_the_group_ends_is_refused(desk):
    group = GroupFactory()

    with pytest.raises(ValidationError, match="ends on"):
        services.enroll_client(
            ClientFactory(), group, by=desk, start_date=group.end_date + dt.timedelta(1)
        )

    assert not Enrollment.objects.exists()
