"""Attendance marks: one per enrolment and lesson."""

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import (
    Attendance,
    AttendanceStatus,
    Enrollment,
)


def attendance_problem(
    enrollment: Enrollment, lesson_date: dt.date, status: str
) -> str | None:
    """Why ``status`` cannot be marked for the lesson on ``lesson_date``, or None.

    Shared by :func:`mark_attendance` and the admin forms.
    """
    group = enrollment.group
    if not group.has_lesson_on(lesson_date):
        return _("%(group)s has no lesson on %(date)s.") % {
            "group": group,
            "date": lesson_date.isoformat(),
        }
    if lesson_date < enrollment.start_date or (
        enrollment.end_date is not None and lesson_date > enrollment.end_date
    ):
        return _("%(client)s was not enrolled on %(date)s.") % {
            "client": enrollment.client,
            "date": lesson_date.isoformat(),
        }
    if (
        status != AttendanceStatus.EXCUSED
        and group.lesson_start(lesson_date) > timezone.now()
    ):
        return _(
            "The lesson on %(date)s has not begun; only an excused absence can be "
            "recorded ahead."
        ) % {"date": lesson_date.isoformat()}
    return None


def mark_attendance(
    enrollment: Enrollment, lesson_date: dt.date, status: str, *, by
) -> Attendance:
    """Record whether the student came to the lesson on ``lesson_date``; marking the
    same lesson again replaces the mark (one row per enrolment and lesson).

    The date must be one of the group's lessons within the enrolment's dates.
    Present and absent are for lessons that have begun; an excused absence may be
    recorded ahead. Raises ValidationError otherwise, changing nothing.
    """
    status = AttendanceStatus(status)
    problem = attendance_problem(enrollment, lesson_date, status)
    if problem:
        raise ValidationError(problem, code="invalid_lesson")
    with transaction.atomic():
        attendance, _created = Attendance.objects.update_or_create(
            enrollment=enrollment,
            lesson_date=lesson_date,
            defaults={"status": status, "marked_by": by},
        )
    return attendance
