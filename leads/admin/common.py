"""What the leads admins share: badges, who sees which leads, search, filters."""

from django.contrib import admin
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from crm_project.admin_tools import search_by_contact

from ..models import LeadFollowUp, LeadStatus


def badge(kind: str, value: str, label) -> str:
    """A coloured badge: ``kind`` is lead, source, followup or import (admin.css)."""
    return format_html(
        '<span class="badge crm-status crm-{}-{}">{}</span>', kind, value, label
    )


def sees_all_leads(user) -> bool:
    return user.is_superuser or user.has_perm("leads.view_all_leads")


def local_datetime(value) -> str:
    if value is None:
        return "—"
    return date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")


def overdue_follow_up_condition(now, prefix: str = "") -> Q:
    return Q(**{f"{prefix}status": LeadFollowUp.Status.OVERDUE}) | Q(
        **{f"{prefix}status": LeadFollowUp.Status.PENDING, f"{prefix}due_at__lt": now}
    )


def search_leads(queryset, term: str, *, prefix: str = ""):
    """A phone in any format or an email through the unique indexes (see
    crm_project.admin_tools.search_by_contact); otherwise words of the name."""
    term = (term or "").strip()
    if not term:
        return queryset
    found = search_by_contact(queryset, term, prefix=prefix)
    if found is not None:
        return found
    condition = Q()
    for word in term.split():
        condition &= Q(**{f"{prefix}full_name__icontains": word}) | Q(
            **{f"{prefix}invalid_contact__icontains": word}
        )
    return queryset.filter(condition)


class LeadSearchMixin:
    lead_search_prefix = ""

    def get_search_results(self, request, queryset, search_term):
        return search_leads(
            queryset, search_term, prefix=self.lead_search_prefix
        ), False


class LeadOverdueFilter(admin.SimpleListFilter):
    title = _("overdue")
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [("yes", _("Overdue")), ("no", _("Not overdue"))]

    def queryset(self, request, queryset):
        if self.value() not in ("yes", "no"):
            return queryset
        now = timezone.now()
        late_follow_up = LeadFollowUp.objects.filter(
            overdue_follow_up_condition(now), lead=OuterRef("pk")
        )
        condition = Q(status=LeadStatus.NEW, first_contact_due_at__lt=now) | Q(
            Exists(late_follow_up)
        )
        if self.value() == "yes":
            return queryset.filter(condition)
        return queryset.exclude(condition)


class FollowUpOverdueFilter(admin.SimpleListFilter):
    title = _("overdue")
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [("yes", _("Overdue")), ("no", _("Not overdue"))]

    def queryset(self, request, queryset):
        condition = overdue_follow_up_condition(timezone.now())
        if self.value() == "yes":
            return queryset.filter(condition)
        if self.value() == "no":
            return queryset.exclude(condition)
        return queryset


class ReadOnlyAdminMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ImportButtonMixin:
    """The "Import leads" button on a changelist."""

    change_list_template = "admin/leads/change_list_import.html"

    def changelist_view(self, request, extra_context=None):
        extra_context = extra_context or {}
        if request.user.has_perm("leads.add_importlog"):
            extra_context["import_url"] = reverse("admin:leads_importlog_upload")
        return super().changelist_view(request, extra_context)
