"""Day patterns: the real lesson dates across month ends and DST changes."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from scheduling.models import Group
from scheduling.patterns import DayPattern, first_common_day, pattern_matches

D = dt.date


def group(pattern: str, start: dt.date, end: dt.date, weekdays: str = "", **times):
    """An unsaved group: patterns and dates need no database."""
    return Group(
        day_pattern=pattern,
        weekdays=weekdays,
        start_date=start,
        end_date=end,
        start_time=times.get("start_time", dt.time(18, 0)),
        end_time=times.get("end_time", dt.time(19, 0)),
    )


def test_odd_days_meet_on_the_31st_and_again_on_the_1st():
    odd = group(DayPattern.ODD_DAYS, D(2027, 1, 29), D(2027, 2, 3))

    assert odd.lesson_dates(D(2027, 1, 1), D(2027, 12, 31)) == [
        D(2027, 1, 29),
        D(2027, 1, 31),
        D(2027, 2, 1),
        D(2027, 2, 3),
    ]


def test_even_days_skip_from_the_30th_to_the_2nd_in_a_31_day_month():
    even = group(DayPattern.EVEN_DAYS, D(2027, 3, 28), D(2027, 4, 4))

    assert even.lesson_dates(D(2027, 3, 1), D(2027, 4, 30)) == [
        D(2027, 3, 28),
        D(2027, 3, 30),
        D(2027, 4, 2),
        D(2027, 4, 4),
    ]


def test_february_28_is_followed_by_march_1_in_a_common_year():
    odd = group(DayPattern.ODD_DAYS, D(2027, 2, 25), D(2027, 3, 3))
    even = group(DayPattern.EVEN_DAYS, D(2027, 2, 25), D(2027, 3, 3))

    assert odd.lesson_dates(D(2027, 2, 25), D(2027, 3, 3)) == [
        D(2027, 2, 25),
        D(2027, 2, 27),
        D(2027, 3, 1),
        D(2027, 3, 3),
    ]
    assert even.lesson_dates(D(2027, 2, 25), D(2027, 3, 3)) == [
        D(2027, 2, 26),
        D(2027, 2, 28),
        D(2027, 3, 2),
    ]


def test_february_29_is_an_odd_day_in_a_leap_year():
    odd = group(DayPattern.ODD_DAYS, D(2028, 2, 26), D(2028, 3, 2))

    assert odd.lesson_dates(D(2028, 2, 1), D(2028, 3, 31)) == [
        D(2028, 2, 27),
        D(2028, 2, 29),
        D(2028, 3, 1),
    ]


def test_mon_wed_fri_and_tue_thu_meet_on_their_weekdays_only():
    week = (D(2026, 11, 23), D(2026, 11, 29))  # Monday to Sunday
    mwf = group(DayPattern.MON_WED_FRI, *week)
    tt = group(DayPattern.TUE_THU, *week)

    assert mwf.lesson_dates(*week) == [
        D(2026, 11, 23),
        D(2026, 11, 25),
        D(2026, 11, 27),
    ]
    assert tt.lesson_dates(*week) == [D(2026, 11, 24), D(2026, 11, 26)]


def test_a_single_weekday_pattern_meets_weekly():
    saturdays = group(DayPattern.SAT, D(2026, 11, 1), D(2026, 11, 30))

    assert saturdays.lesson_dates(D(2026, 11, 1), D(2026, 11, 30)) == [
        D(2026, 11, 7),
        D(2026, 11, 14),
        D(2026, 11, 21),
        D(2026, 11, 28),
    ]


def test_a_custom_set_of_weekdays_meets_on_those_days():
    custom = group(DayPattern.CUSTOM, D(2026, 11, 23), D(2026, 12, 6), weekdays="2,6,7")

    assert custom.lesson_dates(D(2026, 11, 23), D(2026, 12, 6)) == [
        D(2026, 11, 24),
        D(2026, 11, 28),
        D(2026, 11, 29),
        D(2026, 12, 1),
        D(2026, 12, 5),
        D(2026, 12, 6),
    ]


def test_lesson_dates_stay_inside_the_groups_own_dates():
    tt = group(DayPattern.TUE_THU, D(2026, 11, 26), D(2026, 12, 1))

    assert tt.lesson_dates(D(2026, 11, 1), D(2026, 12, 31)) == [
        D(2026, 11, 26),
        D(2026, 12, 1),
    ]
    assert tt.has_lesson_on(D(2026, 11, 26))
    assert not tt.has_lesson_on(D(2026, 11, 24))  # a Tuesday before the start


@pytest.mark.parametrize(
    ("day", "offset_hours"),
    [
        (D(2026, 3, 6), -5),  # Friday before the March change: EST
        (D(2026, 3, 8), -4),  # the change itself (2 AM, a Sunday): EDT by 18:00
        (D(2026, 3, 9), -4),
        (D(2026, 10, 31), -4),  # Saturday before the November change: EDT
        (D(2026, 11, 1), -5),  # the change itself: EST by 18:00
        (D(2026, 11, 2), -5),
    ],
)
def test_a_lesson_at_six_pm_stays_at_six_pm_local_across_dst(
    settings, day, offset_hours
):
    settings.TIME_ZONE = "America/New_York"
    daily = group(DayPattern.ODD_DAYS, D(2026, 1, 1), D(2026, 12, 31))
    daily.day_pattern = "custom"
    daily.weekdays = "1,2,3,4,5,6,7"

    start = daily.lesson_start(day)

    new_york = start.astimezone(ZoneInfo("America/New_York"))
    assert (new_york.date(), new_york.time()) == (day, dt.time(18, 0))
    assert start.utcoffset() == dt.timedelta(hours=offset_hours)
    assert start.astimezone(dt.UTC).hour == 18 - offset_hours
    assert daily.lesson_end(day) - start == dt.timedelta(hours=1)


def test_a_group_running_through_both_dst_changes_keeps_its_lesson_dates_and_hour(
    settings,
):
    settings.TIME_ZONE = "America/New_York"
    sundays = group(DayPattern.SUN, D(2026, 3, 1), D(2026, 11, 8))

    days = sundays.lesson_dates(D(2026, 1, 1), D(2026, 12, 31))

    assert D(2026, 3, 8) in days and D(2026, 11, 1) in days
    assert len(days) == 37  # every Sunday from March 1 to November 8
    assert all(d.isoweekday() == 7 for d in days)
    utc_hours = {sundays.lesson_start(d).astimezone(dt.UTC).hour for d in days}
    assert utc_hours == {22, 23}  # 18:00 EDT and 18:00 EST
    assert sundays.lesson_start(D(2026, 3, 1)).astimezone(dt.UTC).hour == 23
    assert sundays.lesson_start(D(2026, 3, 8)).astimezone(dt.UTC).hour == 22
    assert sundays.lesson_start(D(2026, 11, 1)).astimezone(dt.UTC).hour == 23


def test_odd_and_even_days_never_share_a_date():
    assert (
        first_common_day(
            (DayPattern.ODD_DAYS, None),
            (DayPattern.EVEN_DAYS, None),
            D(2026, 1, 1),
            D(2030, 12, 31),
        )
        is None
    )


def test_odd_days_and_tuesdays_first_meet_on_an_odd_tuesday():
    day = first_common_day(
        (DayPattern.ODD_DAYS, None),
        (DayPattern.TUE, None),
        D(2026, 12, 1),
        D(2027, 1, 31),
    )

    assert day == D(2026, 12, 1)  # Tuesday the 1st
    assert pattern_matches(DayPattern.TUE, day) and day.day % 2 == 1


def test_disjoint_weekday_sets_never_meet():
    assert (
        first_common_day(
            (DayPattern.MON_WED_FRI, None),
            (DayPattern.CUSTOM, frozenset({2, 4, 6})),
            D(2026, 1, 1),
            D(2030, 12, 31),
        )
        is None
    )
