"""Enrolments (attendance rate, pause / leave / reactivate) and the waitlist."""

from collections import Counter

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from crm_project.admin_tools import (
    ClientSearchMixin,
    ReadOnlyInlineMixin,
    ServiceErrorsAsMessagesMixin,
    admin_link,
    copy_saved,
    error_messages,
    report_skipped,
)
from crm_project.pagination import EstimatedCountPaginator

from .. import services
from ..forms import EnrollmentAdminForm, WaitlistEntryAdminForm
from ..models import (
    Attendance,
    Enrollment,
    EnrollmentStatus,
    WaitlistEntry,
    WaitlistStatus,
)
from ..selectors import rate, with_attendance_counts
from .common import report_promotions, scheduling_badge

ATTENDANCE_RATE_HELP = _(
    "Present ÷ (present + absent) over the marked lessons; excused absences and "
    "unmarked lessons are not counted."
)


class AttendanceInline(ReadOnlyInlineMixin, admin.TabularInline):
    model = Attendance
    fields = ["lesson_date", "status", "marked_by"]
    readonly_fields = fields
    verbose_name_plural = _("attendance (latest lessons)")

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("marked_by")
            .order_by("-lesson_date")
        )


def _run(model_admin, request, rows, call, done_message, *, already=None) -> None:
    """Call ``call(row)`` for each row in its own savepoint; report what changed, the
    promotions it caused and what was skipped, by reason."""
    changed = 0
    skipped: Counter[str] = Counter()
    for row in rows:
        if already is not None and already(row):
            skipped[gettext("nothing to change")] += 1
            continue
        try:
            with transaction.atomic():
                result = call(row)
        except ValidationError as exc:
            skipped["; ".join(error_messages(exc))] += 1
            continue
        changed += 1
        report_promotions(model_admin, request, getattr(result, "promoted", []))
    if changed:
        model_admin.message_user(
            request, done_message(changed) % {"count": changed}, messages.SUCCESS
        )
    report_skipped(model_admin, request, skipped)


@admin.register(Enrollment)
class EnrollmentAdmin(
    ServiceErrorsAsMessagesMixin, ClientSearchMixin, admin.ModelAdmin
):
    form = EnrollmentAdminForm
    list_display = [
        "client",
        "group_link",
        "status_badge",
        "start_date",
        "end_date",
        "attendance_rate",
    ]
    list_select_related = ["client", "group__course"]
    list_filter = ["status", "group__course", "group__status", "start_date"]
    client_search_prefix = "client__"
    search_fields = ["client__first_name", "client__last_name", "client__phone"]
    autocomplete_fields = ["client", "group"]
    inlines = [AttendanceInline]
    actions = ["pause_selected", "leave_selected", "reactivate_selected"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = 50
    readonly_fields = ["attendance_summary", "enrolled_by", "created_at"]

    def get_queryset(self, request):
        return with_attendance_counts(super().get_queryset(request))

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["client", "group", "start_date"]
        return [
            "client",
            "group",
            "status",
            ("start_date", "end_date"),
            "attendance_summary",
            "enrolled_by",
            "created_at",
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["client", "group", *self.readonly_fields]

    def get_inlines(self, request, obj):
        return [] if obj is None else super().get_inlines(request, obj)

    @admin.display(description=_("group"), ordering="group__course__name")
    def group_link(self, obj):
        return admin_link(obj.group)

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj):
        return scheduling_badge(obj.status, obj.get_status_display())

    @admin.display(description=_("attendance rate"), ordering="present_count")
    def attendance_rate(self, obj):
        value = rate(obj.present_count, obj.marked_count)
        if value is None:
            return "—"
        return f"{value:g} % ({obj.present_count}/{obj.marked_count})"

    @admin.display(description=_("attendance rate"))
    def attendance_summary(self, obj):
        return self.attendance_rate(obj)

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["help_texts"] = {"attendance_summary": ATTENDANCE_RATE_HELP}
        return super().get_form(request, obj, change=change, **kwargs)

    def save_model(self, request, obj, form, change):
        if not change:
            enrollment = services.enroll_client(
                obj.client,
                obj.group,
                by=request.user,
                start_date=form.cleaned_data.get("start_date"),
                waitlist_if_full=False,
            )
            copy_saved(enrollment, obj)
            return
        fields = set(form.changed_data) & {"start_date", "end_date"}
        if fields:
            obj.save(update_fields=[*sorted(fields), "updated_at"])
        if "status" in form.changed_data:
            result = services.change_enrollment_status(
                obj, form.cleaned_data["status"], by=request.user
            )
            report_promotions(self, request, result.promoted)

    @admin.action(
        description=_("Pause the selected enrolments (keeping their places)"),
        permissions=["change"],
    )
    def pause_selected(self, request, queryset):
        _run(
            self,
            request,
            queryset.order_by("pk"),
            lambda e: services.pause_enrollment(e, by=request.user),
            lambda n: ngettext(
                "%(count)d enrolment paused.", "%(count)d enrolments paused.", n
            ),
            already=lambda e: e.status == EnrollmentStatus.PAUSED,
        )

    @admin.action(
        description=_("The selected students leave their groups"),
        permissions=["change"],
    )
    def leave_selected(self, request, queryset):
        _run(
            self,
            request,
            queryset.order_by("pk"),
            lambda e: services.leave_enrollment(e, by=request.user),
            lambda n: ngettext(
                "%(count)d student left the group.",
                "%(count)d students left their groups.",
                n,
            ),
            already=lambda e: e.status == EnrollmentStatus.LEFT,
        )

    @admin.action(
        description=_("Reactivate the selected enrolments"), permissions=["change"]
    )
    def reactivate_selected(self, request, queryset):
        _run(
            self,
            request,
            queryset.order_by("pk"),
            lambda e: services.reactivate_enrollment(e, by=request.user),
            lambda n: ngettext(
                "%(count)d enrolment reactivated.",
                "%(count)d enrolments reactivated.",
                n,
            ),
            already=lambda e: e.status == EnrollmentStatus.ACTIVE,
        )


@admin.register(WaitlistEntry)
class WaitlistEntryAdmin(
    ServiceErrorsAsMessagesMixin, ClientSearchMixin, admin.ModelAdmin
):
    form = WaitlistEntryAdminForm
    list_display = [
        "client",
        "group_link",
        "status_badge",
        "created_at",
        "offered_at",
        "enrolled_at",
        "note",
    ]
    list_select_related = ["client", "group__course"]
    # By course, not by group: a group's name includes its course, and the group
    # filter's choices would read every course one by one.
    list_filter = ["status", "group__course", "group__status"]
    client_search_prefix = "client__"
    search_fields = ["client__first_name", "client__last_name", "client__phone"]
    autocomplete_fields = ["client", "group"]
    actions = ["enroll_now", "offer_place", "withdraw"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = 50

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["client", "group", "note"]
        return [
            "client",
            "group",
            "status",
            "note",
            "added_by",
            "created_at",
            "offered_at",
            "enrolled_at",
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return [
            "client",
            "group",
            "status",
            "added_by",
            "created_at",
            "offered_at",
            "enrolled_at",
        ]

    @admin.display(description=_("group"), ordering="group__course__name")
    def group_link(self, obj):
        return admin_link(obj.group)

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj):
        return scheduling_badge(obj.status, obj.get_status_display())

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["note", "updated_at"])
            return
        entry = services.add_to_waitlist(
            obj.client, obj.group, by=request.user, note=obj.note
        )
        copy_saved(entry, obj)

    @admin.action(
        description=_("Enrol the selected clients now"), permissions=["change"]
    )
    def enroll_now(self, request, queryset):
        _run(
            self,
            request,
            queryset.order_by("created_at", "pk"),
            lambda e: services.accept_waitlist_offer(e, by=request.user),
            lambda n: ngettext(
                "%(count)d client enrolled from the waitlist.",
                "%(count)d clients enrolled from the waitlist.",
                n,
            ),
            already=lambda e: e.status == WaitlistStatus.ENROLLED,
        )

    @admin.action(
        description=_("Offer the selected clients a free place"),
        permissions=["change"],
    )
    def offer_place(self, request, queryset):
        _run(
            self,
            request,
            queryset.order_by("created_at", "pk"),
            lambda e: services.offer_waitlist_place(e, by=request.user),
            lambda n: ngettext(
                "%(count)d client offered a place.",
                "%(count)d clients offered a place.",
                n,
            ),
            already=lambda e: e.status == WaitlistStatus.OFFERED,
        )

    @admin.action(
        description=_("Withdraw the selected clients from the waitlist"),
        permissions=["change"],
    )
    def withdraw(self, request, queryset):
        _run(
            self,
            request,
            queryset.order_by("created_at", "pk"),
            lambda e: services.withdraw_waitlist_entry(e, by=request.user),
            lambda n: ngettext(
                "%(count)d client withdrawn from the waitlist.",
                "%(count)d clients withdrawn from the waitlist.",
                n,
            ),
            already=lambda e: e.status == WaitlistStatus.WITHDRAWN,
        )
