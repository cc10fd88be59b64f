import json
from pathlib import Path

import factory
from django.utils import timezone

from clients.tests.factories import ClientFactory
from communications.models import (
    Channel,
    ContactPreferences,
    Message,
    MessageKind,
    MessageTemplate,
    OptOut,
)


class ContactPreferencesFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContactPreferences
        django_get_or_create = ("client",)

    client = factory.SubFactory(ClientFactory)
    marketing_email = True
    marketing_sms = True
    marketing_whatsapp = True


class MessageTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MessageTemplate
        django_get_or_create = ("kind", "channel", "language")

    kind = MessageKind.ONE_OFF
    channel = Channel.EMAIL
    language = "en"
    subject = "Hello {{ recipient_name }}"
    body_text = "Hi {{ recipient_name }}. {{ body }}"
    body_html = "<p>Hi {{ recipient_name }}. {{ body }}</p>"


class MessageFactory(factory.django.DjangoModelFactory):
    """An outbox row as the services would write it (for admin and sender tests)."""

    class Meta:
        model = Message

    kind = MessageKind.ONE_OFF
    channel = Channel.EMAIL
    client = factory.SubFactory(ClientFactory)
    to_address = factory.LazyAttribute(lambda m: m.client.email if m.client else "")
    subject = factory.Sequence(lambda n: f"Message {n}")
    body_text = "Hello"
    send_after = factory.LazyFunction(timezone.now)
    next_attempt_at = factory.LazyAttribute(lambda m: m.send_after)
    idempotency_key = factory.Sequence(lambda n: f"one_off:test:{n}")


class OptOutFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OptOut

    client = factory.SubFactory(ClientFactory)
    kind = MessageKind.BIRTHDAY
    channel = ""


def outbox_lines(settings, channel: str) -> list[dict]:
    path = Path(settings.COMMUNICATIONS_FILE_DIR) / f"{channel}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]
