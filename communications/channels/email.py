"""Email through Django's email backends (EMAIL_BACKEND: SMTP by default; any
django-anymail backend for a provider's API).

The message carries a text part and, when the template has one, an HTML part whose
links go through the signed click redirect and which ends with the signed open
pixel. ``List-Unsubscribe`` (the signed link, and a mailto: when
COMMUNICATIONS_UNSUBSCRIBE_EMAIL is set) with ``List-Unsubscribe-Post:
List-Unsubscribe=One-Click`` (RFC 8058) lets mail clients unsubscribe in one click.
"""

import smtplib
from email.utils import make_msgid

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from .. import tracking
from . import Backend, PermanentError, Result, TransientError


class DjangoEmailBackend(Backend):
    def __init__(self, channel: str):
        super().__init__(channel)
        self.connection = None

    def open(self) -> None:
        if self.connection is None:
            self.connection = get_connection(fail_silently=False)

    def close(self) -> None:
        if self.connection is not None:
            try:
                self.connection.close()
            except Exception:  # noqa: S110 - closing a dead connection
                pass
            self.connection = None

    def build(self, message) -> EmailMultiAlternatives:
        domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or None
        message_id = make_msgid(idstring=f"m{message.pk}", domain=domain)
        headers = {"Message-ID": message_id}
        unsubscribe = ""
        if message.client_id or message.lead_id:
            unsubscribe = tracking.unsubscribe_url(message.idempotency_key)
            links = [f"<{unsubscribe}>"]
            if settings.COMMUNICATIONS_UNSUBSCRIBE_EMAIL:
                links.append(
                    f"<mailto:{settings.COMMUNICATIONS_UNSUBSCRIBE_EMAIL}"
                    f"?subject=unsubscribe%20{message.pk}>"
                )
            headers["List-Unsubscribe"] = ", ".join(links)
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        email = EmailMultiAlternatives(
            subject=message.subject,
            body=message.body_text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[message.to_address],
            headers=headers,
            connection=self.connection,
        )
        if message.body_html:
            html = message.body_html
            if message.client_id or message.lead_id:
                html = tracking.add_tracking(html, message.pk, unsubscribe=unsubscribe)
            email.attach_alternative(html, "text/html")
        return email

    def send(self, message) -> Result:
        self.open()
        email = self.build(message)
        try:
            # Opened once and kept for the batch (close() ends it).
            self.connection.open()
            email.send(fail_silently=False)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _text in exc.recipients.values()]
            text = f"SMTP refused the recipient: {exc.recipients}"
            if codes and all(code >= 500 for code in codes):
                raise PermanentError(text, invalid_address=True) from exc
            raise TransientError(text, channel_down=False) from exc
        except smtplib.SMTPResponseException as exc:
            text = f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"
            self.close()
            if exc.smtp_code >= 500:
                raise PermanentError(text) from exc
            raise TransientError(text) from exc
        except (smtplib.SMTPException, OSError) as exc:
            # Disconnected, refused, timed out: the next attempt opens a new connection.
            self.close()
            raise TransientError(f"SMTP: {exc!r}") from exc
        return Result(provider_id=email.extra_headers["Message-ID"].strip("<>"))
