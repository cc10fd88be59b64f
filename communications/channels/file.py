"""Development backends: the message is written down instead of sent."""

import json
import sys
import threading
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from . import Backend, Result

_lock = threading.Lock()


def _record(message) -> dict:
    return {
        "id": message.pk,
        "channel": message.channel,
        "kind": message.kind,
        "to": message.to_address,
        "subject": message.subject,
        "text": message.body_text,
        "at": timezone.now().isoformat(),
    }


class FileBackend(Backend):
    """One JSON line per message in ``COMMUNICATIONS_FILE_DIR/<channel>.jsonl``."""

    def send(self, message) -> Result:
        folder = Path(settings.COMMUNICATIONS_FILE_DIR)
        folder.mkdir(parents=True, exist_ok=True)
        line = json.dumps(_record(message), ensure_ascii=False)
        with _lock, (folder / f"{self.channel}.jsonl").open("a", encoding="utf-8") as f:
            f.write(line + "\n")
        return Result(provider_id=f"file-{message.pk}")


class ConsoleBackend(Backend):
    """Prints one JSON line per message to standard output."""

    def send(self, message) -> Result:
        with _lock:
            sys.stdout.write(json.dumps(_record(message), ensure_ascii=False) + "\n")
            sys.stdout.flush()
        return Result(provider_id=f"console-{message.pk}")
