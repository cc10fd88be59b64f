import datetime as dt
import os
from collections import Counter
from decimal import Decimal

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Sum
from django.http import FileResponse, Http404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from appointments.models import Appointment
from crm_project.admin_tools import (
    ClientSearchMixin,
    ReadOnlyInlineMixin,
    ServiceErrorsAsMessagesMixin,
    admin_link,
    copy_saved,
    error_messages,
    report_skipped,
    status_badge,
)
from crm_project.pagination import EstimatedCountPaginator

from . import services
from .forms import (
    PackageAdminForm,
    PackageSaleForm,
    PaymentAdminForm,
    PurchaseChangeForm,
)
from .models import Package, PackagePurchase, Payment
from .selectors import this_week

CENT = Decimal("0.01")


@admin.register(Package)
class PackageAdmin(admin.ModelAdmin):
    form = PackageAdminForm
    list_display = [
        "name",
        "sessions",
        "price",
        "per_week",
        "validity",
        "individual_value",
        "saving",
        "is_active",
    ]
    # No services filter: its join would multiply the services_total sum.
    list_filter = ["is_active", "combinable_in_one_visit"]
    search_fields = ["name"]
    filter_horizontal = ["services"]
    list_per_page = 50
    fieldsets = [
        (None, {"fields": ["name", "description", "services", "is_active"]}),
        (
            _("Sessions and price"),
            {
                "fields": [
                    "sessions",
                    ("min_sessions_per_week", "max_sessions_per_week"),
                    "validity_days",
                    "price",
                    "combinable_in_one_visit",
                ]
            },
        ),
    ]

    def get_queryset(self, request):
        # The services' prices summed in the list query: no query per row.
        return (
            super()
            .get_queryset(request)
            .annotate(services_total=Sum("services__price"))
        )

    @admin.display(description=_("per week"))
    def per_week(self, obj):
        low, high = obj.min_sessions_per_week, obj.max_sessions_per_week
        if high is None:
            return format_html("≥ {}", low) if low else "—"
        return f"{low}–{high}"

    @admin.display(description=_("valid for"), ordering="validity_days")
    def validity(self, obj):
        return ngettext("%(days)d day", "%(days)d days", obj.validity_days) % {
            "days": obj.validity_days
        }

    @admin.display(description=_("vs individual"), ordering="services_total")
    def individual_value(self, obj):
        return obj.individual_value(obj.services_total).quantize(CENT)

    @admin.display(description=_("saving"))
    def saving(self, obj):
        saving = obj.saving(obj.services_total).quantize(CENT)
        css = "crm-saving" if saving >= 0 else "crm-saving crm-saving-negative"
        return format_html('<span class="{}">{}</span>', css, saving)


class ExpiryFilter(admin.SimpleListFilter):
    title = _("expiry")
    parameter_name = "expiry"

    def lookups(self, request, model_admin):
        return [
            ("passed", _("Date passed")),
            ("week", _("In the next 7 days")),
            ("month", _("In the next 30 days")),
            ("later", _("Later")),
        ]

    def queryset(self, request, queryset):
        today = timezone.localdate()
        value = self.value()
        if value == "passed":
            return queryset.filter(expires_on__lt=today)
        if value == "week":
            return queryset.filter(expires_on__range=this_week(today))
        if value == "month":
            return queryset.filter(
                expires_on__gte=today, expires_on__lte=today + dt.timedelta(days=30)
            )
        if value == "later":
            return queryset.filter(expires_on__gt=today + dt.timedelta(days=30))
        return queryset


class PurchasePaymentInline(ReadOnlyInlineMixin, admin.TabularInline):
    model = Payment
    fk_name = "purchase"
    verbose_name_plural = _("payments")
    fields = ["payment_link", "amount", "method", "received_by", "receipt_link"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("received_by")

    @admin.display(description=_("paid at"))
    def payment_link(self, obj):
        return admin_link(
            obj, timezone.localtime(obj.paid_at).strftime("%Y-%m-%d %H:%M")
        )

    @admin.display(description=_("receipt"))
    def receipt_link(self, obj):
        return receipt_link_html(obj)


class PurchaseAppointmentInline(ReadOnlyInlineMixin, admin.TabularInline):
    model = Appointment
    fk_name = "purchase"
    verbose_name_plural = _("appointments on this purchase (latest 20)")
    fields = ["appointment_link", "service", "status_badge", "session_consumed"]
    readonly_fields = fields

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("service")
            .order_by("-start_at", "-id")
        )

    @admin.display(description=_("starts"))
    def appointment_link(self, obj):
        when = timezone.localtime(obj.start_at).strftime("%Y-%m-%d %H:%M")
        return admin_link(obj, when)

    @admin.display(description=_("status"))
    def status_badge(self, obj):
        return status_badge(obj.status, obj.get_status_display())


@admin.register(PackagePurchase)
class PackagePurchaseAdmin(
    ServiceErrorsAsMessagesMixin, ClientSearchMixin, admin.ModelAdmin
):
    form = PurchaseChangeForm
    add_form = PackageSaleForm
    list_display = [
        "client",
        "package",
        "status_badge",
        "sessions",
        "remaining",
        "purchased_on",
        "expires_on",
        "price_paid",
    ]
    list_select_related = ["client", "package"]
    list_filter = ["status", "package", ExpiryFilter]
    client_search_prefix = "client__"
    search_fields = ["client__first_name", "client__last_name", "client__phone"]
    autocomplete_fields = ["client"]
    actions = ["cancel_purchases"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = 50
    add_fieldsets = [
        (None, {"fields": ["client", "package", "price_paid", "purchased_on"]}),
        (_("Payment"), {"fields": ["payment_method", "reference", "receipt"]}),
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "client",
                    "package",
                    "status_badge",
                    ("sessions_used", "sessions_total", "remaining"),
                    ("purchased_on", "expires_on"),
                    "price_paid",
                    "sold_by",
                    "notes",
                ]
            },
        ),
    ]
    readonly_fields = [
        "client",
        "package",
        "status_badge",
        "sessions_used",
        "sessions_total",
        "remaining",
        "purchased_on",
        "price_paid",
        "sold_by",
    ]
    inlines = [PurchasePaymentInline, PurchaseAppointmentInline]

    def get_fieldsets(self, request, obj=None):
        return (
            self.add_fieldsets if obj is None else super().get_fieldsets(request, obj)
        )

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else super().get_readonly_fields(request, obj)

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, **kwargs)

    def get_inlines(self, request, obj):
        return [] if obj is None else super().get_inlines(request, obj)

    def get_changeform_initial_data(self, request):
        initial = {"purchased_on": timezone.localdate()}
        initial.update(super().get_changeform_initial_data(request))
        return initial

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        data = form.cleaned_data
        purchase = services.sell_package(
            data["client"],
            data["package"],
            payment_method=data["payment_method"],
            price=data.get("price_paid"),
            purchased_on=data.get("purchased_on"),
            reference=data.get("reference", ""),
            receipt=data.get("receipt") or None,
            by=request.user,
        )
        copy_saved(purchase, obj)

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj):
        return status_badge(obj.status, obj.get_status_display())

    @admin.display(description=_("sessions used"))
    def sessions(self, obj):
        return f"{obj.sessions_used} / {obj.sessions_total}"

    @admin.display(description=_("left"))
    def remaining(self, obj):
        return obj.sessions_remaining

    @admin.action(
        description=_("Cancel the selected purchases"), permissions=["change"]
    )
    def cancel_purchases(self, request, queryset):
        cancelled = 0
        skipped: Counter[str] = Counter()
        for purchase in queryset.order_by("pk"):
            if purchase.status == PackagePurchase.Status.CANCELLED:
                skipped[gettext("already cancelled")] += 1
                continue
            try:
                with transaction.atomic():
                    services.cancel_purchase(
                        purchase,
                        by=request.user,
                        note=gettext("Cancelled from the admin by %(user)s.")
                        % {"user": request.user},
                    )
            except ValidationError as exc:
                skipped["; ".join(error_messages(exc))] += 1
                continue
            cancelled += 1
        if cancelled:
            self.message_user(
                request,
                ngettext(
                    "%(count)d purchase cancelled.",
                    "%(count)d purchases cancelled.",
                    cancelled,
                )
                % {"count": cancelled},
                messages.SUCCESS,
            )
        report_skipped(self, request, skipped)


def receipt_link_html(payment: Payment) -> str:
    if not payment.receipt:
        return "—"
    url = reverse("admin:packages_payment_receipt", args=[payment.pk])
    return format_html(
        '<a href="{}" target="_blank" rel="noopener">{}</a>', url, gettext("View")
    )


class ReceiptFilter(admin.SimpleListFilter):
    title = _("receipt")
    parameter_name = "receipt"

    def lookups(self, request, model_admin):
        return [("yes", _("With a receipt")), ("no", _("Without a receipt"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.exclude(receipt="")
        if self.value() == "no":
            return queryset.filter(receipt="")
        return queryset


@admin.register(Payment)
class PaymentAdmin(ServiceErrorsAsMessagesMixin, ClientSearchMixin, admin.ModelAdmin):
    form = PaymentAdminForm
    list_display = [
        "paid_at",
        "client",
        "amount",
        "method",
        "purchase_display",
        "received_by",
        "receipt_column",
    ]
    list_select_related = ["client", "purchase__package", "received_by"]
    list_filter = ["method", "paid_at", ReceiptFilter]
    client_search_prefix = "client__"
    client_search_text_fields = ("reference",)
    search_fields = [
        "client__first_name",
        "client__last_name",
        "client__phone",
        "reference",
    ]
    autocomplete_fields = ["client", "purchase", "appointment"]
    fields = [
        "client",
        ("amount", "method"),
        "paid_at",
        "purchase",
        "appointment",
        "reference",
        "receipt",
        "received_by",
    ]
    readonly_fields = ["received_by"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = 50

    def get_urls(self):
        urls = [
            path(
                "<path:object_id>/receipt/",
                self.admin_site.admin_view(self.receipt_view),
                name="packages_payment_receipt",
            )
        ]
        return urls + super().get_urls()

    def receipt_view(self, request, object_id):
        """The receipt file, to staff who may see payments; never from MEDIA_URL."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        payment = self.get_object(request, unquote(object_id))
        if payment is None or not payment.receipt:
            raise Http404(gettext("This payment has no receipt."))
        try:
            handle = payment.receipt.open("rb")
        except FileNotFoundError as exc:
            raise Http404(gettext("The receipt file is missing.")) from exc
        response = FileResponse(handle, filename=os.path.basename(payment.receipt.name))
        response["Cache-Control"] = "private, no-store"
        return response

    def get_changeform_initial_data(self, request):
        initial = {"paid_at": timezone.now()}
        initial.update(super().get_changeform_initial_data(request))
        return initial

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        data = form.cleaned_data
        payment = services.record_payment(
            data["client"],
            amount=data["amount"],
            method=data["method"],
            purchase=data.get("purchase"),
            appointment=data.get("appointment"),
            paid_at=data.get("paid_at"),
            reference=data.get("reference", ""),
            receipt=data.get("receipt") or None,
            by=request.user,
        )
        copy_saved(payment, obj)

    @admin.display(description=_("package purchase"), ordering="purchase")
    def purchase_display(self, obj):
        if obj.purchase is None:
            return "—"
        return admin_link(obj.purchase, obj.purchase.package.name)

    @admin.display(description=_("receipt"))
    def receipt_column(self, obj):
        return receipt_link_html(obj)
