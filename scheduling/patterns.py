"""Day patterns: on which calendar dates a group meets.

Dates are plain calendar dates as the business sees them (settings.TIME_ZONE); a
pattern never looks at a clock, so DST changes cannot move a lesson to another day.
"""

import datetime as dt

from django.db import models
from django.utils.translation import gettext_lazy as _


class DayPattern(models.TextChoices):
    ODD_DAYS = "odd", _("Odd calendar days")
    EVEN_DAYS = "even", _("Even calendar days")
    MON = "mon", _("Mondays")
    TUE = "tue", _("Tuesdays")
    WED = "wed", _("Wednesdays")
    THU = "thu", _("Thursdays")
    FRI = "fri", _("Fridays")
    SAT = "sat", _("Saturdays")
    SUN = "sun", _("Sundays")
    MON_WED_FRI = "mon_wed_fri", _("Monday, Wednesday, Friday")
    TUE_THU = "tue_thu", _("Tuesday, Thursday")
    CUSTOM = "custom", _("Chosen weekdays")


# ISO weekday numbers (Monday = 1) of the fixed weekday patterns.
PATTERN_WEEKDAYS: dict[str, frozenset[int]] = {
    DayPattern.MON: frozenset({1}),
    DayPattern.TUE: frozenset({2}),
    DayPattern.WED: frozenset({3}),
    DayPattern.THU: frozenset({4}),
    DayPattern.FRI: frozenset({5}),
    DayPattern.SAT: frozenset({6}),
    DayPattern.SUN: frozenset({7}),
    DayPattern.MON_WED_FRI: frozenset({1, 3, 5}),
    DayPattern.TUE_THU: frozenset({2, 4}),
}


def pattern_matches(
    pattern: str, day: dt.date, custom_weekdays: frozenset[int] | None = None
) -> bool:
    """Whether a group on ``pattern`` meets on ``day``.

    Odd and even follow the day of the month, so the 31st and the 1st are both odd.
    """
    if pattern == DayPattern.ODD_DAYS:
        return day.day % 2 == 1
    if pattern == DayPattern.EVEN_DAYS:
        return day.day % 2 == 0
    if pattern == DayPattern.CUSTOM:
        return day.isoweekday() in (custom_weekdays or frozenset())
    return day.isoweekday() in PATTERN_WEEKDAYS[pattern]


def pattern_weekdays(
    pattern: str, custom_weekdays: frozenset[int] | None = None
) -> frozenset[int] | None:
    """The ISO weekdays a weekday pattern meets on; None for odd and even days."""
    if pattern == DayPattern.CUSTOM:
        return custom_weekdays or frozenset()
    return PATTERN_WEEKDAYS.get(pattern)


def first_common_day(
    first: tuple[str, frozenset[int] | None],
    second: tuple[str, frozenset[int] | None],
    start: dt.date,
    end: dt.date,
) -> dt.date | None:
    """The first date in [start, end] on which both patterns meet, or None.

    Each pattern is ``(pattern, custom weekdays)``. Two weekday patterns repeat every
    week and two parity patterns every few days, so those are settled in a week's
    scan; a weekday pattern against a parity one is scanned over the range, which
    stops at the first common date.
    """
    weekdays_a = pattern_weekdays(*first)
    weekdays_b = pattern_weekdays(*second)
    if weekdays_a is not None and weekdays_b is not None:
        if not weekdays_a & weekdays_b:
            return None
        end = min(end, start + dt.timedelta(days=6))
    elif weekdays_a is None and weekdays_b is None:
        if first[0] != second[0]:
            return None  # odd and even days never meet
        end = min(end, start + dt.timedelta(days=2))
    day = start
    while day <= end:
        if pattern_matches(first[0], day, first[1]) and pattern_matches(
            second[0], day, second[1]
        ):
            return day
        day += dt.timedelta(days=1)
    return None
