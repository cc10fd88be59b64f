"""SMS and WhatsApp through Twilio's official SDK.

Settings: TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM_NUMBER (SMS),
TWILIO_WHATSAPP_FROM (WhatsApp; E.164, the ``whatsapp:`` prefix is added) and
TWILIO_API_BASE_URL (https://api.twilio.com; tests point it at a local server).

Each message asks Twilio to report its delivery to ``status_callback_url()``
(``/c/twilio/status/`` under COMMUNICATIONS_PUBLIC_URL, which defaults to
CRM_SITE_URL), where ``communications.views.twilio_status`` marks it delivered or
failed. Twilio must be able to reach that address.
"""

from decimal import Decimal, InvalidOperation

import requests
from django.conf import settings
from django.urls import reverse
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from . import Backend, PermanentError, Result, TransientError

# Twilio error codes that mean the number itself is wrong or unreachable.
INVALID_NUMBER_CODES = {21211, 21212, 21214, 21610, 21614, 63003}


class TwilioBackend(Backend):
    def __init__(self, channel: str):
        super().__init__(channel)
        self.client: Client | None = None
        self.status_callback = status_callback_url()

    def open(self) -> None:
        if self.client is None:
            client = Client(
                settings.TWILIO_ACCOUNT_SID,
                settings.TWILIO_AUTH_TOKEN,
                http_client=TwilioHttpClient(timeout=20),
            )
            client.api.base_url = settings.TWILIO_API_BASE_URL.rstrip("/")
            self.client = client

    def close(self) -> None:
        self.client = None

    def _addresses(self, message) -> tuple[str, str]:
        if self.channel == "whatsapp":
            return (
                f"whatsapp:{settings.TWILIO_WHATSAPP_FROM}",
                f"whatsapp:{message.to_address}",
            )
        return settings.TWILIO_FROM_NUMBER, message.to_address

    def send(self, message) -> Result:
        self.open()
        sender, to = self._addresses(message)
        extra = (
            {"status_callback": self.status_callback} if self.status_callback else {}
        )
        try:
            sent = self.client.messages.create(
                to=to, from_=sender, body=message.body_text, **extra
            )
        except TwilioRestException as exc:
            text = f"Twilio {exc.status} ({exc.code}): {exc.msg}"
            if exc.status == 429 or exc.status >= 500:
                raise TransientError(text) from exc
            raise PermanentError(
                text, invalid_address=exc.code in INVALID_NUMBER_CODES
            ) from exc
        except (requests.RequestException, TwilioException, OSError) as exc:
            raise TransientError(f"Twilio unreachable: {exc}") from exc
        return Result(provider_id=sent.sid or "", cost=_cost(sent.price))


def status_callback_url() -> str:
    """Where Twilio reports delivery: the public address of the status view, or ""
    when COMMUNICATIONS_PUBLIC_URL is not an http(s) URL (nothing is asked for)."""
    base = settings.COMMUNICATIONS_PUBLIC_URL.rstrip("/")
    if not base.lower().startswith(("http://", "https://")):
        return ""
    return base + reverse("communications:twilio_status")


def _cost(price) -> Decimal | None:
    # Twilio reports prices as negative strings ("-0.00790"), often only later.
    if price in (None, ""):
        return None
    try:
        return abs(Decimal(str(price)))
    except InvalidOperation:
        return None
