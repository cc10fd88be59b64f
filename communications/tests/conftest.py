import pytest

from communications.services import load_message_templates


@pytest.fixture(autouse=True)
def _message_settings(settings, tmp_path):
    """A private file outbox, no quiet hours (tests that want them set them), and
    links on a known host."""
    settings.COMMUNICATIONS_FILE_DIR = str(tmp_path / "outbox")
    settings.COMMUNICATIONS_QUIET_HOURS_START = "00:00"
    settings.COMMUNICATIONS_QUIET_HOURS_END = "00:00"
    settings.COMMUNICATIONS_PUBLIC_URL = "https://studio.test"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.COMMUNICATIONS_RETRY_BASE_SECONDS = 60
    settings.COMMUNICATIONS_MAX_ATTEMPTS = 3


@pytest.fixture
def templates(db):
    """The shipped templates (a transactional test's flush removes the ones the
    post-migrate hook loaded)."""
    load_message_templates()
