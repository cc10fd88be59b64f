"""Signed links in messages: unsubscribe, open pixel, click redirect.

Each token is signed with SECRET_KEY and its own salt, so a token made for one use
is refused by the others, and a tampered token or target URL is refused outright
(``signing.BadSignature``; the views answer 400). Unsubscribe tokens carry the
message's idempotency key, which is known before the row is written (the body that
holds the link is rendered first); pixel and click tokens carry the message id and
are added when the email is sent.
"""

import re
from html import unescape

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils.html import escape

UNSUBSCRIBE_SALT = "communications.unsubscribe"
OPEN_SALT = "communications.open"
CLICK_SALT = "communications.click"

_HREF = re.compile(r"""href=(["'])(https?://[^"']+)\1""", re.IGNORECASE)


def absolute(path: str) -> str:
    return settings.COMMUNICATIONS_PUBLIC_URL.rstrip("/") + path


def unsubscribe_signer() -> signing.TimestampSigner:
    """The signer of unsubscribe tokens: made once per batch (it reads the keys
    from settings), its tokens are ``signing.dumps``' own."""
    return signing.TimestampSigner(salt=UNSUBSCRIBE_SALT)


def unsubscribe_token(
    idempotency_key: str, *, signer: signing.TimestampSigner | None = None
) -> str:
    return (signer or unsubscribe_signer()).sign_object(idempotency_key)


def read_unsubscribe_token(token: str) -> str:
    """The idempotency key; raises ``signing.BadSignature`` if tampered."""
    key = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    if not isinstance(key, str):
        raise signing.BadSignature("not an unsubscribe token")
    return key


_PLACEHOLDER = "__unsubscribe_token__"


def unsubscribe_base() -> str:
    """The unsubscribe URL with a placeholder for the token: resolved once per batch
    (``reverse`` per message would cost more than the signing)."""
    return absolute(reverse("communications:unsubscribe", args=[_PLACEHOLDER]))


def unsubscribe_url(
    idempotency_key: str,
    *,
    base: str | None = None,
    signer: signing.TimestampSigner | None = None,
) -> str:
    base = base or unsubscribe_base()
    token = unsubscribe_token(idempotency_key, signer=signer)
    return base.replace(_PLACEHOLDER, token, 1)


def open_token(message_id: int) -> str:
    return signing.Signer(salt=OPEN_SALT).sign(str(message_id))


def read_open_token(token: str) -> int:
    return int(signing.Signer(salt=OPEN_SALT).unsign(token))


def open_url(message_id: int) -> str:
    return absolute(reverse("communications:open", args=[open_token(message_id)]))


def click_token(message_id: int, target: str) -> str:
    return signing.dumps({"m": message_id, "u": target}, salt=CLICK_SALT, compress=True)


def read_click_token(token: str) -> tuple[int, str]:
    data = signing.loads(token, salt=CLICK_SALT)
    if not isinstance(data, dict) or not isinstance(data.get("u"), str):
        raise signing.BadSignature("not a click token")
    target = data["u"]
    if not target.startswith(("http://", "https://")):
        raise signing.BadSignature("not a web link")
    return int(data["m"]), target


def click_url(message_id: int, target: str) -> str:
    return absolute(
        reverse("communications:click", args=[click_token(message_id, target)])
    )


def add_tracking(html: str, message_id: int, *, unsubscribe: str = "") -> str:
    """The HTML with every web link going through the click redirect (except the
    unsubscribe link, which must work as it is) and the open pixel at the end."""

    def rewrite(match: re.Match) -> str:
        quote, target = match.group(1), unescape(match.group(2))
        if unsubscribe and target == unsubscribe:
            return match.group(0)
        return f"href={quote}{escape(click_url(message_id, target))}{quote}"

    tracked = _HREF.sub(rewrite, html)
    pixel = (
        f'<img src="{escape(open_url(message_id))}" width="1" height="1" alt="" '
        'style="display:none">'
    )
    if "</body>" in tracked:
        return tracked.replace("</body>", pixel + "</body>", 1)
    return tracked + pixel
