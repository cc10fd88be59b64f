import datetime as dt

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from clients.models import Client
from crm_project.models import TimeStamped, staff_field

from .patterns import DayPattern, pattern_matches

# Occupancy colours, as the group and room badges show them.
GREEN, ORANGE, RED = "green", "orange", "red"


def occupancy_colour(percent: float, *, full: bool = False) -> str:
    """Green below 50 %, orange from 50 % to below 80 %, red from 80 % or when full."""
    if full or percent >= 80:
        return RED
    if percent >= 50:
        return ORANGE
    return GREEN


def occupancy_percent(taken: int, capacity: int) -> float:
    if capacity <= 0:
        return 100.0
    return round(100.0 * taken / capacity, 1)


class Course(TimeStamped):
    name = models.CharField(_("name"), max_length=150, unique=True)
    description = models.TextField(_("description"), blank=True)
    teacher = staff_field(_("teacher"), related_name="courses_taught")
    price = models.DecimalField(
        _("price"),
        max_digits=10,
        decimal_places=2,
        validators=[MinValueValidator(0)],
        help_text=_("Monthly price of the course."),
    )
    lesson_minutes = models.PositiveSmallIntegerField(
        _("lesson duration (minutes)"), default=60, validators=[MinValueValidator(5)]
    )
    lessons_per_week = models.PositiveSmallIntegerField(
        _("lessons per week"), default=2, validators=[MinValueValidator(1)]
    )
    default_capacity = models.PositiveSmallIntegerField(
        _("default capacity"), default=10, validators=[MinValueValidator(1)]
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("course")
        verbose_name_plural = _("courses")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(price__gte=0), name="course_price_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Room(TimeStamped):
    name = models.CharField(_("name"), max_length=100, unique=True)
    capacity = models.PositiveSmallIntegerField(
        _("capacity"), validators=[MinValueValidator(1)]
    )
    location = models.CharField(_("location"), max_length=200, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("room")
        verbose_name_plural = _("rooms")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(capacity__gte=1), name="room_capacity_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class GroupStatus(models.TextChoices):
    # Contexts: Spanish labels agree with "grupo" (masculine).
    PLANNED = "planned", pgettext_lazy("group status", "Planned")
    ACTIVE = "active", pgettext_lazy("group status", "Active")
    FINISHED = "finished", pgettext_lazy("group status", "Finished")
    CANCELLED = "cancelled", pgettext_lazy("group status", "Cancelled")


# Groups whose lessons take a room and places.
RUNNING_GROUP_STATUSES = frozenset({GroupStatus.PLANNED, GroupStatus.ACTIVE})


class GroupQuerySet(models.QuerySet):
    def running(self):
        return self.filter(status__in=RUNNING_GROUP_STATUSES)

    def in_room(self, room):
        return self.filter(room=room)


class Group(TimeStamped):
    """A course taught to a set of students on a day pattern, in one room.

    ``weekdays`` is used only by the ``custom`` pattern: the ISO weekday numbers
    (Monday = 1) as a comma-separated string, e.g. ``"2,4,6"``.
    """

    course = models.ForeignKey(
        Course,
        verbose_name=_("course"),
        on_delete=models.PROTECT,
        related_name="groups",
    )
    name = models.CharField(_("name"), max_length=150)
    day_pattern = models.CharField(
        _("day pattern"), max_length=20, choices=DayPattern.choices
    )
    weekdays = models.CharField(
        _("weekdays"),
        max_length=20,
        blank=True,
        help_text=_("For 'chosen weekdays' only: ISO numbers, Monday = 1, e.g. 2,4,6."),
    )
    start_time = models.TimeField(_("start time"))
    end_time = models.TimeField(_("end time"))
    room = models.ForeignKey(
        Room,
        verbose_name=_("room"),
        on_delete=models.PROTECT,
        related_name="groups",
    )
    teacher = staff_field(_("teacher"), related_name="groups_taught")
    capacity = models.PositiveSmallIntegerField(
        _("capacity"), validators=[MinValueValidator(1)]
    )
    start_date = models.DateField(_("start date"))
    end_date = models.DateField(_("end date"))
    status = models.CharField(
        _("status"),
        max_length=12,
        choices=GroupStatus.choices,
        default=GroupStatus.PLANNED,
        db_index=True,
    )

    objects = GroupQuerySet.as_manager()

    class Meta:
        verbose_name = _("group")
        verbose_name_plural = _("groups")
        ordering = ["course__name", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["course", "name"], name="group_unique_name_per_course"
            ),
            models.CheckConstraint(
                condition=Q(end_time__gt=F("start_time")),
                name="group_ends_after_start",
            ),
            models.CheckConstraint(
                condition=Q(end_date__gte=F("start_date")),
                name="group_end_date_not_before_start",
            ),
            models.CheckConstraint(
                condition=Q(capacity__gte=1), name="group_capacity_positive"
            ),
        ]
        indexes = [models.Index(fields=["room", "start_date", "end_date"])]

    def __str__(self) -> str:
        return f"{self.course} · {self.name}"

    def clean(self) -> None:
        errors = {}
        if self.start_time and self.end_time and self.end_time <= self.start_time:
            errors["end_time"] = _("The lesson must end after it starts.")
        if self.start_date and self.end_date and self.end_date < self.start_date:
            errors["end_date"] = _("The group cannot end before it starts.")
        if self.room_id and self.capacity and self.capacity > self.room.capacity:
            errors["capacity"] = _(
                "The room %(room)s holds %(max)d; the group cannot take more."
            ) % {"room": self.room, "max": self.room.capacity}
        if self.day_pattern == DayPattern.CUSTOM:
            try:
                days = self.weekday_numbers()
            except ValueError:
                days = None
            if not days:
                errors["weekdays"] = _(
                    "Choose at least one weekday (1 = Monday to 7 = Sunday) for "
                    "the 'chosen weekdays' pattern."
                )
        if errors:
            raise ValidationError(errors)

    def weekday_numbers(self) -> frozenset[int]:
        """ISO weekdays of a custom pattern; ValueError when malformed."""
        days = frozenset(
            int(part) for part in self.weekdays.replace(" ", "").split(",") if part
        )
        if any(day < 1 or day > 7 for day in days):
            raise ValueError(self.weekdays)
        return days

    def has_lesson_on(self, day: dt.date) -> bool:
        if not (self.start_date <= day <= self.end_date):
            return False
        custom = (
            self.weekday_numbers() if self.day_pattern == DayPattern.CUSTOM else None
        )
        return pattern_matches(self.day_pattern, day, custom)

    def lesson_dates(self, start: dt.date, end: dt.date) -> list[dt.date]:
        """The group's lesson dates within [start, end], both included.

        Dates are calendar dates in the business time zone (settings.TIME_ZONE).
        """
        first, last = max(start, self.start_date), min(end, self.end_date)
        custom = (
            self.weekday_numbers() if self.day_pattern == DayPattern.CUSTOM else None
        )
        days = []
        day = first
        while day <= last:
            if pattern_matches(self.day_pattern, day, custom):
                days.append(day)
            day += dt.timedelta(days=1)
        return days

    def lesson_start(self, day: dt.date) -> dt.datetime:
        """The aware start of the lesson on ``day``, in the business time zone."""
        return timezone.make_aware(
            dt.datetime.combine(day, self.start_time),
            timezone.get_default_timezone(),
        )

    def lesson_end(self, day: dt.date) -> dt.datetime:
        return timezone.make_aware(
            dt.datetime.combine(day, self.end_time),
            timezone.get_default_timezone(),
        )


class EnrollmentStatus(models.TextChoices):
    # Contexts: Spanish labels agree with "inscripción" (feminine); "Left" is the
    # student leaving, not the sessions left on a package.
    ACTIVE = "active", pgettext_lazy("enrollment status", "Active")
    PAUSED = "paused", pgettext_lazy("enrollment status", "Paused")
    LEFT = "left", pgettext_lazy("enrollment status", "Left")


# Enrolments that keep a place in the group: a paused student comes back to it.
PLACE_HOLDING_STATUSES = frozenset({EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED})


class Enrollment(TimeStamped):
    client = models.ForeignKey(
        Client,
        verbose_name=_("client"),
        on_delete=models.PROTECT,
        related_name="enrollments",
    )
    group = models.ForeignKey(
        Group,
        verbose_name=_("group"),
        on_delete=models.PROTECT,
        related_name="enrollments",
    )
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=EnrollmentStatus.choices,
        default=EnrollmentStatus.ACTIVE,
    )
    start_date = models.DateField(_("start date"))
    end_date = models.DateField(_("end date"), null=True, blank=True)
    enrolled_by = staff_field(_("enrolled by"))

    class Meta:
        verbose_name = _("enrollment")
        verbose_name_plural = _("enrollments")
        ordering = ["-start_date"]
        constraints = [
            # One place per client per group: re-joining reactivates the enrolment.
            models.UniqueConstraint(
                fields=["group", "client"], name="enrollment_one_per_client_group"
            ),
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=F("start_date")),
                name="enrollment_end_not_before_start",
            ),
        ]
        indexes = [models.Index(fields=["group", "status"])]

    def __str__(self) -> str:
        return f"{self.client} → {self.group}"


class WaitlistStatus(models.TextChoices):
    WAITING = "waiting", _("Waiting")
    OFFERED = "offered", _("Place offered")
    ENROLLED = "enrolled", _("Enrolled")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class WaitlistEntry(TimeStamped):
    """A client waiting for a place in a full group; first come, first served."""

    client = models.ForeignKey(
        Client,
        verbose_name=_("client"),
        on_delete=models.CASCADE,
        related_name="waitlist_entries",
    )
    group = models.ForeignKey(
        Group,
        verbose_name=_("group"),
        on_delete=models.CASCADE,
        related_name="waitlist",
    )
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=WaitlistStatus.choices,
        default=WaitlistStatus.WAITING,
    )
    offered_at = models.DateTimeField(_("offered at"), null=True, blank=True)
    enrolled_at = models.DateTimeField(_("enrolled at"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=255, blank=True)
    added_by = staff_field(_("added by"))

    class Meta:
        verbose_name = _("waitlist entry")
        verbose_name_plural = _("waitlist")
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["group", "client"],
                condition=Q(status__in=["waiting", "offered"]),
                name="waitlist_one_open_entry_per_client_group",
            ),
        ]
        indexes = [models.Index(fields=["group", "status", "created_at"])]

    def __str__(self) -> str:
        return f"{self.client} ⏳ {self.group}"


class AttendanceStatus(models.TextChoices):
    PRESENT = "present", _("Present")
    ABSENT = "absent", _("Absent")
    EXCUSED = "excused", _("Excused")


class Attendance(TimeStamped):
    enrollment = models.ForeignKey(
        Enrollment,
        verbose_name=_("enrollment"),
        on_delete=models.CASCADE,
        related_name="attendance",
    )
    lesson_date = models.DateField(_("lesson date"))
    status = models.CharField(
        _("status"), max_length=10, choices=AttendanceStatus.choices
    )
    marked_by = staff_field(_("marked by"))

    class Meta:
        verbose_name = _("attendance")
        verbose_name_plural = _("attendance")
        ordering = ["-lesson_date"]
        constraints = [
            models.UniqueConstraint(
                fields=["enrollment", "lesson_date"],
                name="attendance_one_mark_per_lesson",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.enrollment} {self.lesson_date}: {self.get_status_display()}"


class RoomOccupancy(models.Model):
    """One lesson slot of a room on a date: what it holds and how full it is.

    Kept by ``scheduling.services.refresh_room_occupancy`` (a beat job over the coming
    weeks, and on every enrolment or trial change); the rows are derived and may be
    rebuilt at any time.
    """

    room = models.ForeignKey(
        Room, verbose_name=_("room"), on_delete=models.CASCADE, related_name="occupancy"
    )
    date = models.DateField(_("date"))
    start_time = models.TimeField(_("start time"))
    end_time = models.TimeField(_("end time"))
    group = models.ForeignKey(
        Group,
        verbose_name=_("group"),
        on_delete=models.CASCADE,
        related_name="occupancy",
    )
    capacity = models.PositiveSmallIntegerField(_("capacity"))
    taken = models.PositiveSmallIntegerField(
        _("taken"), help_text=_("Enrolled students plus trial students that day.")
    )
    percent = models.DecimalField(_("occupancy %"), max_digits=5, decimal_places=1)
    refreshed_at = models.DateTimeField(_("refreshed at"), auto_now=True)

    class Meta:
        verbose_name = _("room occupancy")
        verbose_name_plural = _("room occupancy")
        ordering = ["date", "start_time", "room__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["room", "date", "start_time", "group"],
                name="room_occupancy_one_row_per_slot",
            ),
        ]
        indexes = [models.Index(fields=["date", "room"])]

    def __str__(self) -> str:
        return f"{self.room} {self.date} {self.start_time:%H:%M}"

    @property
    def colour(self) -> str:
        return occupancy_colour(float(self.percent), full=self.taken >= self.capacity)
