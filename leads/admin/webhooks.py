"""Webhook credentials (masked in the list) and the deliveries received."""

import json

from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from crm_project.admin_tools import admin_link
from crm_project.pagination import EstimatedCountPaginator

from ..models import WebhookDelivery, WebhookSecret
from .common import ReadOnlyAdminMixin


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
