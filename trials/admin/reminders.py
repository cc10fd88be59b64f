"""The reminders list: read-only, what was sent when."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from leads.admin.common import LeadSearchMixin

from ..models import TrialReminder
from .common import badge, message_delivery, sees_all_trials


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
        "delivery",
    ]
    list_select_related = ["trial__lead", "trial__group__course", "message"]
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
        "status",
        "recipient",
        "sent_at",
        "delivery",
        "skip_reason",
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

    def delivery(self, obj):
        return message_delivery(obj)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj):
        return badge("reminder", obj.status, obj.get_status_display())
