"""Default templates from files, previews and test sends."""

import uuid
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from .. import rendering, tracking
from ..models import Channel, Language, Message, MessageKind, MessageTemplate
from .enqueue import enqueue_message

EMAIL_PARTS = {"subject": "subject", "txt": "body_text", "html": "body_html"}


def templates_dir() -> Path:
    return Path(settings.BASE_DIR) / "templates" / "emails"


def default_templates(folder: Path | None = None) -> list[dict]:
    """The shipped templates: ``templates/emails/<kind>/<channel>.<lang>.<part>``
    (part: subject, txt, html). WhatsApp uses the SMS text unless it has its own."""
    folder = folder or templates_dir()
    found = []
    for kind in MessageKind.values:
        kind_dir = folder / kind
        if not kind_dir.is_dir():
            continue
        for language in Language.values:
            for channel in Channel.values:
                parts = {}
                for suffix, name in EMAIL_PARTS.items():
                    path = kind_dir / f"{channel}.{language}.{suffix}"
                    if channel == Channel.WHATSAPP and not path.exists():
                        path = kind_dir / f"sms.{language}.{suffix}"
                    if path.exists():
                        parts[name] = path.read_text(encoding="utf-8").strip()
                if parts.get("body_text"):
                    if channel != Channel.EMAIL:
                        parts.pop("subject", None)
                        parts.pop("body_html", None)
                    found.append(
                        {
                            "kind": kind,
                            "channel": channel,
                            "language": language,
                            **parts,
                        }
                    )
    return found


@dataclass
class LoadReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def load_message_templates(
    *, overwrite: bool = False, folder: Path | None = None
) -> LoadReport:
    """Create the shipped templates that are missing. Rows that exist (perhaps
    edited by staff) are kept, unless ``overwrite``. Running it twice changes
    nothing the second time. Raises ``ValidationError`` (and writes nothing) if a
    shipped file does not compile or uses medical or private client data."""
    report = LoadReport()
    with transaction.atomic():
        existing = {
            (t.kind, t.channel, t.language): t
            for t in MessageTemplate.objects.select_for_update()
        }
        for item in default_templates(folder):
            key = (item["kind"], item["channel"], item["language"])
            label = ".".join(key)
            fields = {
                "subject": item.get("subject", ""),
                "body_text": item["body_text"],
                "body_html": item.get("body_html", ""),
            }
            _check_shipped(label, fields)
            current = existing.get(key)
            if current is None:
                MessageTemplate.objects.create(
                    kind=key[0], channel=key[1], language=key[2], **fields
                )
                report.created.append(label)
            elif overwrite and any(getattr(current, f) != v for f, v in fields.items()):
                for name, value in fields.items():
                    setattr(current, name, value)
                current.save()
                report.updated.append(label)
            else:
                report.kept.append(label)
    return report


def _check_shipped(label: str, fields: dict) -> None:
    """A shipped file that does not compile, or uses medical or private client data,
    fails the load loudly, naming the template and the part."""
    try:
        rendering.check_parts(**fields)
    except ValidationError as error:
        raise ValidationError(
            [
                f"{label} ({part}): {message}"
                for part, messages in error.message_dict.items()
                for message in messages
            ]
        ) from error


def preview_template(template: MessageTemplate, *, client=None) -> dict:
    """Subject, text and HTML of ``template`` rendered for ``client`` (or for an
    unnamed sample). Raises ValidationError if the template does not compile."""
    compiled = rendering.compile_template(template)
    key = f"preview:{template.kind}:client:{getattr(client, 'pk', 0)}"
    context = rendering.build_context(
        client=client,
        unsubscribe_url=tracking.unsubscribe_url(key),
        extra={"body": "…"},
    )
    subject, text, html = compiled.render(context, language=template.language)
    return {"subject": subject, "body_text": text, "body_html": html}


def send_test_message(template: MessageTemplate, *, by, client=None) -> Message:
    """Send ``template`` (rendered for ``client`` if given) to the acting staff
    member's email, through the outbox like any other message."""
    return enqueue_message(
        template.kind,
        channel=Channel.EMAIL,
        user=by,
        period=f"test:{uuid.uuid4().hex}",
        context={"client": client, "body": "…"} if client else {"body": "…"},
        language=template.language,
        by=by,
        template=_as_email(template),
    )


def _as_email(template: MessageTemplate) -> MessageTemplate:
    """An SMS or WhatsApp template reaches staff by email: its text, a label subject."""
    if template.channel == Channel.EMAIL:
        return template
    return MessageTemplate(
        pk=None,
        kind=template.kind,
        channel=Channel.EMAIL,
        language=template.language,
        subject=f"[{template.get_channel_display()}] {template.get_kind_display()}",
        body_text=template.body_text,
    )
