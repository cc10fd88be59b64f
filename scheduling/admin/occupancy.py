"""Room occupancy: the read-only rows and the rooms × days grid for a week."""

import datetime as dt

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from crm_project.pagination import EstimatedCountPaginator

from .. import services
from ..forms import WeekForm
from ..models import RoomOccupancy
from ..selectors import occupancy_grid
from .common import occupancy_badge


@admin.register(RoomOccupancy)
class RoomOccupancyAdmin(admin.ModelAdmin):
    change_list_template = "admin/scheduling/roomoccupancy/change_list.html"
    list_display = ["date", "slot", "room", "group", "places", "occupancy"]
    list_select_related = ["room", "group__course"]
    list_filter = ["room", "date"]
    search_fields = ["room__name", "group__name", "group__course__name"]
    date_hierarchy = "date"
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = 100
    readonly_fields = [
        "room",
        "date",
        "start_time",
        "end_time",
        "group",
        "capacity",
        "taken",
        "percent",
        "refreshed_at",
    ]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("time"), ordering="start_time")
    def slot(self, obj):
        return f"{obj.start_time:%H:%M}–{obj.end_time:%H:%M}"

    @admin.display(description=_("taken"), ordering="taken")
    def places(self, obj):
        return f"{obj.taken}/{obj.capacity}"

    @admin.display(description=_("occupancy %"), ordering="percent")
    def occupancy(self, obj):
        return occupancy_badge(float(obj.percent), obj.colour)

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "grid_url": reverse("admin:scheduling_roomoccupancy_grid"),
        }
        return super().changelist_view(request, extra_context)

    def get_urls(self):
        return [
            path(
                "grid/",
                self.admin_site.admin_view(self.grid_view),
                name="scheduling_roomoccupancy_grid",
            ),
            *super().get_urls(),
        ]

    def grid_view(self, request):
        """Rooms × days for the week holding ``?week=YYYY-MM-DD`` (this week by
        default); a POST rebuilds that week's rows first."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = WeekForm(request.GET or None)
        monday = form.monday()
        url = f"{reverse('admin:scheduling_roomoccupancy_grid')}?week={monday}"
        if request.method == "POST":
            rows = services.refresh_room_occupancy(
                start=monday, end=monday + dt.timedelta(days=6)
            )
            self.message_user(
                request,
                ngettext(
                    "Occupancy refreshed: %(count)d lesson slot.",
                    "Occupancy refreshed: %(count)d lesson slots.",
                    rows,
                )
                % {"count": rows},
                messages.SUCCESS,
            )
            return HttpResponseRedirect(url)
        days, rows = occupancy_grid(monday)
        for row in rows:
            for cell in row.cells:
                for slot in cell:
                    slot.badge = occupancy_badge(
                        slot.percent,
                        slot.colour,
                        f"{slot.taken}/{slot.capacity} · {slot.percent:g} %",
                    )
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Room occupancy · week of %(monday)s")
            % {"monday": monday.isoformat()},
            "opts": self.model._meta,
            "days": days,
            "rows": rows,
            "monday": monday,
            "previous_week": monday - dt.timedelta(days=7),
            "next_week": monday + dt.timedelta(days=7),
            "form": WeekForm(initial={"week": monday}),
            "grid_url": reverse("admin:scheduling_roomoccupancy_grid"),
        }
        return TemplateResponse(
            request, "admin/scheduling/roomoccupancy/grid.html", context
        )
