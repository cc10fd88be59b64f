"""Every message goes through the outbox: no code outside the channel backends talks
to a mail server or an SMS/WhatsApp provider."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHANNELS = ROOT / "communications" / "channels"
SENDING = re.compile(
    r"\b(send_mail|send_mass_mail|mail_admins|mail_managers|EmailMessage|"
    r"EmailMultiAlternatives|get_connection|twilio\.rest)\b"
)


def project_sources():
    for path in ROOT.rglob("*.py"):
        parts = set(path.relative_to(ROOT).parts)
        if parts & {".venv", "tests", "migrations", "var", "staticfiles", "media"}:
            continue
        yield path


def test_only_the_channel_backends_send_anything():
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in project_sources()
        if CHANNELS not in path.parents
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if SENDING.search(line) and not line.lstrip().startswith("#")
    ]

    assert offenders == []


def test_the_check_would_see_a_stray_send_mail(tmp_path):
    stray = "from django.core.mail import send_mail\nsend_mail('s', 'b', None, ['a'])\n"

    assert SENDING.search(stray.splitlines()[1])
