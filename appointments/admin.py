import datetime as dt
from collections import Counter

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from clients.selectors import can_see_medical_info
from crm_project.admin_tools import (
    ClientSearchMixin,
    ServiceErrorsAsMessagesMixin,
    StaffFilter,
    StatusHistoryInline,
    admin_link,
    copy_saved,
    error_messages,
    report_skipped,
    status_badge,
)
from crm_project.pagination import EstimatedCountPaginator, IndexedDatesMixin
from crm_project.timeutils import day_bounds, week_bounds
from packages.services import NoSessionsLeft

from . import services
from .forms import AppointmentAdminForm
from .models import (
    Appointment,
    AppointmentStatusHistory,
    InvalidTransition,
    Status,
)


class WhenFilter(admin.SimpleListFilter):
    """The front desk's days and weeks, in the business time zone."""

    title = _("date")
    parameter_name = "when"

    def lookups(self, request, model_admin):
        return [
            ("today", _("Today")),
            ("tomorrow", _("Tomorrow")),
            ("this_week", _("This week")),
            ("next_week", _("Next week")),
            ("upcoming", _("From now on")),
            ("past", _("Before now")),
        ]

    def queryset(self, request, queryset):
        today = timezone.localdate()
        value = self.value()
        if value == "today":
            return queryset.between(*day_bounds(today))
        if value == "tomorrow":
            return queryset.between(*day_bounds(today + dt.timedelta(days=1)))
        if value == "this_week":
            return queryset.between(*week_bounds(today))
        if value == "next_week":
            return queryset.between(*week_bounds(today + dt.timedelta(days=7)))
        if value == "upcoming":
            return queryset.filter(start_at__gte=timezone.now())
        if value == "past":
            return queryset.filter(start_at__lt=timezone.now())
        return queryset


class AppointmentHistoryInline(StatusHistoryInline):
    model = AppointmentStatusHistory


# action name -> (target status, service, "n changed" message)
TRANSITIONS = {
    "confirm": (
        Status.CONFIRMED,
        services.confirm_appointment,
        lambda n: ngettext(
            "%(count)d appointment confirmed.", "%(count)d appointments confirmed.", n
        ),
    ),
    "check_in": (
        Status.CHECKED_IN,
        services.check_in_appointment,
        lambda n: ngettext(
            "%(count)d appointment checked in.",
            "%(count)d appointments checked in.",
            n,
        ),
    ),
    "complete": (
        Status.COMPLETED,
        services.complete_appointment,
        lambda n: ngettext(
            "%(count)d appointment completed.", "%(count)d appointments completed.", n
        ),
    ),
    "cancel": (
        Status.CANCELLED,
        services.cancel_appointment,
        lambda n: ngettext(
            "%(count)d appointment cancelled.", "%(count)d appointments cancelled.", n
        ),
    ),
    "no_show": (
        Status.NO_SHOW,
        services.mark_no_show,
        lambda n: ngettext(
            "%(count)d appointment marked as no-show.",
            "%(count)d appointments marked as no-show.",
            n,
        ),
    ),
}


@admin.register(Appointment)
class AppointmentAdmin(
    IndexedDatesMixin, ServiceErrorsAsMessagesMixin, ClientSearchMixin, admin.ModelAdmin
):
    form = AppointmentAdminForm
    # NoSessionsLeft is a ValidationError; both named for the reader.
    service_errors = (ValidationError, NoSessionsLeft, InvalidTransition)
    list_display = [
        "start_at",
        "client",
        "service",
        "staff",
        "status_badge",
        "price",
        "purchase_display",
    ]
    list_select_related = ["client", "service", "staff", "purchase__package"]
    list_filter = ["status", "service", ("staff", StaffFilter), WhenFilter]
    date_hierarchy = "start_at"
    client_search_prefix = "client__"
    search_fields = ["client__first_name", "client__last_name", "client__phone"]
    search_help_text = _("A client's name, or their phone number in any format.")
    autocomplete_fields = ["client", "service", "staff", "purchase"]
    inlines = [AppointmentHistoryInline]
    actions = [
        "confirm_selected",
        "check_in_selected",
        "complete_selected",
        "cancel_selected",
        "no_show_selected",
    ]
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = 50

    add_fieldsets = [
        (
            None,
            {
                "fields": [
                    "client",
                    "service",
                    "staff",
                    "start_at",
                    "purchase",
                    "notes",
                ],
                "description": _(
                    "The end time comes from the service's duration and the price "
                    "from the service, or from the package price per session, when "
                    "you save."
                ),
            },
        ),
        (
            _("Contraindications"),
            {"fields": ["contraindication_override", "override_reason"]},
        ),
    ]
    readonly_fields = [
        "end_at",
        "price",
        "session_consumed",
        "override_by",
        "booked_by",
        "created_at",
        "updated_at",
    ]

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return self.add_fieldsets
        fieldsets = [
            (
                None,
                {
                    "fields": [
                        "client",
                        "service",
                        "staff",
                        ("start_at", "end_at"),
                        "price",
                        "purchase",
                        "notes",
                    ]
                },
            ),
            (
                _("Status"),
                {"fields": ["status", "status_note", "session_consumed"]},
            ),
            (
                _("Contraindications"),
                {
                    "fields": [
                        "contraindication_override",
                        "override_reason",
                        "override_by",
                    ]
                },
            ),
        ]
        if obj.status == Status.COMPLETED:
            fieldsets.append(
                (_("Feedback"), {"fields": ["feedback_rating", "feedback_comment"]})
            )
        fieldsets.append(
            (_("Booking"), {"fields": ["booked_by", ("created_at", "updated_at")]})
        )
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else super().get_readonly_fields(request, obj)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.may_see_medical = can_see_medical_info(request.user)
        return form

    def get_inlines(self, request, obj):
        return [] if obj is None else super().get_inlines(request, obj)

    def save_model(self, request, obj, form, change):
        if not change:
            booked = services.book_appointment(
                obj.client,
                service=obj.service,
                start_at=obj.start_at,
                staff=obj.staff,
                purchase=obj.purchase,
                override_contraindications=obj.contraindication_override,
                override_reason=obj.override_reason,
                notes=obj.notes,
                by=request.user,
            )
            copy_saved(booked, obj)
            return
        self._save_change(request, obj, form)

    def _save_change(self, request, obj, form) -> None:
        """The form has put the edited values on ``obj``; the service writes them."""
        editable = {
            f.name
            for f in Appointment._meta.concrete_fields
            if f.editable and f.name != "status"
        }
        services.update_appointment(
            obj,
            fields={
                name: getattr(obj, name) for name in set(form.changed_data) & editable
            },
            status=obj.status,
            expected_status=form.stored_status,
            note=form.cleaned_data.get("status_note", ""),
            by=request.user,
        )

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj):
        return status_badge(obj.status, obj.get_status_display())

    @admin.display(description=_("package purchase"), ordering="purchase")
    def purchase_display(self, obj):
        if obj.purchase is None:
            return "—"
        return admin_link(obj.purchase, obj.purchase.package.name)

    # --- Bulk actions: one service call per row, each in its own savepoint. --------

    def _run_transition(self, request, queryset, action: str) -> None:
        target, service, changed_message = TRANSITIONS[action]
        changed = 0
        skipped: Counter[str] = Counter()
        for appointment in queryset.order_by("start_at", "pk"):
            if appointment.status == target:
                skipped[
                    gettext("already %(status)s") % {"status": target.label.lower()}
                ] += 1
                continue
            try:
                with transaction.atomic():
                    service(appointment, by=request.user)
            except InvalidTransition as exc:
                skipped[
                    gettext("cannot go from %(old)s to %(new)s")
                    % {"old": Status(exc.old).label, "new": Status(exc.new).label}
                ] += 1
            except NoSessionsLeft:
                skipped[gettext("no session left on the package")] += 1
            except ValidationError as exc:
                skipped["; ".join(error_messages(exc))] += 1
            else:
                changed += 1
        if changed:
            self.message_user(
                request, changed_message(changed) % {"count": changed}, messages.SUCCESS
            )
        elif not skipped:
            self.message_user(request, gettext("Nothing to change."), messages.INFO)
        report_skipped(self, request, skipped)

    @admin.action(
        description=_("Confirm the selected appointments"), permissions=["change"]
    )
    def confirm_selected(self, request, queryset):
        self._run_transition(request, queryset, "confirm")

    @admin.action(
        description=_("Check in the selected appointments"), permissions=["change"]
    )
    def check_in_selected(self, request, queryset):
        self._run_transition(request, queryset, "check_in")

    @admin.action(
        description=_("Complete the selected appointments"), permissions=["change"]
    )
    def complete_selected(self, request, queryset):
        self._run_transition(request, queryset, "complete")

    @admin.action(
        description=_("Cancel the selected appointments"), permissions=["change"]
    )
    def cancel_selected(self, request, queryset):
        self._run_transition(request, queryset, "cancel")

    @admin.action(
        description=_("Mark the selected appointments as no-show"),
        permissions=["change"],
    )
    def no_show_selected(self, request, queryset):
        self._run_transition(request, queryset, "no_show")


@admin.register(AppointmentStatusHistory)
class AppointmentStatusHistoryAdmin(ClientSearchMixin, admin.ModelAdmin):
    list_display = [
        "changed_at",
        "appointment_link",
        "from_badge",
        "to_badge",
        "changed_by",
        "note",
    ]
    list_select_related = [
        "appointment__client",
        "appointment__service",
        "changed_by",
    ]
    list_filter = ["to_status", "from_status", "changed_at"]
    client_search_prefix = "appointment__client__"
    search_fields = [
        "appointment__client__first_name",
        "appointment__client__last_name",
        "appointment__client__phone",
    ]
    fields = [
        "appointment",
        "from_status",
        "to_status",
        "changed_by",
        "changed_at",
        "note",
    ]
    readonly_fields = fields
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = 50

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("appointment"), ordering="appointment")
    def appointment_link(self, obj):
        return admin_link(obj.appointment)

    @admin.display(description=_("from"), ordering="from_status")
    def from_badge(self, obj):
        if not obj.from_status:
            return "—"
        return status_badge(obj.from_status, obj.get_from_status_display())

    @admin.display(description=_("to"), ordering="to_status")
    def to_badge(self, obj):
        return status_badge(obj.to_status, obj.get_to_status_display())
