"""Courses, rooms and groups: occupancy badges, the enrolments inline, attendance."""

import datetime as dt
from collections import Counter

from django.contrib import admin, messages
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from crm_project.admin_tools import (
    ServiceErrorsAsMessagesMixin,
    StaffFilter,
    error_messages,
    report_skipped,
)

from .. import services
from ..forms import EnrollmentInlineFormSet, GroupAdminForm, TakeAttendanceForm
from ..models import (
    PLACE_HOLDING_STATUSES,
    RUNNING_GROUP_STATUSES,
    Attendance,
    Course,
    Enrollment,
    Group,
    Room,
)
from ..selectors import group_fill
from .common import occupancy_badge, report_promotions, scheduling_badge

# How far the attendance page looks for the previous and next lesson.
LESSON_SEARCH_DAYS = 31


def trials_counted() -> bool:
    """Whether the trials app's Trial model (``Group.trials``) is there to count."""
    try:
        Group._meta.get_field("trials")
    except FieldDoesNotExist:
        return False
    return True


@admin.register(Course)
class CourseAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "teacher",
        "price",
        "lesson_minutes",
        "lessons_per_week",
        "default_capacity",
        "group_count",
        "is_active",
    ]
    list_select_related = ["teacher"]
    list_filter = ["is_active", ("teacher", StaffFilter)]
    search_fields = ["name"]
    autocomplete_fields = ["teacher"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                _groups=Count(
                    "groups", filter=Q(groups__status__in=RUNNING_GROUP_STATUSES)
                )
            )
        )

    @admin.display(description=_("running groups"), ordering="_groups")
    def group_count(self, obj):
        return obj._groups


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ["name", "capacity", "location", "group_count", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name", "location"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                _groups=Count(
                    "groups", filter=Q(groups__status__in=RUNNING_GROUP_STATUSES)
                )
            )
        )

    @admin.display(description=_("running groups"), ordering="_groups")
    def group_count(self, obj):
        return obj._groups


class EnrollmentInline(admin.TabularInline):
    """New rows go through enroll_client, status changes through
    change_enrollment_status (see GroupAdmin.save_formset)."""

    model = Enrollment
    formset = EnrollmentInlineFormSet
    extra = 0
    can_delete = False
    fields = ["client", "status", "start_date", "end_date"]
    autocomplete_fields = ["client"]
    verbose_name_plural = _("enrolments")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("client")

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.form.base_fields["start_date"].initial = timezone.localdate
        return formset


@admin.register(Group)
class GroupAdmin(ServiceErrorsAsMessagesMixin, admin.ModelAdmin):
    form = GroupAdminForm
    list_display = [
        "name",
        "course",
        "schedule",
        "room",
        "teacher",
        "places",
        "free_slots",
        "occupancy",
        "status_badge",
        "start_date",
        "end_date",
    ]
    list_select_related = ["course", "room", "teacher"]
    list_filter = [
        "status",
        "course",
        "room",
        ("teacher", StaffFilter),
        "day_pattern",
    ]
    search_fields = ["name", "course__name", "room__name"]
    autocomplete_fields = ["course", "room", "teacher"]
    inlines = [EnrollmentInline]
    list_per_page = 50
    readonly_fields = ["attendance_link", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["course", "name", "status", "teacher"]}),
        (
            _("Lessons"),
            {
                "fields": [
                    "day_pattern",
                    "weekdays",
                    ("start_time", "end_time"),
                    ("start_date", "end_date"),
                    "room",
                    "capacity",
                    "attendance_link",
                ]
            },
        ),
    ]

    def get_queryset(self, request):
        queryset = (
            super()
            .get_queryset(request)
            # The name shows the course, in autocompletes too. Setting any
            # select_related here turns off list_select_related: name them all.
            .select_related(*self.list_select_related)
            .annotate(
                enrolled_count=Count(
                    "enrollments",
                    filter=Q(enrollments__status__in=PLACE_HOLDING_STATUSES),
                    distinct=True,
                )
            )
        )
        if trials_counted():
            queryset = queryset.annotate(
                trial_count=Count(
                    "trials",
                    filter=Q(
                        trials__status="scheduled",
                        trials__lesson_date__gte=timezone.localdate(),
                    ),
                    distinct=True,
                )
            )
        return queryset

    def get_list_display(self, request):
        columns = list(super().get_list_display(request))
        if trials_counted():
            columns.insert(columns.index("occupancy") + 1, "trial_students")
        return columns

    @admin.display(description=_("schedule"), ordering="start_time")
    def schedule(self, obj):
        days = obj.get_day_pattern_display()
        if obj.day_pattern == "custom" and obj.weekdays:
            days = f"{days} ({obj.weekdays})"
        return f"{days} {obj.start_time:%H:%M}–{obj.end_time:%H:%M}"

    @admin.display(description=_("enrolled"), ordering="enrolled_count")
    def places(self, obj):
        return f"{obj.enrolled_count}/{obj.capacity}"

    @admin.display(description=_("free slots"))
    def free_slots(self, obj):
        return max(0, obj.capacity - obj.enrolled_count)

    @admin.display(description=_("occupancy"))
    def occupancy(self, obj):
        percent, colour = group_fill(obj.enrolled_count, obj.capacity)
        return occupancy_badge(percent, colour)

    @admin.display(description=_("trial students"), ordering="trial_count")
    def trial_students(self, obj):
        return getattr(obj, "trial_count", 0)

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj):
        return scheduling_badge(obj.status, obj.get_status_display())

    @admin.display(description=_("attendance"))
    def attendance_link(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        return format_html(
            '<a class="btn btn-sm btn-outline-primary" href="{}">{}</a>',
            reverse("admin:scheduling_group_attendance", args=[obj.pk]),
            gettext("Take attendance"),
        )

    def save_model(self, request, obj, form, change):
        result = services.save_group(obj, by=request.user)
        report_promotions(self, request, result.promoted)

    def save_formset(self, request, form, formset, change):
        if formset.model is not Enrollment:
            return super().save_formset(request, form, formset, change)
        group = form.instance
        formset.save(commit=False)
        for enrollment, fields in formset.changed_objects:
            fields = set(fields) - {"client"}
            status = enrollment.status if "status" in fields else None
            fields.discard("status")
            if fields:
                enrollment.save(update_fields=[*sorted(fields), "updated_at"])
            if status:
                result = services.change_enrollment_status(
                    enrollment, status, by=request.user
                )
                report_promotions(self, request, result.promoted)
        for enrollment in formset.new_objects:
            services.enroll_client(
                enrollment.client,
                group,
                by=request.user,
                start_date=enrollment.start_date,
                waitlist_if_full=False,
            )
        return None

    # --- Taking attendance for one lesson ---------------------------------------------

    def get_urls(self):
        return [
            path(
                "<int:pk>/attendance/",
                self.admin_site.admin_view(self.attendance_view),
                name="scheduling_group_attendance",
            ),
            *super().get_urls(),
        ]

    def _nearest_lesson(self, group: Group, day: dt.date, step: int) -> dt.date | None:
        for offset in range(1, LESSON_SEARCH_DAYS + 1):
            candidate = day + dt.timedelta(days=step * offset)
            if group.has_lesson_on(candidate):
                return candidate
        return None

    def _default_lesson(self, group: Group) -> dt.date:
        today = timezone.localdate()
        if group.has_lesson_on(today):
            return today
        return (
            self._nearest_lesson(group, today, -1)
            or self._nearest_lesson(group, today, 1)
            or group.start_date
        )

    def attendance_view(self, request, pk):
        if not (
            request.user.has_perm("scheduling.add_attendance")
            and request.user.has_perm("scheduling.change_attendance")
        ):
            raise PermissionDenied
        group = get_object_or_404(Group.objects.select_related("course", "room"), pk=pk)
        try:
            day = dt.date.fromisoformat(request.GET.get("date", ""))
        except ValueError:
            day = self._default_lesson(group)
        enrollments = (
            Enrollment.objects.filter(group=group, start_date__lte=day)
            .filter(Q(end_date__isnull=True) | Q(end_date__gte=day))
            .select_related("client", "group")
            .order_by("client__last_name", "client__first_name", "pk")
        )
        marks = dict(
            Attendance.objects.filter(
                enrollment__group=group, lesson_date=day
            ).values_list("enrollment_id", "status")
        )
        form = TakeAttendanceForm(
            request.POST or None, enrollments=enrollments, marks=marks
        )
        here = f"{reverse('admin:scheduling_group_attendance', args=[pk])}?date={day}"
        if request.method == "POST" and form.is_valid():
            saved = 0
            skipped: Counter[str] = Counter()
            for enrollment, status in form.marks():
                try:
                    with transaction.atomic():
                        services.mark_attendance(
                            enrollment, day, status, by=request.user
                        )
                except ValidationError as exc:
                    skipped["; ".join(error_messages(exc))] += 1
                else:
                    saved += 1
            if saved:
                self.message_user(
                    request,
                    ngettext(
                        "Attendance saved for %(count)d student.",
                        "Attendance saved for %(count)d students.",
                        saved,
                    )
                    % {"count": saved},
                    messages.SUCCESS,
                )
            report_skipped(self, request, skipped)
            return HttpResponseRedirect(here)
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Attendance · %(group)s") % {"group": group},
            "opts": self.model._meta,
            "group": group,
            "day": day,
            "is_lesson": group.has_lesson_on(day),
            "form": form,
            "previous_lesson": self._nearest_lesson(group, day, -1),
            "next_lesson": self._nearest_lesson(group, day, 1),
            "change_url": reverse("admin:scheduling_group_change", args=[pk]),
        }
        return TemplateResponse(
            request, "admin/scheduling/group/attendance.html", context
        )
