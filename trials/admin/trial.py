"""The trial list and page: badges, filters, scheduling and recording through the
services, bulk attendance."""

from collections import Counter

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import path
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from crm_project.admin_tools import (
    ReadOnlyInlineMixin,
    ServiceErrorsAsMessagesMixin,
    StaffFilter,
    StatusHistoryInline,
    copy_saved,
    error_messages,
    report_skipped,
)
from leads.admin.common import LeadSearchMixin

from .. import services
from ..forms import TrialAdminForm
from ..models import Trial, TrialReminder, TrialResult, TrialStatus, TrialStatusHistory
from .common import (
    GroupFilter,
    TrialWhenFilter,
    badge,
    local_datetime,
    message_delivery,
    sees_all_trials,
)
from .funnel import FunnelViewMixin


class TrialReminderInline(ReadOnlyInlineMixin, admin.TabularInline):
    model = TrialReminder
    verbose_name_plural = _("reminders: what was sent when")
    fields = [
        "kind",
        "due_at",
        "status_badge",
        "recipient",
        "sent_at",
        "delivery",
        "why",
    ]
    readonly_fields = fields
    max_rows = None

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("message")

    @admin.display(description=_("status"))
    def status_badge(self, obj):
        return badge("reminder", obj.status, obj.get_status_display())

    @admin.display(description=_("why not sent"))
    def why(self, obj):
        return obj.skip_reason or "—"

    def delivery(self, obj):
        return message_delivery(obj)


class TrialStatusHistoryInline(StatusHistoryInline):
    model = TrialStatusHistory

    def render_badge(self, value: str, label) -> str:
        return badge("trial", value, label)


@admin.register(Trial)
class TrialAdmin(
    FunnelViewMixin, ServiceErrorsAsMessagesMixin, LeadSearchMixin, admin.ModelAdmin
):
    form = TrialAdminForm
    view_on_site = False
    lead_search_prefix = "lead__"
    list_display = [
        "lead",
        "lesson",
        "group",
        "salesperson",
        "status_badge",
        "result_badge",
        "outcome",
    ]
    list_select_related = ["lead", "group__course", "salesperson"]
    list_filter = [
        TrialWhenFilter,
        "status",
        "result",
        ("salesperson", StaffFilter),
        ("group", GroupFilter),
    ]
    search_fields = ["lead__full_name", "lead__phone", "lead__email"]
    search_help_text = _("The lead's name, phone number in any format, or email.")
    autocomplete_fields = ["lead", "salesperson"]
    inlines = [TrialReminderInline, TrialStatusHistoryInline]
    actions = ["mark_attended", "mark_no_show"]
    date_hierarchy = "lesson_date"
    show_full_result_count = False
    list_per_page = 50

    add_fieldsets = [
        (None, {"fields": ["lead", "group", "lesson_date", "salesperson", "notes"]}),
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "lead",
                    ("group", "lesson_date"),
                    ("starts_at", "ends_at"),
                    "salesperson",
                    "notes",
                ]
            },
        ),
        (
            _("Attendance and result"),
            {
                "fields": [
                    "status",
                    "result",
                    "lost_reason",
                    "result_at",
                    ("enrollment", "waitlist_entry"),
                ]
            },
        ),
        (_("Record"), {"fields": ["booked_by", ("created_at", "updated_at")]}),
    ]
    readonly_fields = [
        "lead",
        "starts_at",
        "ends_at",
        "result_at",
        "enrollment",
        "waitlist_entry",
        "booked_by",
        "created_at",
        "updated_at",
    ]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if not sees_all_trials(request.user):
            queryset = queryset.filter(salesperson=request.user)
        return queryset

    def get_fieldsets(self, request, obj=None):
        return (
            self.add_fieldsets if obj is None else super().get_fieldsets(request, obj)
        )

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else super().get_readonly_fields(request, obj)

    def get_inlines(self, request, obj):
        return [] if obj is None else super().get_inlines(request, obj)

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        if not sees_all_trials(request.user):
            initial.setdefault("salesperson", request.user.pk)
        return initial

    def get_urls(self):
        return [
            path(
                "funnel/",
                self.admin_site.admin_view(self.funnel_view),
                name="trials_trial_funnel",
            ),
            *super().get_urls(),
        ]

    # --- list columns ---------------------------------------------------------------

    @admin.display(description=_("lesson"), ordering="starts_at")
    def lesson(self, obj):
        text = local_datetime(obj.starts_at)
        if obj.is_overdue:
            return format_html('<span class="crm-overdue">{}</span>', text)
        return text

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj):
        return badge("trial", obj.status, obj.get_status_display())

    @admin.display(description=_("result"), ordering="result")
    def result_badge(self, obj):
        return badge("result", obj.result, obj.get_result_display())

    @admin.display(description=_("enrolled / waitlisted"))
    def outcome(self, obj):
        if obj.enrollment_id:
            return gettext("Enrolled")
        if obj.waitlist_entry_id:
            return gettext("On the waitlist")
        return "—"

    # --- saving through the services --------------------------------------------------

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if not change:
            trial = services.schedule_trial(
                data["lead"],
                data["group"],
                data["lesson_date"],
                salesperson=data.get("salesperson") or request.user,
                by=request.user,
                notes=data.get("notes", ""),
            )
            copy_saved(trial, obj)
            return
        stored = Trial.objects.get(pk=obj.pk)
        changed = set(form.changed_data)
        # Plain fields first, on the stored row: the services own the rest.
        plain = sorted(changed & {"salesperson", "notes"})
        if plain:
            for name in plain:
                setattr(stored, name, getattr(obj, name))
            stored.save(update_fields=[*plain, "updated_at"])
        trial = stored
        if {"group", "lesson_date"} & changed:
            trial = services.reschedule_trial(
                trial, obj.lesson_date, group=obj.group, by=request.user
            )
        if obj.status != stored.status:
            trial = self._change_status(trial, obj.status, request)
        if obj.result != stored.result:
            trial = services.record_result(
                trial,
                obj.result,
                by=request.user,
                lost_reason=data.get("lost_reason", ""),
            )
            self._report_placement(request, trial)
        trial.refresh_from_db()
        copy_saved(trial, obj)

    def _change_status(self, trial, status, request):
        if status == TrialStatus.ATTENDED:
            return services.mark_attended(trial, by=request.user)
        if status == TrialStatus.NO_SHOW:
            return services.mark_no_show(trial, by=request.user)
        if status == TrialStatus.CANCELLED:
            return services.cancel_trial(trial, by=request.user)
        raise ValidationError(_("That status cannot be set by hand."))

    def _report_placement(self, request, trial) -> None:
        if trial.result != TrialResult.ACCEPTED:
            return
        if trial.waitlist_entry_id:
            self.message_user(
                request,
                gettext(
                    "The group is full: %(lead)s is now a client and on its waitlist."
                )
                % {"lead": trial.lead},
                messages.WARNING,
            )
        else:
            self.message_user(
                request,
                gettext("%(lead)s is now a client, enrolled in %(group)s.")
                % {"lead": trial.lead, "group": trial.group},
                messages.SUCCESS,
            )

    # --- bulk actions -----------------------------------------------------------------

    def _each(self, request, queryset, change, *, already, done_message):
        changed = 0
        skipped: Counter[str] = Counter()
        for trial in queryset.select_related(None).order_by("pk"):
            if trial.status == already:
                skipped[gettext("already recorded")] += 1
                continue
            try:
                with transaction.atomic():
                    change(trial)
            except ValidationError as exc:
                skipped["; ".join(error_messages(exc))] += 1
            else:
                changed += 1
        if changed:
            self.message_user(
                request, done_message(changed) % {"count": changed}, messages.SUCCESS
            )
        elif not skipped:
            self.message_user(request, gettext("Nothing to change."), messages.INFO)
        report_skipped(self, request, skipped)

    @admin.action(
        description=_("Mark the selected trials as attended"), permissions=["change"]
    )
    def mark_attended(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda trial: services.mark_attended(trial, by=request.user),
            already=TrialStatus.ATTENDED,
            done_message=lambda n: ngettext(
                "%(count)d trial marked as attended.",
                "%(count)d trials marked as attended.",
                n,
            ),
        )

    @admin.action(
        description=_("Mark the selected trials as no-shows"), permissions=["change"]
    )
    def mark_no_show(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda trial: services.mark_no_show(trial, by=request.user),
            already=TrialStatus.NO_SHOW,
            done_message=lambda n: ngettext(
                "%(count)d trial marked as a no-show.",
                "%(count)d trials marked as no-shows.",
                n,
            ),
        )
