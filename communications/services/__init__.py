"""Communications services: the outbox's public API.

Enqueue (jobs, campaigns, admin):
    enqueue_message(kind, *, channel, client=None, lead=None, user=None, about=None,
                    period="", context=None, send_after=None, language=None, by=None,
                    template=None) -> Message
    enqueue_messages(specs: Iterable[MessageSpec], *, by=None, wake_senders=True)
        -> Counter
    MessageSpec(kind, channel, client=..., about=..., period=..., campaign_id=...)
    idempotency_key(kind, *, client=None, lead=None, user=None, about=None, period="")

Send (tasks):
    send_due_messages(*, limit=None, now=None) -> Counter
    send_message(message_id, *, now=None) -> Counter
    sweep_stuck_messages(*, now=None) -> int
    retry_failed_messages(message_ids, *, by=None) -> int

Consent and tracking:
    record_opt_out(kind, *, client=None, lead=None, channel="", source=..., by=None)
    set_marketing_consent(client, channel, consent, *, by=None) -> ContactPreferences
    unsubscribe(message, *, source) / mark_opened(message_id) / mark_clicked(message_id)
    preferred_channels(clients) -> {client_id: channel}

Delivery reports (the Twilio status callback):
    record_twilio_status(message_sid, message_status, *, error_code="",
                         error_message="") -> Outcome
    mark_delivered(provider_id) / mark_undelivered(provider_id, *, error, ...)

Templates:
    load_message_templates(*, overwrite=False) -> LoadReport
    preview_template(template, *, client=None) -> dict
    send_test_message(template, *, by, client=None) -> Message
"""

from .delivery import mark_delivered, mark_undelivered, record_twilio_status
from .enqueue import MessageSpec, enqueue_message, enqueue_messages, idempotency_key
from .preferences import (
    mark_clicked,
    mark_opened,
    preferred_channels,
    record_opt_out,
    set_marketing_consent,
    unsubscribe,
)
from .sending import (
    retry_failed_messages,
    send_due_messages,
    send_message,
    sweep_stuck_messages,
)
from .templates import (
    load_message_templates,
    preview_template,
    send_test_message,
)

__all__ = [
    "MessageSpec",
    "enqueue_message",
    "enqueue_messages",
    "idempotency_key",
    "load_message_templates",
    "mark_clicked",
    "mark_delivered",
    "mark_opened",
    "mark_undelivered",
    "preferred_channels",
    "preview_template",
    "record_opt_out",
    "record_twilio_status",
    "retry_failed_messages",
    "send_due_messages",
    "send_message",
    "send_test_message",
    "set_marketing_consent",
    "sweep_stuck_messages",
    "unsubscribe",
]
