"""Attendance marks, one per enrolment and lesson; saved through mark_attendance."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from crm_project.admin_tools import (
    ClientSearchMixin,
    ServiceErrorsAsMessagesMixin,
    admin_link,
    copy_saved,
)
from crm_project.pagination import EstimatedCountPaginator

from .. import services
from ..forms import AttendanceAdminForm
from ..models import Attendance
from .common import scheduling_badge


@admin.register(Attendance)
class AttendanceAdmin(
    ServiceErrorsAsMessagesMixin, ClientSearchMixin, admin.ModelAdmin
):
    form = AttendanceAdminForm
    list_display = ["lesson_date", "client", "group_link", "status_badge", "marked_by"]
    list_select_related = [
        "enrollment__client",
        "enrollment__group__course",
        "marked_by",
    ]
    list_filter = ["status", "lesson_date", "enrollment__group__course"]
    client_search_prefix = "enrollment__client__"
    search_fields = [
        "enrollment__client__first_name",
        "enrollment__client__last_name",
        "enrollment__client__phone",
    ]
    autocomplete_fields = ["enrollment"]
    date_hierarchy = "lesson_date"
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = 50

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ["marked_by"]
        return ["enrollment", "lesson_date", "marked_by"]

    def get_fields(self, request, obj=None):
        return ["enrollment", "lesson_date", "status", "marked_by"]

    @admin.display(description=_("client"), ordering="enrollment__client__last_name")
    def client(self, obj):
        return obj.enrollment.client

    @admin.display(description=_("group"))
    def group_link(self, obj):
        return admin_link(obj.enrollment.group)

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj):
        return scheduling_badge(obj.status, obj.get_status_display())

    def save_model(self, request, obj, form, change):
        saved = services.mark_attendance(
            obj.enrollment, obj.lesson_date, obj.status, by=request.user
        )
        copy_saved(saved, obj)
