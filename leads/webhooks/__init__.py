"""Lead webhooks: each source's credentials, verification and payload parsing.

Nothing here writes: ``leads.views.webhook`` reads the body, asks the source's
``Hook`` to verify and parse it into ``Item``s (one lead each, or nothing to import),
and stores them through ``leads.services.create_or_merge_lead``. Every problem is a
``WebhookError`` carrying the HTTP status to answer with.

Credentials are never in code: an active ``WebhookSecret`` row (the admin) wins over
``settings.LEADS_WEBHOOKS`` (the environment), field by field where the row is blank.
"""

from .base import (
    BaseHook,
    Credentials,
    Item,
    WebhookError,
    audit_headers,
    credentials_for,
    load_json,
    same_secret,
)
from .keyed import CallTrackingHook, LandingPageHook
from .meta import MetaHook, WhatsAppHook
from .telegram import TelegramHook

HOOKS: dict[str, BaseHook] = {
    hook.name: hook
    for hook in (
        MetaHook(),
        TelegramHook(),
        WhatsAppHook(),
        LandingPageHook(),
        CallTrackingHook(),
    )
}


__all__ = [
    "HOOKS",
    "BaseHook",
    "Credentials",
    "Item",
    "WebhookError",
    "audit_headers",
    "credentials_for",
    "load_json",
    "same_secret",
]
