"""The lead list and page: badges, scoping, intake on add, bulk actions."""

from collections import Counter

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from crm_project.admin_tools import (
    ServiceErrorsAsMessagesMixin,
    StaffFilter,
    StatusHistoryInline,
    copy_saved,
    error_messages,
    report_skipped,
)
from crm_project.pagination import EstimatedCountPaginator

from .. import services
from ..forms import AssignForm, LeadAdminForm, LostForm
from ..models import OPEN_STATUSES, Lead, LeadFollowUp, LeadStatus, LeadStatusHistory
from .common import (
    ImportButtonMixin,
    LeadOverdueFilter,
    LeadSearchMixin,
    badge,
    local_datetime,
    sees_all_leads,
)

# --- Lead page inlines ----------------------------------------------------------------


class LeadFollowUpInline(admin.TabularInline):
    """New rows go through schedule_follow_up (see LeadAdmin.save_formset)."""

    model = LeadFollowUp
    extra = 0
    fields = ["due_at", "note", "status", "assigned_to"]
    readonly_fields = ["assigned_to"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("assigned_to")


class LeadStatusHistoryInline(StatusHistoryInline):
    model = LeadStatusHistory

    def render_badge(self, value: str, label) -> str:
        return badge("lead", value, label)


@admin.register(Lead)
class LeadAdmin(
    ImportButtonMixin, ServiceErrorsAsMessagesMixin, LeadSearchMixin, admin.ModelAdmin
):
    form = LeadAdminForm
    view_on_site = False  # get_absolute_url is this very page
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
        ("assigned_to", StaffFilter),
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
