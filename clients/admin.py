import re

from django import forms
from django.contrib import admin
from django.db import IntegrityError, models
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from appointments.models import Appointment
from crm_project.admin_tools import (
    ClientSearchMixin,
    ReadOnlyInlineMixin,
    ServiceErrorsAsMessagesMixin,
    admin_link,
    stage_badge,
    status_badge,
)
from crm_project.pagination import EstimatedCountPaginator
from packages.models import PackagePurchase

from .forms import ClientAdminForm
from .models import Client, ClientNote, Interaction, Tag
from .selectors import MEDICAL_FIELDS, can_see_medical_info

HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "swatch", "client_count"]
    search_fields = ["name"]
    list_per_page = 50

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_client_count=Count("clients"))

    @admin.display(description=_("colour"), ordering="color")
    def swatch(self, obj):
        if not HEX_COLOUR.match(obj.color or ""):
            return obj.color
        return format_html(
            '<span class="crm-swatch" style="background-color: {}"></span>'
            "<code>{}</code>",
            obj.color,
            obj.color,
        )

    @admin.display(description=_("clients"), ordering="_client_count")
    def client_count(self, obj):
        return obj._client_count


# --- Client page inlines ------------------------------------------------------------


class ClientPurchaseInline(ReadOnlyInlineMixin, admin.TabularInline):
    model = PackagePurchase
    verbose_name_plural = _("package purchases (latest 20)")
    fields = [
        "purchase_link",
        "status_badge",
        "sessions",
        "purchased_on",
        "expires_on",
        "price_paid",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("package")
            .order_by("-purchased_on", "-id")
        )

    @admin.display(description=_("package"))
    def purchase_link(self, obj):
        return admin_link(obj, obj.package.name)

    @admin.display(description=_("status"))
    def status_badge(self, obj):
        return status_badge(obj.status, obj.get_status_display())

    @admin.display(description=_("sessions used"))
    def sessions(self, obj):
        return f"{obj.sessions_used} / {obj.sessions_total}"


class ClientAppointmentInline(ReadOnlyInlineMixin, admin.TabularInline):
    model = Appointment
    fk_name = "client"
    verbose_name_plural = _("appointments (latest 20)")
    fields = ["appointment_link", "service", "staff", "status_badge", "price"]
    readonly_fields = fields

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("service", "staff")
            .order_by("-start_at", "-id")
        )

    @admin.display(description=_("starts"))
    def appointment_link(self, obj):
        when = timezone.localtime(obj.start_at).strftime("%Y-%m-%d %H:%M")
        return admin_link(obj, when)

    @admin.display(description=_("status"))
    def status_badge(self, obj):
        return status_badge(obj.status, obj.get_status_display())


class ClientNoteInline(admin.TabularInline):
    model = ClientNote
    extra = 0
    fields = ["body", "pinned", "private", "author", "created_at"]
    readonly_fields = ["author", "created_at"]
    formfield_overrides = {
        models.TextField: {"widget": forms.Textarea(attrs={"rows": 2, "cols": 60})}
    }

    def get_queryset(self, request):
        # A private note is its author's alone, here as on the notes list.
        return (
            super()
            .get_queryset(request)
            .visible_to(request.user)
            .select_related("author")
        )


class InteractionInline(admin.TabularInline):
    model = Interaction
    extra = 0
    fields = [
        "occurred_at",
        "type",
        "channel",
        "direction",
        "subject",
        "outcome",
        "handled_by",
        "follow_up_on",
    ]
    autocomplete_fields = ["handled_by"]
    formfield_overrides = {
        models.TextField: {"widget": forms.Textarea(attrs={"rows": 2, "cols": 40})}
    }

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("handled_by")

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "handled_by":
            kwargs.setdefault("initial", request.user.pk)
        elif db_field.name == "occurred_at":
            kwargs.setdefault("initial", timezone.now)
        return super().formfield_for_dbfield(db_field, request, **kwargs)


@admin.register(Client)
class ClientAdmin(ServiceErrorsAsMessagesMixin, ClientSearchMixin, admin.ModelAdmin):
    view_on_site = False  # get_absolute_url is this very page
    form = ClientAdminForm
    # A duplicate phone or email saved by someone else between validation and save.
    service_errors = (IntegrityError,)
    list_display = [
        "name",
        "phone",
        "email",
        "stage",
        "total_visits",
        "last_visit_at",
        "total_spent",
        "lifetime_value",
        "rfm_score",
        "tag_list",
    ]
    # Nothing in the list needs a join; the figures are stored on the client.
    list_select_related = []
    list_filter = [
        "lifecycle_stage",
        "tags",
        "preferred_channel",
        "preferred_language",
        # Marketing consent lives with the outbox (communications.ContactPreferences,
        # edited inline on the client page).
        "contact_preferences__marketing_email",
        "contact_preferences__marketing_sms",
        "contact_preferences__marketing_whatsapp",
        "created_at",
    ]
    # What the search looks at; get_search_results does the work (see search_clients).
    search_fields = ["first_name", "last_name", "phone", "email", "referral_code"]
    search_help_text = _(
        "A name, a phone number in any format, an email, or a referral code."
    )
    autocomplete_fields = ["referred_by", "tags"]
    filter_horizontal = ["conditions"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = 50
    inlines = [
        ClientPurchaseInline,
        ClientAppointmentInline,
        ClientNoteInline,
        InteractionInline,
    ]
    readonly_fields = [
        "referral_code",
        "lifecycle_stage",
        "total_visits",
        "first_visit_at",
        "last_visit_at",
        "total_spent",
        "lifetime_value",
        "rfm_score",
        "figures_updated_at",
        "records",
        "created_at",
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("tags")

    def get_fieldsets(self, request, obj=None):
        fieldsets = [
            (
                _("Client"),
                {
                    "fields": [
                        ("first_name", "last_name"),
                        "phone",
                        "email",
                        "birth_date",
                        "address",
                        "preferred_language",
                    ]
                },
            ),
            (
                _("Contact preferences"),
                {
                    "fields": [
                        "preferred_channel",
                    ]
                },
            ),
            (
                _("Emergency contact"),
                {"fields": ["emergency_contact_name", "emergency_contact_phone"]},
            ),
        ]
        if can_see_medical_info(request.user):
            fieldsets.append((_("Medical"), {"fields": list(MEDICAL_FIELDS)}))
        if obj is None:
            fieldsets.append(
                (_("Referrals and tags"), {"fields": ["referred_by", "tags"]})
            )
            return fieldsets
        fieldsets += [
            (
                _("Referrals and tags"),
                {"fields": ["referral_code", "referred_by", "tags"]},
            ),
            (
                _("Figures"),
                {
                    "fields": [
                        "records",
                        "lifecycle_stage",
                        "total_visits",
                        ("first_visit_at", "last_visit_at"),
                        ("total_spent", "lifetime_value"),
                        "rfm_score",
                        ("figures_updated_at", "created_at"),
                    ],
                    "description": _(
                        "Computed from appointments and payments; they cannot be "
                        "edited here."
                    ),
                },
            ),
        ]
        return fieldsets

    def get_exclude(self, request, obj=None):
        # Not only out of the fieldsets: out of the form, so a crafted POST cannot
        # write them either.
        if can_see_medical_info(request.user):
            return super().get_exclude(request, obj)
        return [*(super().get_exclude(request, obj) or []), *MEDICAL_FIELDS]

    def get_inlines(self, request, obj):
        if obj is None:
            return [ClientNoteInline, InteractionInline]
        return super().get_inlines(request, obj)

    def save_formset(self, request, form, formset, change):
        if formset.model is not ClientNote:
            return super().save_formset(request, form, formset, change)
        notes = formset.save(commit=False)
        for note in notes:
            if note.pk is None:
                note.author = request.user
            note.save()
        for note in formset.deleted_objects:
            note.delete()
        formset.save_m2m()
        return notes

    @admin.display(description=_("name"), ordering="last_name")
    def name(self, obj):
        return obj.full_name

    @admin.display(description=_("stage"), ordering="lifecycle_stage")
    def stage(self, obj):
        return stage_badge(obj.lifecycle_stage, obj.get_lifecycle_stage_display())

    @admin.display(description=_("tags"))
    def tag_list(self, obj):
        tags = [t for t in obj.tags.all() if HEX_COLOUR.match(t.color or "")]
        return format_html_join(
            " ",
            '<span class="badge crm-tag" style="background-color: {}">{}</span>',
            ((t.color, t.name) for t in tags),
        )

    @admin.display(description=_("records"))
    def records(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        links = [
            (reverse("admin:appointments_appointment_changelist"), _("Appointments")),
            (reverse("admin:packages_packagepurchase_changelist"), _("Purchases")),
            (reverse("admin:packages_payment_changelist"), _("Payments")),
            (reverse("admin:clients_interaction_changelist"), _("Interactions")),
        ]
        return format_html_join(
            " · ",
            '<a href="{}?client__id__exact={}">{}</a>',
            ((url, obj.pk, label) for url, label in links),
        )


@admin.register(ClientNote)
class ClientNoteAdmin(ClientSearchMixin, admin.ModelAdmin):
    list_display = ["excerpt", "client", "author", "pinned", "private", "created_at"]
    list_select_related = ["client", "author"]
    list_filter = ["pinned", "private", "created_at"]
    client_search_prefix = "client__"
    client_search_text_fields = ("body",)
    search_fields = ["client__first_name", "client__last_name", "client__phone", "body"]
    autocomplete_fields = ["client"]
    fields = ["client", "body", "pinned", "private", "author", "created_at"]
    readonly_fields = ["author", "created_at"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = 50

    def get_queryset(self, request):
        return ClientNote.objects.visible_to(request.user)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.author = request.user
        super().save_model(request, obj, form, change)

    @admin.display(description=_("note"))
    def excerpt(self, obj):
        return obj.body if len(obj.body) <= 80 else f"{obj.body[:79]}…"


@admin.register(Interaction)
class InteractionAdmin(ClientSearchMixin, admin.ModelAdmin):
    list_display = [
        "occurred_at",
        "client",
        "type",
        "channel",
        "direction",
        "subject",
        "handled_by",
        "follow_up_on",
    ]
    list_select_related = ["client", "handled_by"]
    list_filter = ["type", "channel", "direction", "occurred_at", "follow_up_on"]
    client_search_prefix = "client__"
    client_search_text_fields = ("subject",)
    search_fields = [
        "client__first_name",
        "client__last_name",
        "client__phone",
        "subject",
    ]
    autocomplete_fields = ["client", "handled_by"]
    fields = [
        "client",
        "occurred_at",
        ("type", "channel", "direction"),
        "subject",
        "outcome",
        "handled_by",
        "follow_up_on",
    ]
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = 50

    def get_changeform_initial_data(self, request):
        initial = {"occurred_at": timezone.now(), "handled_by": request.user.pk}
        initial.update(super().get_changeform_initial_data(request))
        return initial
