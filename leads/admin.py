"""The leads admin: lists, badges, the salesperson's own leads, bulk actions, imports.

Presentation only: every change goes through leads.services (and leads.importing for
files). A salesperson sees only the leads (and follow-ups) assigned to them; users
holding ``leads.view_all_leads`` see everyone's.
"""

import csv
import json
import secrets
from collections import Counter
from pathlib import Path

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.http import HttpResponseRedirect, JsonResponse
from django.http.response import StreamingHttpResponse
from django.shortcuts import get_object_or_404
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
    admin_link,
    copy_saved,
    error_messages,
    report_skipped,
    search_by_contact,
)
from crm_project.pagination import EstimatedCountPaginator

from . import services
from .forms import (
    AssignForm,
    ImportMappingForm,
    ImportUploadForm,
    LeadAdminForm,
    LostForm,
)
from .models import (
    OPEN_STATUSES,
    ImportLog,
    Lead,
    LeadFollowUp,
    LeadStatus,
    LeadStatusHistory,
    WebhookDelivery,
    WebhookSecret,
)

SESSION_IMPORTS = "leads_pending_imports"
# Uploads waiting between the dry run and the import; older ones are swept.
TMP_MAX_AGE_SECONDS = 24 * 3600


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


class SalespersonFilter(admin.RelatedFieldListFilter):
    """Staff members only, not every user account."""

    def field_choices(self, field, request, model_admin):
        ordering = self.field_admin_ordering(field, request, model_admin)
        return field.get_choices(
            include_blank=False,
            ordering=ordering,
            limit_choices_to={"is_staff": True},
        )


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


# --- Lead page inlines ----------------------------------------------------------------


class LeadFollowUpInline(admin.TabularInline):
    """New rows go through schedule_follow_up (see LeadAdmin.save_formset)."""

    model = LeadFollowUp
    extra = 0
    fields = ["due_at", "note", "status", "assigned_to"]
    readonly_fields = ["assigned_to"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("assigned_to")


class LeadStatusHistoryInline(ReadOnlyInlineMixin, admin.TabularInline):
    model = LeadStatusHistory
    verbose_name_plural = _("status history")
    fields = ["changed_at", "from_badge", "to_badge", "changed_by", "note"]
    readonly_fields = fields
    max_rows = None

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("changed_by")
            .order_by("-changed_at", "-id")
        )

    @admin.display(description=_("from"))
    def from_badge(self, obj):
        if not obj.from_status:
            return "—"
        return badge("lead", obj.from_status, obj.get_from_status_display())

    @admin.display(description=_("to"))
    def to_badge(self, obj):
        return badge("lead", obj.to_status, obj.get_to_status_display())


class ImportButtonMixin:
    """The "Import leads" button on a changelist."""

    change_list_template = "admin/leads/change_list_import.html"

    def changelist_view(self, request, extra_context=None):
        extra_context = extra_context or {}
        if request.user.has_perm("leads.add_importlog"):
            extra_context["import_url"] = reverse("admin:leads_importlog_upload")
        return super().changelist_view(request, extra_context)


@admin.register(Lead)
class LeadAdmin(
    ImportButtonMixin, ServiceErrorsAsMessagesMixin, LeadSearchMixin, admin.ModelAdmin
):
    form = LeadAdminForm
    # A duplicate phone or email saved by someone else between validation and save.
    service_errors = (ValidationError, IntegrityError)
    list_display = [
        "name",
        "phone",
        "email",
        "source_badge",
        "status_badge",
        "assigned_to",
        "received_at",
        "first_contact_due",
    ]
    list_select_related = ["assigned_to"]
    list_filter = [
        "status",
        "source",
        ("assigned_to", SalespersonFilter),
        LeadOverdueFilter,
    ]
    # What the search looks at; get_search_results does the work (search_leads).
    search_fields = ["full_name", "phone", "email"]
    search_help_text = _("A name, a phone number in any format, or an email.")
    autocomplete_fields = ["assigned_to", "client"]
    inlines = [LeadFollowUpInline, LeadStatusHistoryInline]
    actions = [
        "assign_to_salesperson",
        "assign_round_robin",
        "mark_contacted",
        "mark_lost",
        "convert_to_client",
    ]
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = 50

    add_fieldsets = [
        (
            None,
            {
                "fields": [
                    "full_name",
                    "phone",
                    "email",
                    "source",
                    "campaign_name",
                    "assigned_to",
                    "notes",
                ],
                "description": _(
                    "A phone or an email that matches an existing lead opens that "
                    "lead instead of creating a second one."
                ),
            },
        ),
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "full_name",
                    ("phone", "email"),
                    "invalid_contact",
                    "notes",
                ]
            },
        ),
        (
            _("Work"),
            {
                "fields": [
                    "status",
                    "status_note",
                    "lost_reason",
                    ("assigned_to", "assigned_at"),
                    "first_contact_due_at",
                    ("client", "converted_at"),
                ]
            },
        ),
        (
            _("Source"),
            {
                "fields": [
                    "source",
                    "received_at",
                    "external_id",
                    "campaign_name",
                    "ad_name",
                    "form_name",
                    ("utm_source", "utm_medium", "utm_campaign"),
                    ("utm_term", "utm_content"),
                    "import_log",
                    ("created_at", "updated_at"),
                ]
            },
        ),
    ]
    readonly_fields = [
        "invalid_contact",
        "assigned_at",
        "first_contact_due_at",
        "converted_at",
        "received_at",
        "import_log",
        "created_at",
        "updated_at",
    ]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if not sees_all_leads(request.user):
            queryset = queryset.filter(assigned_to=request.user)
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
        if not sees_all_leads(request.user):
            initial.setdefault("assigned_to", request.user.pk)
        return initial

    # --- list columns ---------------------------------------------------------------

    @admin.display(description=_("name"), ordering="full_name")
    def name(self, obj):
        return obj.full_name or "—"

    @admin.display(description=_("source"), ordering="source")
    def source_badge(self, obj):
        return badge("source", obj.source, obj.get_source_display())

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj):
        return badge("lead", obj.status, obj.get_status_display())

    @admin.display(description=_("first contact due"), ordering="first_contact_due_at")
    def first_contact_due(self, obj):
        if obj.first_contact_due_at is None or obj.status != LeadStatus.NEW:
            return "—"
        text = local_datetime(obj.first_contact_due_at)
        if obj.is_overdue:
            return format_html('<span class="crm-overdue">{}</span>', text)
        return text

    # --- saving through the services --------------------------------------------------

    def save_model(self, request, obj, form, change):
        if not change:
            self._add_lead(request, obj, form)
            return
        stored = Lead.objects.get(pk=obj.pk)
        changed = set(form.changed_data)
        editable = {
            f.name
            for f in Lead._meta.concrete_fields
            if f.editable and f.name not in ("status", "assigned_to")
        }
        new_status, new_assignee = obj.status, obj.assigned_to
        obj.status, obj.assigned_to = stored.status, stored.assigned_to
        update = changed & editable
        if new_status == LeadStatus.LOST:
            update.discard("lost_reason")  # the service records it with the change
        if update:
            obj.save(update_fields=[*sorted(update), "updated_at"])
        if "assigned_to" in changed:
            services.assign_lead(obj, new_assignee, by=request.user)
        if new_status != stored.status:
            saved = services.change_lead_status(
                obj,
                new_status,
                by=request.user,
                note=form.cleaned_data.get("status_note", ""),
                lost_reason=form.cleaned_data.get("lost_reason", ""),
            )
            copy_saved(saved, obj)
        else:
            obj.refresh_from_db()

    def _add_lead(self, request, obj, form) -> None:
        data = {
            name: form.cleaned_data.get(name)
            for name in ("full_name", "phone", "email", "campaign_name", "notes")
        }
        intake = services.create_or_merge_lead(data, source=obj.source, by=request.user)
        if intake.lead is None:
            raise ValidationError(intake.problem)
        assignee = form.cleaned_data.get("assigned_to")
        if assignee is None and not sees_all_leads(request.user):
            assignee = request.user
        lead = intake.lead
        if intake.created and assignee is not None:
            lead = services.assign_lead(lead, assignee, by=request.user)
        copy_saved(lead, obj)
        obj._matched_existing = not intake.created

    def response_add(self, request, obj, post_url_continue=None):
        if getattr(obj, "_matched_existing", False):
            self.message_user(
                request,
                format_html(
                    '{} <a href="{}">{}</a>',
                    gettext(
                        "A lead with this phone or email already exists; "
                        "no new lead was created:"
                    ),
                    reverse("admin:leads_lead_change", args=[obj.pk]),
                    obj,
                ),
                messages.WARNING,
            )
            return HttpResponseRedirect(
                reverse("admin:leads_lead_change", args=[obj.pk])
            )
        return super().response_add(request, obj, post_url_continue)

    def log_addition(self, request, obj, message):
        if getattr(obj, "_matched_existing", False):
            return None
        return super().log_addition(request, obj, message)

    def save_formset(self, request, form, formset, change):
        if formset.model is not LeadFollowUp:
            return super().save_formset(request, form, formset, change)
        lead = form.instance
        formset.save(commit=False)
        for follow_up in formset.deleted_objects:
            follow_up.delete()
        for follow_up, fields in formset.changed_objects:
            fields = set(fields)
            done = "status" in fields and follow_up.status == LeadFollowUp.Status.DONE
            if done:
                fields.discard("status")
            if fields:
                follow_up.save(update_fields=[*sorted(fields), "updated_at"])
            if done:
                services.complete_follow_up(follow_up, by=request.user)
        for follow_up in formset.new_objects:
            services.schedule_follow_up(
                lead,
                due_at=follow_up.due_at,
                note=follow_up.note,
                by=request.user,
            )
        return None

    # --- bulk actions -----------------------------------------------------------------

    def _intermediate(self, request, queryset, *, action, form, title, intro):
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "intro": intro,
            "form": form,
            "leads": list(queryset.order_by("pk")[:100]),
            "count": queryset.count(),
            "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
            "action": action,
            "opts": self.model._meta,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/leads/lead/action_form.html", context)

    def _report(
        self, request, changed: int, message, skipped: Counter, **params
    ) -> None:
        if changed:
            self.message_user(
                request,
                message(changed) % {"count": changed, **params},
                messages.SUCCESS,
            )
        elif not skipped:
            self.message_user(request, gettext("Nothing to change."), messages.INFO)
        report_skipped(self, request, skipped)

    def _each(self, request, queryset, change, *, skip=None) -> tuple[int, Counter]:
        """Run ``change(lead)`` per lead in its own savepoint; count what it did."""
        changed = 0
        skipped: Counter[str] = Counter()
        for lead in queryset.order_by("pk"):
            reason = skip(lead) if skip else None
            if reason:
                skipped[reason] += 1
                continue
            try:
                with transaction.atomic():
                    change(lead)
            except ValidationError as exc:
                skipped["; ".join(error_messages(exc))] += 1
            else:
                changed += 1
        return changed, skipped

    @admin.action(
        description=_("Assign the selected leads to a salesperson…"),
        permissions=["change"],
    )
    def assign_to_salesperson(self, request, queryset):
        form = AssignForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return self._intermediate(
                request,
                queryset,
                action="assign_to_salesperson",
                form=form,
                title=gettext("Assign leads"),
                intro=gettext("Choose the salesperson who will work these leads."),
            )
        person = form.cleaned_data["salesperson"]
        changed, skipped = self._each(
            request,
            queryset,
            lambda lead: services.assign_lead(lead, person, by=request.user),
            skip=lambda lead: (
                gettext("already assigned to them")
                if lead.assigned_to_id == person.pk
                else None
            ),
        )
        self._report(
            request,
            changed,
            lambda n: ngettext(
                "%(count)d lead assigned to %(name)s.",
                "%(count)d leads assigned to %(name)s.",
                n,
            ),
            skipped,
            name=person.get_full_name() or person.get_username(),
        )
        return None

    @admin.action(
        description=_("Assign the selected leads round-robin"), permissions=["change"]
    )
    def assign_round_robin(self, request, queryset):
        skipped: Counter[str] = Counter()
        leads = []
        for lead in queryset.order_by("pk"):
            if lead.status not in OPEN_STATUSES:
                skipped[gettext("converted or lost")] += 1
            else:
                leads.append(lead)
        changed = 0
        if leads:
            changed = services.assign_round_robin(leads, by=request.user)
            if not changed:
                skipped[gettext("no active salesperson to assign to")] += len(leads)
        self._report(
            request,
            changed,
            lambda n: ngettext(
                "%(count)d lead assigned round-robin.",
                "%(count)d leads assigned round-robin.",
                n,
            ),
            skipped,
        )

    @admin.action(
        description=_("Mark the selected leads as contacted"), permissions=["change"]
    )
    def mark_contacted(self, request, queryset):
        def skip(lead):
            if lead.status == LeadStatus.CONTACTED:
                return gettext("already contacted")
            if lead.status not in OPEN_STATUSES:
                return gettext("converted or lost")
            if lead.status != LeadStatus.NEW:
                return gettext("already past first contact")
            return None

        changed, skipped = self._each(
            request,
            queryset,
            lambda lead: services.change_lead_status(
                lead, LeadStatus.CONTACTED, by=request.user
            ),
            skip=skip,
        )
        self._report(
            request,
            changed,
            lambda n: ngettext(
                "%(count)d lead marked as contacted.",
                "%(count)d leads marked as contacted.",
                n,
            ),
            skipped,
        )

    @admin.action(
        description=_("Mark the selected leads as lost…"), permissions=["change"]
    )
    def mark_lost(self, request, queryset):
        form = LostForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return self._intermediate(
                request,
                queryset,
                action="mark_lost",
                form=form,
                title=gettext("Mark leads as lost"),
                intro=gettext("Say why these leads were lost; it is kept on each."),
            )
        reason = form.cleaned_data["lost_reason"]

        def skip(lead):
            if lead.status == LeadStatus.LOST:
                return gettext("already lost")
            if lead.status == LeadStatus.CONVERTED:
                return gettext("already converted")
            return None

        changed, skipped = self._each(
            request,
            queryset,
            lambda lead: services.change_lead_status(
                lead, LeadStatus.LOST, by=request.user, lost_reason=reason
            ),
            skip=skip,
        )
        self._report(
            request,
            changed,
            lambda n: ngettext(
                "%(count)d lead marked as lost.", "%(count)d leads marked as lost.", n
            ),
            skipped,
        )
        return None

    @admin.action(
        description=_("Convert the selected leads into clients"),
        permissions=["change"],
    )
    def convert_to_client(self, request, queryset):
        changed, skipped = self._each(
            request,
            queryset,
            lambda lead: services.convert_lead(lead, by=request.user),
            skip=lambda lead: gettext("already converted") if lead.client_id else None,
        )
        self._report(
            request,
            changed,
            lambda n: ngettext(
                "%(count)d lead converted into a client.",
                "%(count)d leads converted into clients.",
                n,
            ),
            skipped,
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
    list_filter = ["status", FollowUpOverdueFilter, ("assigned_to", SalespersonFilter)]
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


class ReadOnlyAdminMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


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


@admin.register(WebhookSecret)
class WebhookSecretAdmin(admin.ModelAdmin):
    list_display = ["hook", "masked_secret", "is_active", "updated_at"]
    list_filter = ["is_active"]
    search_fields = ["hook"]
    fields = ["hook", "secret", "verify_token", "is_active"]

    @admin.display(description=_("secret"))
    def masked_secret(self, obj):
        if not obj.secret:
            return "—"
        return "•" * 8 + obj.secret[-4:] if len(obj.secret) > 8 else "•" * 8


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["received_at", "hook", "external_id", "outcome", "lead_link"]
    list_select_related = ["lead"]
    list_filter = ["hook", "outcome", "received_at"]
    search_fields = ["=external_id"]
    search_help_text = _("The delivery's external id, exactly.")
    fields = [
        "hook",
        "received_at",
        "external_id",
        "outcome",
        "lead",
        "remote_addr",
        "payload_pretty",
        "headers_pretty",
    ]
    readonly_fields = fields
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = 50

    @admin.display(description=_("lead"), ordering="lead")
    def lead_link(self, obj):
        return admin_link(obj.lead)

    @admin.display(description=_("payload"))
    def payload_pretty(self, obj):
        text = json.dumps(obj.payload, indent=2, ensure_ascii=False, sort_keys=True)
        return format_html('<pre class="crm-json">{}</pre>', text)

    @admin.display(description=_("headers"))
    def headers_pretty(self, obj):
        text = json.dumps(obj.headers, indent=2, ensure_ascii=False, sort_keys=True)
        return format_html('<pre class="crm-json">{}</pre>', text)


# --- Imports ------------------------------------------------------------------------


class Echo:
    """A file-like object whose write returns the line, for streaming csv."""

    def write(self, value):
        return value


def _used(mapping: dict) -> dict:
    return {header: field for header, field in (mapping or {}).items() if field}


def _tmp_dir() -> Path:
    directory = Path(settings.MEDIA_ROOT) / "imports" / "tmp"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _sweep_tmp(directory: Path) -> None:
    cutoff = timezone.now().timestamp() - TMP_MAX_AGE_SECONDS
    for item in directory.iterdir():
        try:
            if item.is_file() and item.stat().st_mtime < cutoff:
                item.unlink()
        except OSError:
            pass


@admin.register(ImportLog)
class ImportLogAdmin(ImportButtonMixin, admin.ModelAdmin):
    list_display = [
        "__str__",
        "created_at",
        "source",
        "status_badge",
        "total_rows",
        "created_count",
        "duplicate_in_file_count",
        "duplicate_existing_count",
        "bad_row_count",
        "created_by",
    ]
    list_select_related = ["created_by"]
    list_filter = ["status", "source", "format"]
    search_fields = ["original_name"]
    change_form_template = "admin/leads/importlog/change_form.html"
    fields = [
        "original_name",
        "sheet_url",
        "format",
        "encoding",
        "delimiter",
        "source",
        "assign",
        "mapping",
        "created_by",
        "created_at",
        "started_at",
        "finished_at",
        "reverted_at",
        "reverted_count",
        "file_sha256",
    ]
    readonly_fields = fields
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = 50

    def has_change_permission(self, request, obj=None):
        return False

    def add_view(self, request, form_url="", extra_context=None):
        return HttpResponseRedirect(reverse("admin:leads_importlog_upload"))

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("upload/", wrap(self.upload_view), name="leads_importlog_upload"),
            path(
                "preview/<slug:token>/",
                wrap(self.preview_view),
                name="leads_importlog_preview",
            ),
            path(
                "<int:pk>/progress/",
                wrap(self.progress_view),
                name="leads_importlog_progress",
            ),
            path(
                "<int:pk>/report/",
                wrap(self.report_view),
                name="leads_importlog_report",
            ),
            path(
                "<int:pk>/revert/",
                wrap(self.revert_view),
                name="leads_importlog_revert",
            ),
            *super().get_urls(),
        ]

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj):
        return badge("import", obj.status, obj.get_status_display())

    # --- the change page: progress, report, revert ------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        extra_context["may_revert"] = request.user.has_perm("leads.change_importlog")
        extra_context["running_statuses"] = [
            ImportLog.Status.QUEUED,
            ImportLog.Status.RUNNING,
        ]
        return super().change_view(request, object_id, form_url, extra_context)

    def _get_log(self, request, pk) -> ImportLog:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return get_object_or_404(ImportLog, pk=pk)

    def progress_view(self, request, pk):
        log = self._get_log(request, pk)
        return JsonResponse(
            {
                "status": log.status,
                "status_display": str(log.get_status_display()),
                "percent": log.progress_percent,
                "total": log.total_rows,
                "processed": log.processed_rows,
                "created": log.created_count,
                "duplicate_in_file": log.duplicate_in_file_count,
                "duplicate_existing": log.duplicate_existing_count,
                "bad": log.bad_row_count,
                "error": log.error,
                "finished": log.status
                not in (ImportLog.Status.QUEUED, ImportLog.Status.RUNNING),
            }
        )

    def report_view(self, request, pk):
        from .importing import report_rows

        log = self._get_log(request, pk)
        writer = csv.writer(Echo())
        response = StreamingHttpResponse(
            (writer.writerow(row) for row in report_rows(log)),
            content_type="text/csv; charset=utf-8",
        )
        response["Content-Disposition"] = (
            f'attachment; filename="lead-import-{log.pk}-report.csv"'
        )
        return response

    def revert_view(self, request, pk):
        from .importing import revert_import

        log = self._get_log(request, pk)
        if not request.user.has_perm("leads.change_importlog"):
            raise PermissionDenied
        change_url = reverse("admin:leads_importlog_change", args=[log.pk])
        if request.method == "POST":
            try:
                removed = revert_import(log, by=request.user)
            except ValidationError as exc:
                for reason in error_messages(exc):
                    self.message_user(request, reason, messages.ERROR)
            else:
                self.message_user(
                    request,
                    ngettext(
                        "Import reverted: %(count)d lead removed.",
                        "Import reverted: %(count)d leads removed.",
                        removed,
                    )
                    % {"count": removed},
                    messages.SUCCESS,
                )
            return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Revert the import"),
            "log": log,
            "opts": self.model._meta,
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/leads/importlog/revert.html", context)

    # --- upload and dry run -----------------------------------------------------------

    def _check_may_import(self, request) -> None:
        if not request.user.has_perm("leads.add_importlog"):
            raise PermissionDenied

    def upload_view(self, request):
        from .importing import ImportFileError, inspect_source
        from .importing.sources import open_table

        self._check_may_import(request)
        form = ImportUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            pending = {
                "source": form.cleaned_data["source"],
                "assign": form.cleaned_data["assign"],
                "sheet_url": form.cleaned_data.get("sheet_url") or "",
                "original_name": "",
                "tmp": "",
                "mapping": None,
            }
            token = secrets.token_urlsafe(16).replace("-", "x").replace("_", "y")
            upload = form.cleaned_data.get("file")
            directory = _tmp_dir()
            _sweep_tmp(directory)
            tmp_path = None
            try:
                if upload is not None:
                    suffix = Path(upload.name).suffix.lower()
                    tmp_path = directory / f"{token}{suffix}"
                    with tmp_path.open("wb") as out:
                        for chunk in upload.chunks():
                            out.write(chunk)
                    pending["tmp"] = tmp_path.name
                    pending["original_name"] = Path(upload.name).name[:255]
                    # Readable is enough here: the dry run lets the user fix the
                    # column mapping.
                    open_table(tmp_path)
                else:
                    inspect_source(
                        sheet_url=pending["sheet_url"],
                        source=pending["source"],
                        sample_rows=1,
                    )
            except ImportFileError as exc:
                if tmp_path is not None:
                    tmp_path.unlink(missing_ok=True)
                for reason in error_messages(exc):
                    form.add_error("file" if upload else "sheet_url", reason)
            else:
                imports = request.session.get(SESSION_IMPORTS, {})
                imports[token] = pending
                request.session[SESSION_IMPORTS] = imports
                return HttpResponseRedirect(
                    reverse("admin:leads_importlog_preview", args=[token])
                )
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Import leads"),
            "form": form,
            "opts": self.model._meta,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/leads/importlog/upload.html", context)

    def preview_view(self, request, token):
        from .importing import ImportFileError, inspect_source
        from .importing.columns import FIELDS
        from .importing.sources import open_table

        self._check_may_import(request)
        imports = request.session.get(SESSION_IMPORTS, {})
        pending = imports.get(token)
        upload_url = reverse("admin:leads_importlog_upload")
        tmp_path = _tmp_dir() / pending["tmp"] if pending and pending["tmp"] else None
        if pending is None or (tmp_path is not None and not tmp_path.exists()):
            self.message_user(
                request,
                gettext("That upload has expired; please upload the file again."),
                messages.WARNING,
            )
            return HttpResponseRedirect(upload_url)

        def inspect(mapping):
            """The dry run, or (None, headers, reasons) when the mapping is unusable."""
            try:
                preview = inspect_source(
                    path=str(tmp_path) if tmp_path else None,
                    sheet_url=pending["sheet_url"] or None,
                    source=pending["source"],
                    mapping=mapping,
                )
            except ImportFileError as exc:
                reasons = error_messages(exc)
                if tmp_path is None:
                    return None, [], reasons
                try:
                    headers = open_table(tmp_path).headers
                except ImportFileError as unreadable:
                    return None, [], error_messages(unreadable)
                return None, headers, reasons
            return preview, preview.headers, []

        field_choices = [(value, str(label)) for value, label in FIELDS]
        preview, headers, errors = inspect(pending["mapping"])
        if preview is None and not headers:
            for reason in errors:
                self.message_user(request, reason, messages.ERROR)
            return HttpResponseRedirect(upload_url)
        mapping = preview.mapping if preview else (pending["mapping"] or {})
        form = ImportMappingForm(
            request.POST or None,
            headers=headers,
            fields=field_choices,
            mapping=mapping,
        )
        if request.method == "POST" and form.is_valid():
            mapping = form.mapping()
            if "import" in request.POST and preview is not None:
                if _used(mapping) == _used(preview.mapping):
                    return self._start(request, token, pending, tmp_path, mapping)
            preview, headers, errors = inspect(mapping)
            if preview is None and not headers:
                for reason in errors:
                    self.message_user(request, reason, messages.ERROR)
                return HttpResponseRedirect(upload_url)
            pending["mapping"] = mapping
            imports[token] = pending
            request.session[SESSION_IMPORTS] = imports
            form = ImportMappingForm(
                headers=headers, fields=field_choices, mapping=mapping
            )
        sample = preview.sample if preview else []
        sample_columns = list(sample[0].keys()) if sample else []
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Import leads: check before importing"),
            "preview": preview,
            "form": form,
            "mapping_errors": errors,
            "pending": pending,
            "sample_columns": sample_columns,
            "sample_rows": [
                [row.get(column, "") for column in sample_columns] for row in sample
            ],
            "source_display": dict(Lead.Source.choices).get(pending["source"]),
            "assign_display": dict(ImportLog.Assign.choices).get(pending["assign"]),
            "opts": self.model._meta,
            "upload_url": upload_url,
        }
        return TemplateResponse(request, "admin/leads/importlog/preview.html", context)

    def _start(self, request, token, pending, tmp_path, mapping):
        from .importing import ImportFileError, start_import

        try:
            if tmp_path is not None:
                with tmp_path.open("rb") as handle:
                    log = start_import(
                        upload=File(handle, name=pending["original_name"]),
                        source=pending["source"],
                        mapping=mapping,
                        assign=pending["assign"],
                        by=request.user,
                    )
            else:
                log = start_import(
                    sheet_url=pending["sheet_url"],
                    source=pending["source"],
                    mapping=mapping,
                    assign=pending["assign"],
                    by=request.user,
                )
        except ImportFileError as exc:
            for reason in error_messages(exc):
                self.message_user(request, reason, messages.ERROR)
            return HttpResponseRedirect(
                reverse("admin:leads_importlog_preview", args=[token])
            )
        imports = request.session.get(SESSION_IMPORTS, {})
        imports.pop(token, None)
        request.session[SESSION_IMPORTS] = imports
        if tmp_path is not None:
            tmp_path.unlink(missing_ok=True)
        self.message_user(
            request,
            gettext("The import has started; this page shows its progress."),
            messages.SUCCESS,
        )
        return HttpResponseRedirect(
            reverse("admin:leads_importlog_change", args=[log.pk])
        )
