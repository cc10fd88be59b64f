"""The outbox in the admin: a read-only log, templates with preview and test send,
contact preferences (also inline on the client page) and opt-outs."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from clients.admin import ClientAdmin
from clients.models import Client
from crm_project.admin_tools import admin_link
from crm_project.pagination import EstimatedCountPaginator

from .. import services
from ..models import (
    ContactPreferences,
    Message,
    MessageKind,
    MessageTemplate,
    OptOut,
)

STATUS_COLOURS = {
    Message.Status.QUEUED: "secondary",
    Message.Status.DEFERRED: "info",
    Message.Status.SENDING: "primary",
    Message.Status.SENT: "success",
    Message.Status.DELIVERED: "success",
    Message.Status.OPENED: "success",
    Message.Status.CLICKED: "success",
    Message.Status.FAILED: "danger",
    Message.Status.SKIPPED: "warning",
}
CHANNEL_ICONS = {
    "email": "fas fa-envelope",
    "sms": "fas fa-sms",
    "whatsapp": "fab fa-whatsapp",
}


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    """The outbox and its log: written only by the services, so read-only here."""

    list_display = [
        "created_at",
        "kind",
        "channel_badge",
        "status_badge",
        "reason",
        "to_address",
        "recipient",
        "attempts",
        "sent_at",
    ]
    list_filter = ["status", "channel", "kind", "reason"]
    list_select_related = ["client", "lead", "user"]
    search_fields = ["^to_address", "=idempotency_key"]
    search_help_text = _("The start of an email address or phone number, or a key.")
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = 50
    actions = ["retry_failed"]
    fieldsets = [
        (
            _("Message"),
            {
                "fields": [
                    "kind",
                    "channel",
                    "recipient",
                    "to_address",
                    "language",
                    "about_link",
                    "subject",
                    "body_text",
                    "body_html",
                ]
            },
        ),
        (
            _("Delivery"),
            {
                "fields": [
                    "status",
                    "reason",
                    "error",
                    "attempts",
                    ("send_after", "send_before", "next_attempt_at"),
                    ("sent_at", "delivered_at"),
                    ("opened_at", "clicked_at"),
                    ("provider_id", "cost"),
                    "idempotency_key",
                    ("created_at", "created_by"),
                ]
            },
        ),
    ]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.resolver_match and request.resolver_match.url_name.endswith(
            "changelist"
        ):
            return queryset.defer("body_text", "body_html", "error")
        return queryset

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Message._meta.fields] + ["recipient", "about_link"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_retry_permission(self, request):
        return request.user.has_perm("communications.change_message")

    @admin.display(description=_("channel"), ordering="channel")
    def channel_badge(self, obj):
        return format_html(
            '<span class="badge badge-light"><i class="{}"></i> {}</span>',
            CHANNEL_ICONS.get(obj.channel, "fas fa-comment"),
            obj.get_channel_display(),
        )

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj):
        return format_html(
            '<span class="badge badge-{}">{}</span>',
            STATUS_COLOURS.get(obj.status, "secondary"),
            obj.get_status_display(),
        )

    @admin.display(description=_("recipient"))
    def recipient(self, obj):
        if obj.user_id:
            return format_html("{} <small>({})</small>", obj.user, _("staff"))
        return admin_link(obj.client or obj.lead)

    @admin.display(description=_("about"))
    def about_link(self, obj):
        about = obj.about if obj.content_type_id else None
        try:
            return admin_link(about)
        except Exception:  # a model without an admin page
            return str(about)

    @admin.action(description=_("Retry failed messages"), permissions=["retry"])
    def retry_failed(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True))
        queued = services.retry_failed_messages(ids, by=request.user)
        self.message_user(
            request,
            ngettext(
                "%(count)d failed message queued again.",
                "%(count)d failed messages queued again.",
                queued,
            )
            % {"count": queued},
            messages.SUCCESS,
        )
        if len(ids) > queued:
            self.message_user(
                request,
                ngettext(
                    "%(count)d skipped: only failed messages are retried.",
                    "%(count)d skipped: only failed messages are retried.",
                    len(ids) - queued,
                )
                % {"count": len(ids) - queued},
                messages.WARNING,
            )


class MessageTemplateForm(forms.ModelForm):
    class Meta:
        model = MessageTemplate
        fields = [
            "kind",
            "name",
            "channel",
            "language",
            "is_active",
            "subject",
            "body_text",
            "body_html",
        ]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("name") and cleaned.get("kind") != MessageKind.CAMPAIGN:
            self.add_error("name", _("Only campaign templates have a name."))
        # MessageTemplate.clean() checks the parts compile and use no private data.
        return cleaned


class PreviewForm(forms.Form):
    client = forms.ModelChoiceField(
        queryset=Client.objects.all(), required=False, label=_("Client")
    )

    def __init__(self, *args, admin_site, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["client"]
        field.widget = AutocompleteSelect(Message._meta.get_field("client"), admin_site)
        field.widget.choices = field.choices


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    form = MessageTemplateForm
    list_display = [
        "kind",
        "name",
        "channel",
        "language",
        "subject",
        "is_active",
        "preview_link",
        "updated_at",
    ]
    list_filter = ["kind", "channel", "language", "is_active"]
    search_fields = ["name", "subject", "body_text"]
    actions = ["test_send"]
    list_per_page = 50
    fields = [
        "kind",
        "name",
        "channel",
        "language",
        "is_active",
        "subject",
        "body_text",
        "body_html",
        "variables",
    ]
    readonly_fields = ["variables"]

    @admin.display(description=_("variables"))
    def variables(self, obj):
        return format_html(
            "<small>{}<br>{}</small>",
            _(
                "recipient_name, client, lead, user, appointment, purchase, package, "
                "trial, business.name / address / phone / site_url, unsubscribe_url, "
                "and for one-off messages and campaigns: body."
            ),
            _(
                "Not available: clients' medical data, emergency contacts and notes, "
                "and appointments' contraindication overrides."
            ),
        )

    @admin.display(description=_("preview"))
    def preview_link(self, obj):
        url = reverse("admin:communications_messagetemplate_preview", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("Preview"))

    def get_urls(self):
        return [
            path(
                "<int:pk>/preview/",
                self.admin_site.admin_view(self.preview_view),
                name="communications_messagetemplate_preview",
            ),
            *super().get_urls(),
        ]

    def preview_view(self, request, pk: int):
        template = get_object_or_404(MessageTemplate, pk=pk)
        if not self.has_view_permission(request, template):
            raise PermissionDenied
        form = PreviewForm(request.GET or None, admin_site=self.admin_site)
        client = form.cleaned_data.get("client") if form.is_valid() else None
        error, preview = "", None
        try:
            preview = services.preview_template(template, client=client)
        except ValidationError as exc:
            error = "; ".join(exc.messages)
        except Exception as exc:  # a template that compiles but fails for this client
            error = f"{type(exc).__name__}: {exc}"
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Preview: %(template)s") % {"template": template},
            "template_obj": template,
            "form": form,
            "media": self.media + form.media,
            "preview": preview,
            "error": error,
            "changelist_url": reverse(
                "admin:communications_messagetemplate_changelist"
            ),
        }
        return TemplateResponse(
            request, "admin/communications/messagetemplate/preview.html", context
        )

    @admin.action(description=_("Send a test to my email"))
    def test_send(self, request, queryset):
        if not request.user.email:
            self.message_user(
                request,
                _("Your user has no email address to send a test to."),
                messages.ERROR,
            )
            return
        sent = 0
        for template in queryset:
            services.send_test_message(template, by=request.user)
            sent += 1
        self.message_user(
            request,
            ngettext(
                "%(count)d test message queued to %(email)s.",
                "%(count)d test messages queued to %(email)s.",
                sent,
            )
            % {"count": sent, "email": request.user.email},
            messages.SUCCESS,
        )


@admin.register(ContactPreferences)
class ContactPreferencesAdmin(admin.ModelAdmin):
    list_display = [
        "client",
        "marketing_email",
        "marketing_sms",
        "marketing_whatsapp",
        "preferred_channel",
        "preferred_language",
        "updated_at",
    ]
    list_filter = [
        "marketing_email",
        "marketing_sms",
        "marketing_whatsapp",
        "preferred_language",
    ]
    list_select_related = ["client"]
    search_fields = [
        "client__first_name",
        "client__last_name",
        "client__email",
        "client__phone",
    ]
    autocomplete_fields = ["client"]
    readonly_fields = [
        "marketing_email_at",
        "marketing_sms_at",
        "marketing_whatsapp_at",
    ]
    paginator = EstimatedCountPaginator
    show_full_result_count = False


class ContactPreferencesInline(admin.StackedInline):
    model = ContactPreferences
    extra = 0
    max_num = 1
    can_delete = False
    readonly_fields = [
        "marketing_email_at",
        "marketing_sms_at",
        "marketing_whatsapp_at",
    ]
    verbose_name_plural = _("Messaging preferences (consent, quiet hours)")


# On the client's page too, without editing clients/admin.py: appended once.
if ContactPreferencesInline not in ClientAdmin.inlines:
    ClientAdmin.inlines = [*ClientAdmin.inlines, ContactPreferencesInline]


@admin.register(OptOut)
class OptOutAdmin(admin.ModelAdmin):
    list_display = ["created_at", "recipient", "kind", "channel", "source"]
    list_filter = ["kind", "channel", "source"]
    list_select_related = ["client", "lead"]
    search_fields = [
        "client__first_name",
        "client__last_name",
        "client__email",
        "client__phone",
        "lead__full_name",
        "lead__email",
        "lead__phone",
    ]
    autocomplete_fields = ["client", "lead"]
    fields = ["client", "lead", "kind", "channel", "source", "created_by", "created_at"]
    readonly_fields = ["source", "created_by", "created_at"]

    @admin.display(description=_("recipient"))
    def recipient(self, obj):
        return admin_link(obj.client or obj.lead)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.source = OptOut.Source.STAFF
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
