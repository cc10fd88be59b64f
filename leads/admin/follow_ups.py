"""Follow-ups and the status history: a salesperson sees their own."""

from collections import Counter

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from crm_project.admin_tools import (
    StaffFilter,
    admin_link,
    copy_saved,
    error_messages,
    report_skipped,
)
from crm_project.pagination import EstimatedCountPaginator

from .. import services
from ..models import LeadFollowUp, LeadStatusHistory
from .common import (
    FollowUpOverdueFilter,
    LeadSearchMixin,
    ReadOnlyAdminMixin,
    badge,
    sees_all_leads,
)


@admin.register(LeadFollowUp)
class LeadFollowUpAdmin(LeadSearchMixin, admin.ModelAdmin):
    list_display = [
        "lead_link",
        "due_at",
        "status_badge",
        "assigned_to",
        "reminder_count",
        "note",
    ]
    list_select_related = ["lead", "assigned_to"]
    list_filter = ["status", FollowUpOverdueFilter, ("assigned_to", StaffFilter)]
    lead_search_prefix = "lead__"
    search_fields = ["lead__full_name", "lead__phone", "lead__email"]
    search_help_text = _("The lead's name, phone number in any format, or email.")
    autocomplete_fields = ["lead"]
    fields = [
        "lead",
        "due_at",
        "note",
        "status",
        "assigned_to",
        "reminder_count",
        "last_reminded_at",
        "escalated_at",
        "completed_at",
        "created_by",
    ]
    readonly_fields = [
        "assigned_to",
        "reminder_count",
        "last_reminded_at",
        "escalated_at",
        "completed_at",
        "created_by",
    ]
    actions = ["mark_done"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = 50

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if not sees_all_leads(request.user):
            queryset = queryset.filter(assigned_to=request.user)
        return queryset

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields.append("lead")
        else:
            fields.append("status")
        return fields

    def save_model(self, request, obj, form, change):
        if not change:
            created = services.schedule_follow_up(
                obj.lead, due_at=obj.due_at, note=obj.note, by=request.user
            )
            copy_saved(created, obj)
            return
        fields = set(form.changed_data) - {"status"}
        done = "status" in form.changed_data and obj.status == LeadFollowUp.Status.DONE
        if not done and "status" in form.changed_data:
            fields.add("status")
        if fields:
            obj.save(update_fields=[*sorted(fields), "updated_at"])
        if done:
            copy_saved(services.complete_follow_up(obj, by=request.user), obj)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ValidationError as exc:
            for reason in error_messages(exc):
                self.message_user(request, reason, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    @admin.display(description=_("lead"), ordering="lead")
    def lead_link(self, obj):
        return admin_link(obj.lead)

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj):
        return badge("followup", obj.status, obj.get_status_display())

    @admin.action(
        description=_("Mark the selected follow-ups as done"), permissions=["change"]
    )
    def mark_done(self, request, queryset):
        changed = 0
        skipped: Counter[str] = Counter()
        for follow_up in queryset.order_by("pk"):
            if follow_up.status == LeadFollowUp.Status.DONE:
                skipped[gettext("already done")] += 1
                continue
            services.complete_follow_up(follow_up, by=request.user)
            changed += 1
        if changed:
            self.message_user(
                request,
                ngettext(
                    "%(count)d follow-up marked as done.",
                    "%(count)d follow-ups marked as done.",
                    changed,
                )
                % {"count": changed},
                messages.SUCCESS,
            )
        report_skipped(self, request, skipped)


@admin.register(LeadStatusHistory)
class LeadStatusHistoryAdmin(ReadOnlyAdminMixin, LeadSearchMixin, admin.ModelAdmin):
    list_display = [
        "changed_at",
        "lead_link",
        "from_badge",
        "to_badge",
        "changed_by",
        "note",
    ]
    list_select_related = ["lead", "changed_by"]
    list_filter = ["to_status", "from_status", "changed_at"]
    lead_search_prefix = "lead__"
    search_fields = ["lead__full_name", "lead__phone", "lead__email"]
    fields = ["lead", "from_status", "to_status", "changed_by", "changed_at", "note"]
    readonly_fields = fields
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = 50

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if not sees_all_leads(request.user):
            queryset = queryset.filter(lead__assigned_to=request.user)
        return queryset

    @admin.display(description=_("lead"), ordering="lead")
    def lead_link(self, obj):
        return admin_link(obj.lead)

    @admin.display(description=_("from"), ordering="from_status")
    def from_badge(self, obj):
        if not obj.from_status:
            return "—"
        return badge("lead", obj.from_status, obj.get_from_status_display())

    @admin.display(description=_("to"), ordering="to_status")
    def to_badge(self, obj):
        return badge("lead", obj.to_status, obj.get_to_status_display())
