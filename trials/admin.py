"""The trials admin: the trial list and page, its reminders, and the funnel report.

Presentation only: every change goes through trials.services. A salesperson sees the
trials they follow; users holding ``trials.view_all_trials`` (receptionists, managers)
or ``leads.view_all_leads`` see everyone's.
"""

from collections import Counter

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
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
from leads.admin.common import LeadSearchMixin, sees_all_leads
from scheduling.models import Group

from . import selectors, services
from .forms import FunnelForm, TrialAdminForm
from .models import Trial, TrialReminder, TrialResult, TrialStatus, TrialStatusHistory


def sees_all_trials(user) -> bool:
    return user.has_perm("trials.view_all_trials") or sees_all_leads(user)


def badge(kind: str, value: str, label) -> str:
    """A coloured badge: ``kind`` is trial, result, reminder or kpi (admin.css)."""
    return format_html(
        '<span class="badge crm-status crm-{}-{}">{}</span>', kind, value, label
    )


def local_datetime(value) -> str:
    if value is None:
        return "—"
    return date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")


class TrialWhenFilter(admin.SimpleListFilter):
    title = _("when")
    parameter_name = "when"

    def lookups(self, request, model_admin):
        return [
            ("overdue", _("Overdue (attendance or result not recorded)")),
            ("today", _("Today")),
            ("upcoming", _("Upcoming")),
        ]

    def queryset(self, request, queryset):
        if self.value() == "overdue":
            return queryset.overdue()
        if self.value() == "today":
            return queryset.today()
        if self.value() == "upcoming":
            return queryset.upcoming()
        return queryset


class GroupFilter(admin.RelatedFieldListFilter):
    """The groups with their course, read in one query (a group's name shows its
    course)."""

    def field_choices(self, field, request, model_admin):
        groups = Group.objects.select_related("course").order_by("course__name", "name")
        return [(group.pk, str(group)) for group in groups]


class TrialReminderInline(ReadOnlyInlineMixin, admin.TabularInline):
    model = TrialReminder
    verbose_name_plural = _("reminders: what was sent when")
    fields = [
        "kind",
        "due_at",
        "status_badge",
        "recipient",
        "sent_at",
        "attempts",
        "why",
    ]
    readonly_fields = fields
    max_rows = None

    @admin.display(description=_("status"))
    def status_badge(self, obj):
        return badge("reminder", obj.status, obj.get_status_display())

    @admin.display(description=_("why not sent / last error"))
    def why(self, obj):
        return obj.skip_reason or obj.last_error or "—"


class TrialStatusHistoryInline(StatusHistoryInline):
    model = TrialStatusHistory

    def render_badge(self, value: str, label) -> str:
        return badge("trial", value, label)


@admin.register(Trial)
class TrialAdmin(ServiceErrorsAsMessagesMixin, LeadSearchMixin, admin.ModelAdmin):
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
    list_select_related = [
        "lead",
        "group__course",
        "salesperson",
        "enrollment",
        "waitlist_entry",
    ]
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

    # --- the funnel report ------------------------------------------------------------

    def funnel_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        start, end = FunnelForm.default_range()
        form = FunnelForm(request.GET or None, initial={"start": start, "end": end})
        if form.is_bound and form.is_valid():
            start, end = form.cleaned_data["start"], form.cleaned_data["end"]
        own = None if sees_all_trials(request.user) else request.user
        tables = []
        if not form.is_bound or form.is_valid():
            tables = [
                (
                    _("By source"),
                    selectors.funnel_by_source(start, end, salesperson=own),
                ),
                (
                    _("By salesperson"),
                    selectors.funnel_by_salesperson(start, end, salesperson=own),
                ),
            ]
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Trial funnel"),
            "opts": self.model._meta,
            "form": form,
            "start": start,
            "end": end,
            "tables": tables,
            "percent_labels": selectors.PERCENT_LABELS,
            "own_only": own is not None,
            "changelist_url": reverse("admin:trials_trial_changelist"),
        }
        return TemplateResponse(request, "admin/trials/funnel.html", context)


@admin.register(TrialReminder)
class TrialReminderAdmin(LeadSearchMixin, admin.ModelAdmin):
    """Read-only: reminders are planned by the services and sent by the beat job."""

    lead_search_prefix = "trial__lead__"
    list_display = [
        "trial",
        "kind",
        "due_at",
        "status_badge",
        "recipient",
        "sent_at",
        "attempts",
    ]
    list_select_related = ["trial__lead", "trial__group__course"]
    list_filter = ["status", "kind"]
    search_fields = ["trial__lead__full_name", "trial__lead__phone", "recipient"]
    search_help_text = _("The lead's name, phone number in any format, or email.")
    date_hierarchy = "due_at"
    show_full_result_count = False
    list_per_page = 50
    fields = [
        "trial",
        "kind",
        "due_at",
        "next_attempt_at",
        "status",
        "recipient",
        "claimed_at",
        "sent_at",
        "attempts",
        "skip_reason",
        "last_error",
        "created_at",
        "updated_at",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if not sees_all_trials(request.user):
            queryset = queryset.filter(trial__salesperson=request.user)
        return queryset

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj):
        return badge("reminder", obj.status, obj.get_status_display())
