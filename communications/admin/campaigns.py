"""Segments (with a live count and sample before saving) and campaigns (status
badges, statistics, "send now" and "cancel" through communications.campaigns)."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from clients.models import Client

from .. import campaigns as campaign_services
from ..models import Campaign, Channel, MessageKind, MessageTemplate, Reason, Segment
from ..segments import SAMPLE_SIZE, segment_count, segment_sample

CAMPAIGN_COLOURS = {
    Campaign.Status.DRAFT: "secondary",
    Campaign.Status.SCHEDULED: "info",
    Campaign.Status.SENDING: "primary",
    Campaign.Status.SENT: "success",
    Campaign.Status.CANCELLED: "dark",
}
M2M_CRITERIA = ("tags_included", "tags_excluded", "services_used")


class SegmentForm(forms.ModelForm):
    """The criteria; the "Preview" button fills ``preview`` (count and sample for the
    criteria as typed) and reports the form invalid, so nothing is saved."""

    PREVIEW = "_preview"

    lifecycle_stages = forms.MultipleChoiceField(
        label=_("lifecycle stages"),
        choices=Client.Stage.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("None ticked: every stage."),
    )

    class Meta:
        model = Segment
        fields = [
            "name",
            "description",
            "min_visits",
            "min_spent",
            "min_days_since_last_visit",
            "max_days_since_last_visit",
            "lifecycle_stages",
            "min_rfm",
            "max_rfm",
            "has_active_package",
            "birthday_month",
            "tags_included",
            "tags_excluded",
            "services_used",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.preview = None
        if not self.is_bound and self.instance.pk:
            self.preview = self._preview(self.instance)

    def clean(self):
        cleaned = super().clean()
        low, high = (
            cleaned.get("min_days_since_last_visit"),
            cleaned.get("max_days_since_last_visit"),
        )
        if low is not None and high is not None and low > high:
            self.add_error(
                "max_days_since_last_visit",
                _("A client cannot have visited within fewer days than they have not."),
            )
        return cleaned

    def is_valid(self) -> bool:
        valid = super().is_valid()
        if valid and self.PREVIEW in self.data:
            # self.instance holds the typed values (not saved); M2M come from the form.
            self.preview = self._preview(
                self.instance, **{f: self.cleaned_data[f] for f in M2M_CRITERIA}
            )
            return False
        return valid

    @staticmethod
    def _preview(segment: Segment, **criteria) -> dict:
        return {
            "count": segment_count(segment, **criteria),
            "sample": segment_sample(segment, SAMPLE_SIZE, **criteria),
        }


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    form = SegmentForm
    change_form_template = "admin/communications/segment/change_form.html"
    list_display = ["name", "description", "campaign_count", "updated_at"]
    search_fields = ["name", "description"]
    autocomplete_fields = ["tags_included", "tags_excluded", "services_used"]
    fieldsets = [
        (None, {"fields": ["name", "description"]}),
        (
            _("Visits and spending"),
            {
                "fields": [
                    ("min_visits", "min_spent"),
                    ("min_days_since_last_visit", "max_days_since_last_visit"),
                    ("min_rfm", "max_rfm"),
                    "lifecycle_stages",
                ]
            },
        ),
        (
            _("Tags, packages and services"),
            {
                "fields": [
                    "tags_included",
                    "tags_excluded",
                    "has_active_package",
                    "services_used",
                    "birthday_month",
                ]
            },
        ),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_campaigns=Count("campaigns"))

    @admin.display(description=_("campaigns"), ordering="_campaigns")
    def campaign_count(self, obj):
        return obj._campaigns

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


class CampaignForm(forms.ModelForm):
    class Meta:
        model = Campaign
        fields = [
            "name",
            "segment",
            "template",
            "channel",
            "scheduled_at",
            "throttle_per_minute",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "template" in self.fields:
            self.fields["template"].queryset = MessageTemplate.objects.filter(
                kind=MessageKind.CAMPAIGN, is_active=True
            )

    def clean(self):
        cleaned = super().clean()
        template, channel = cleaned.get("template"), cleaned.get("channel")
        if template and channel and template.channel != channel:
            self.add_error(
                "template",
                _("Choose a template for the campaign's channel (%(channel)s).")
                % {"channel": Channel(channel).label},
            )
        return cleaned


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    form = CampaignForm
    list_display = [
        "name",
        "status_badge",
        "channel",
        "segment",
        "scheduled_at",
        "targeted",
        "sent_count",
        "opened_count",
        "clicked_count",
        "failed_count",
        "skipped_count",
        "unsubscribed_count",
    ]
    list_filter = ["status", "channel", "scheduled_at"]
    list_select_related = ["segment"]
    search_fields = ["name"]
    show_full_result_count = False
    actions = ["send_now", "cancel"]
    autocomplete_fields = ["segment"]
    readonly_fields = [
        "status_badge",
        "statistics",
        "started_at",
        "finished_at",
        "created_by",
    ]

    def get_fieldsets(self, request, obj=None):
        fields = ["name", "segment", "template", "channel"]
        schedule = ["scheduled_at", "throttle_per_minute"]
        if obj is None:
            return [(None, {"fields": fields}), (_("When"), {"fields": schedule})]
        return [
            (None, {"fields": ["status_badge", *fields]}),
            (_("When"), {"fields": [*schedule, ("started_at", "finished_at")]}),
            (_("Statistics"), {"fields": ["statistics"]}),
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.status not in (
            Campaign.Status.DRAFT,
            Campaign.Status.SCHEDULED,
        ):
            return [*self.readonly_fields, *CampaignForm.Meta.fields]
        return self.readonly_fields

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        match = request.resolver_match
        if match and match.url_name and match.url_name.endswith("changelist"):
            return campaign_services.with_stats(queryset)
        return queryset

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "template":
            kwargs["queryset"] = MessageTemplate.objects.filter(
                kind=MessageKind.CAMPAIGN, is_active=True
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        """A draft given a time is scheduled, a scheduled one without a time goes
        back to draft (through the service)."""
        if not change:
            obj.created_by = request.user
        scheduled_at = obj.scheduled_at
        super().save_model(request, obj, form, change)
        if obj.status in (Campaign.Status.DRAFT, Campaign.Status.SCHEDULED):
            campaign_services.schedule_campaign(obj, at=scheduled_at, by=request.user)
            obj.refresh_from_db()

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj):
        return format_html(
            '<span class="badge badge-{}">{}</span>',
            CAMPAIGN_COLOURS.get(obj.status, "secondary"),
            obj.get_status_display(),
        )

    @admin.display(description=_("sent"), ordering="sent_count")
    def sent_count(self, obj):
        return obj.sent_count

    @admin.display(description=_("opened"), ordering="opened_count")
    def opened_count(self, obj):
        return obj.opened_count

    @admin.display(description=_("clicked"), ordering="clicked_count")
    def clicked_count(self, obj):
        return obj.clicked_count

    @admin.display(description=_("failed"), ordering="failed_count")
    def failed_count(self, obj):
        return obj.failed_count

    @admin.display(description=_("skipped"), ordering="skipped_count")
    def skipped_count(self, obj):
        return obj.skipped_count

    @admin.display(description=_("unsubscribed"), ordering="unsubscribed_count")
    def unsubscribed_count(self, obj):
        return obj.unsubscribed_count

    @admin.display(description=_("statistics"))
    def statistics(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        stats = campaign_services.campaign_stats(obj)
        labels = [
            ("targeted", _("Targeted")),
            ("sent", _("Sent")),
            ("delivered", _("Delivered")),
            ("opened", _("Opened")),
            ("clicked", _("Clicked")),
            ("failed", _("Failed")),
            ("skipped", _("Skipped")),
            ("pending", _("Waiting to be sent")),
            ("unsubscribed", _("Unsubscribed")),
        ]
        rows = [(label, stats[key]) for key, label in labels]
        reasons = dict(Reason.choices)
        rows += [
            (format_html("&nbsp;&nbsp;{}: {}", _("skipped"), reasons.get(r, r)), n)
            for r, n in sorted(stats["skipped_by_reason"].items())
        ]
        return format_html(
            '<table class="table table-sm campaign-stats">{}</table>',
            format_html_join(
                "", "<tr><th>{}</th><td>{}</td></tr>", ((k, v) for k, v in rows)
            ),
        )

    @admin.action(description=_("Send now"), permissions=["change"])
    def send_now(self, request, queryset):
        started, targeted, not_startable = 0, 0, []
        for campaign in queryset:
            before = campaign.status
            campaign = campaign_services.send_campaign_now(campaign, by=request.user)
            if before in (Campaign.Status.DRAFT, Campaign.Status.SCHEDULED):
                started += 1
                targeted += campaign.targeted
            else:
                not_startable.append(campaign)
        if started:
            self.message_user(
                request,
                ngettext(
                    "%(count)d campaign started: %(clients)d clients targeted; "
                    "consent, opt-outs and caps are checked as they are enqueued "
                    "(see each campaign's statistics).",
                    "%(count)d campaigns started: %(clients)d clients targeted; "
                    "consent, opt-outs and caps are checked as they are enqueued "
                    "(see each campaign's statistics).",
                    started,
                )
                % {"count": started, "clients": targeted},
                messages.SUCCESS,
            )
        if not_startable:
            self.message_user(
                request,
                ngettext(
                    "%(count)d skipped: already sending, sent or cancelled.",
                    "%(count)d skipped: already sending, sent or cancelled.",
                    len(not_startable),
                )
                % {"count": len(not_startable)},
                messages.WARNING,
            )

    @admin.action(description=_("Cancel"), permissions=["change"])
    def cancel(self, request, queryset):
        cancelled, skipped_messages, refused = 0, 0, 0
        for campaign in queryset:
            if campaign.status == Campaign.Status.CANCELLED:
                refused += 1
                continue
            try:
                skipped_messages += campaign_services.cancel_campaign(
                    campaign, by=request.user
                )
            except ValidationError:
                refused += 1
            else:
                cancelled += 1
        if cancelled:
            self.message_user(
                request,
                ngettext(
                    "%(count)d campaign cancelled; %(messages)d queued messages "
                    "will not be sent.",
                    "%(count)d campaigns cancelled; %(messages)d queued messages "
                    "will not be sent.",
                    cancelled,
                )
                % {"count": cancelled, "messages": skipped_messages},
                messages.SUCCESS,
            )
        if refused:
            self.message_user(
                request,
                ngettext(
                    "%(count)d skipped: already sent or cancelled.",
                    "%(count)d skipped: already sent or cancelled.",
                    refused,
                )
                % {"count": refused},
                messages.WARNING,
            )
