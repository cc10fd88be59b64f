"""Channel backends: how one message leaves the building.

A backend is a class with ``send(message) -> Result``; it raises ``TransientError``
for what may work on a later attempt (connection refused, timeouts, a provider's 5xx
or 429) and ``PermanentError`` for what never will (an invalid address, a provider's
4xx). The sender (``communications.services.sending``) retries the first with backoff
and fails the second at once. Backends are chosen per channel by settings
(``COMMUNICATIONS_EMAIL_BACKEND``, ``COMMUNICATIONS_SMS_BACKEND``,
``COMMUNICATIONS_WHATSAPP_BACKEND``) and built once per sender batch.
"""

import abc
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.utils.module_loading import import_string

SETTING_BY_CHANNEL = {
    "email": "COMMUNICATIONS_EMAIL_BACKEND",
    "sms": "COMMUNICATIONS_SMS_BACKEND",
    "whatsapp": "COMMUNICATIONS_WHATSAPP_BACKEND",
}


@dataclass(frozen=True)
class Result:
    provider_id: str = ""
    cost: Decimal | None = None


class ChannelError(Exception):
    """A send that did not happen; ``str()`` is what the log records."""


class TransientError(ChannelError):
    """Worth another attempt later. ``channel_down`` (the default) says the provider
    itself is unavailable (refused, timed out, 5xx, 429), so the sender tries no more
    messages on that channel in this batch; False is a problem of one recipient
    (a full mailbox, greylisting)."""

    def __init__(self, message: str, *, channel_down: bool = True):
        super().__init__(message)
        self.channel_down = channel_down


class PermanentError(ChannelError):
    """Never going to work; ``invalid_address`` says whether the address is at fault."""

    def __init__(self, message: str, *, invalid_address: bool = False):
        super().__init__(message)
        self.invalid_address = invalid_address


class Backend(abc.ABC):
    """Base class. ``channel`` is the channel this instance sends for."""

    def __init__(self, channel: str):
        self.channel = channel

    def open(self) -> None:  # noqa: B027 (optional hook: most backends need none)
        """Called before a batch (an SMTP connection, an HTTP session)."""

    def close(self) -> None:  # noqa: B027 (optional hook, as open)
        """Called after a batch, also after errors."""

    @abc.abstractmethod
    def send(self, message) -> Result:
        """Send ``message``; raise TransientError or PermanentError on failure."""


def get_backend(channel: str) -> Backend:
    path = getattr(settings, SETTING_BY_CHANNEL[channel])
    return import_string(path)(channel)
