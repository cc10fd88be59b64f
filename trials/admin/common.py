"""What the trials admins share: who sees which trials, badges, filters."""

from django.contrib import admin
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from crm_project.admin_tools import admin_link
from leads.admin.common import sees_all_leads
from scheduling.models import Group


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


@admin.display(description=_("delivery"))
def message_delivery(reminder) -> str:
    """The outbox message of a reminder handed over: its status (and why, when it
    was skipped or failed), linked to the message."""
    message = reminder.message
    if message is None:
        return "—"
    text = message.get_status_display()
    if message.reason:
        text = f"{text}: {message.get_reason_display()}"
    return admin_link(message, text)
