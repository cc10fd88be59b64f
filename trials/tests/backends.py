"""An e-mail backend standing in for a mail server that refuses every message."""

from smtplib import SMTPServerDisconnected

from django.core.mail.backends.base import BaseEmailBackend


class RefusingBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise SMTPServerDisconnected("the mail server closed the connection")
