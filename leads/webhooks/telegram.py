"""Telegram bot updates: a lead is a message with a shared contact."""

from ..models import Source
from .base import (
    BaseHook,
    Credentials,
    Hook,
    Item,
    WebhookError,
    as_dict,
    ident,
    same_secret,
    text,
    timestamp,
)


class TelegramHook(BaseHook):
    """A Telegram bot's updates; a lead is a message with a shared contact."""

    name = Hook.TELEGRAM

    def verify(self, request, body: bytes, credentials: Credentials) -> None:
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not same_secret(given, credentials.secret):
            raise WebhookError(
                403, "invalid or missing X-Telegram-Bot-Api-Secret-Token"
            )

    def parse(self, payload: dict) -> list[Item]:
        message = as_dict(payload.get("message"))
        external_id = ident(payload.get("update_id"))
        if not external_id and ident(message.get("message_id")):
            chat = ident(as_dict(message.get("chat")).get("id"))
            external_id = f"{chat}:{ident(message.get('message_id'))}"
        if not external_id:
            raise WebhookError(400, "missing update_id")
        contact = as_dict(message.get("contact"))
        if not contact:
            return [Item(external_id, None, Source.TELEGRAM)]
        phone = text(contact.get("phone_number"))
        if phone[:1].isdigit():
            phone = "+" + phone  # Telegram sends international numbers without "+"
        sender = as_dict(message.get("from"))
        note = "Telegram"
        if ident(contact.get("user_id")):
            note += f" user {ident(contact.get('user_id'))}"
        if text(sender.get("username")):
            note += f", shared by @{text(sender.get('username'))}"
        data = {
            "phone": phone,
            "full_name": " ".join(
                filter(
                    None, [text(contact.get(n)) for n in ("first_name", "last_name")]
                )
            ),
            "external_id": external_id,
            "notes": note,
            "received_at": timestamp(message.get("date")),
        }
        return [Item(external_id, data, Source.TELEGRAM)]
