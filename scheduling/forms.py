"""Admin forms: the scheduling rules as field errors, before the services save."""

import datetime as dt

from django import forms
from django.forms.models import BaseInlineFormSet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import (
    PLACE_HOLDING_STATUSES,
    RUNNING_GROUP_STATUSES,
    Attendance,
    AttendanceStatus,
    Enrollment,
    Group,
    WaitlistEntry,
)
from .patterns import DayPattern
from .selectors import enrolled_places, free_places, offered_places
from .services import attendance_problem, clash_message, room_clashes

WEEKDAY_CHOICES = [
    ("1", _("Monday")),
    ("2", _("Tuesday")),
    ("3", _("Wednesday")),
    ("4", _("Thursday")),
    ("5", _("Friday")),
    ("6", _("Saturday")),
    ("7", _("Sunday")),
]

# The fields whose values decide whether the group's lessons clash in its room.
CLASH_FIELDS = (
    "room",
    "day_pattern",
    "weekdays",
    "start_time",
    "end_time",
    "start_date",
    "end_date",
    "status",
)


class GroupAdminForm(forms.ModelForm):
    """The group's rules as field errors: the model's (times, dates, capacity above
    the room's, chosen weekdays) plus a room clash and a capacity below the places
    already held. ``scheduling.services.save_group`` checks them again under lock."""

    weekdays = forms.MultipleChoiceField(
        label=_("weekdays"),
        choices=WEEKDAY_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("For the 'chosen weekdays' pattern only."),
    )

    class Meta:
        model = Group
        fields = [
            "course",
            "name",
            "status",
            "day_pattern",
            "weekdays",
            "start_time",
            "end_time",
            "room",
            "teacher",
            "capacity",
            "start_date",
            "end_date",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.weekdays and not self.is_bound:
            self.initial["weekdays"] = [
                part.strip() for part in self.instance.weekdays.split(",") if part
            ]

    def clean_weekdays(self) -> str:
        days = sorted(self.cleaned_data.get("weekdays") or [], key=int)
        if self.cleaned_data.get("day_pattern") != DayPattern.CUSTOM:
            return ""  # only the custom pattern reads them
        return ",".join(days)

    def clean(self):
        cleaned = super().clean()
        values = {}
        for name in CLASH_FIELDS:
            if cleaned.get(name) in (None, "") and name != "weekdays":
                return cleaned  # the missing field has its own error
            values[name] = cleaned.get(name)
        candidate = Group(pk=self.instance.pk, **values)
        if (
            candidate.start_time < candidate.end_time
            and candidate.start_date <= candidate.end_date
        ):
            clashes = room_clashes(candidate)
            if clashes:
                self.add_error("room", clash_message(candidate, *clashes[0]))
        capacity = cleaned.get("capacity")
        if self.instance.pk and capacity is not None:
            held = enrolled_places(self.instance) + offered_places(self.instance)
            if capacity < held:
                self.add_error(
                    "capacity",
                    _(
                        "%(count)d places are held (enrolled students and open "
                        "offers); the capacity cannot be lower."
                    )
                    % {"count": held},
                )
        return cleaned


class EnrollmentInlineFormSet(BaseInlineFormSet):
    """New enrolments on the group page must fit in its free places."""

    def clean(self):
        super().clean()
        if any(self.errors) or self.instance.pk is None:
            return
        new = [
            form
            for form in self.extra_forms
            if form.has_changed() and not self._should_delete_form(form)
        ]
        if not new:
            return
        group = Group.objects.get(pk=self.instance.pk)
        if group.status not in RUNNING_GROUP_STATUSES:
            raise forms.ValidationError(
                _("A %(status)s group takes no new students.")
                % {"status": group.get_status_display().lower()}
            )
        places = free_places(group)
        if len(new) > places:
            raise forms.ValidationError(
                _(
                    "The group has %(places)d free places; %(count)d new students "
                    "do not fit. Put the others on the waitlist."
                )
                % {"places": places, "count": len(new)}
            )


class EnrollmentAdminForm(forms.ModelForm):
    """A new enrolment needs a running group with a free place."""

    class Meta:
        model = Enrollment
        fields = ["client", "group", "status", "start_date", "end_date"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "start_date" in self.fields and not self.instance.pk:
            self.fields["start_date"].required = False
            self.fields["start_date"].help_text = _(
                "Empty: today, or the group's first day if it starts later."
            )
        if "status" in self.fields and not self.instance.pk:
            del self.fields["status"]  # a new enrolment is active

    def clean(self):
        cleaned = super().clean()
        group = cleaned.get("group")
        if self.instance.pk or group is None:
            return cleaned
        if group.status not in RUNNING_GROUP_STATUSES:
            self.add_error(
                "group",
                _("A %(status)s group takes no new students.")
                % {"status": group.get_status_display().lower()},
            )
        elif free_places(group) < 1:
            self.add_error(
                "group",
                _(
                    "The group is full (%(capacity)d places). Put the client on "
                    "its waitlist instead."
                )
                % {"capacity": group.capacity},
            )
        return cleaned

    def _post_clean(self):
        # The start date is filled in by the service when left empty.
        if not self.instance.pk and not self.cleaned_data.get("start_date"):
            group = self.cleaned_data.get("group")
            if group is not None:
                self.cleaned_data["start_date"] = max(
                    timezone.localdate(), group.start_date
                )
        super()._post_clean()


class WaitlistEntryAdminForm(forms.ModelForm):
    class Meta:
        model = WaitlistEntry
        fields = ["client", "group", "note"]

    def clean(self):
        cleaned = super().clean()
        group, client = cleaned.get("group"), cleaned.get("client")
        if self.instance.pk or group is None or client is None:
            return cleaned
        if Enrollment.objects.filter(
            group=group, client=client, status__in=PLACE_HOLDING_STATUSES
        ).exists():
            self.add_error(
                "client", _("This client holds a place in the group already.")
            )
        elif group.status not in RUNNING_GROUP_STATUSES:
            self.add_error("group", _("This group takes no students."))
        elif free_places(group) > 0:
            self.add_error(
                "group",
                _("The group has free places: enrol the client instead."),
            )
        return cleaned


class AttendanceAdminForm(forms.ModelForm):
    class Meta:
        model = Attendance
        fields = ["enrollment", "lesson_date", "status"]

    def clean(self):
        cleaned = super().clean()
        enrollment = cleaned.get("enrollment")
        day = cleaned.get("lesson_date")
        status = cleaned.get("status")
        if enrollment and day and status:
            problem = attendance_problem(enrollment, day, status)
            if problem:
                self.add_error("lesson_date", problem)
        return cleaned


class TakeAttendanceForm(forms.Form):
    """One radio row per enrolled student of a lesson (fields ``e<enrolment id>``)."""

    def __init__(self, *args, enrollments, marks: dict[int, str], **kwargs):
        super().__init__(*args, **kwargs)
        self.enrollments = list(enrollments)
        for enrollment in self.enrollments:
            self.fields[f"e{enrollment.pk}"] = forms.ChoiceField(
                label=str(enrollment.client),
                choices=AttendanceStatus.choices,
                required=False,
                widget=forms.RadioSelect,
                initial=marks.get(enrollment.pk),
            )

    def rows(self):
        for enrollment in self.enrollments:
            yield enrollment, self[f"e{enrollment.pk}"]

    def marks(self) -> list[tuple[Enrollment, str]]:
        return [
            (enrollment, self.cleaned_data[f"e{enrollment.pk}"])
            for enrollment in self.enrollments
            if self.cleaned_data.get(f"e{enrollment.pk}")
        ]


class WeekForm(forms.Form):
    week = forms.DateField(label=_("week of"), required=False)

    def monday(self) -> dt.date:
        day = (self.is_valid() and self.cleaned_data.get("week")) or (
            timezone.localdate()
        )
        return day - dt.timedelta(days=day.weekday())
