import io
import re

import pytest
from django.core.management import call_command

from clients.models import Client, Interaction, Tag
from communications.models import Campaign, ContactPreferences, Message, Segment

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_bench_campaign_prints_every_figure_and_removes_what_it_wrote():
    out = io.StringIO()

    call_command("bench_campaign", clients=300, workers=1, stdout=out)

    text = out.getvalue()
    assert "Seeded 300 clients" in text
    assert re.search(r"\(a\) Enqueue of a campaign to 300 clients: [\d.]+ s", text)
    assert re.search(r"Broker messages published: 2 \(1 send_campaign_chunk, 1 ", text)
    assert "as seeded (1 chunks)" in text
    assert "Chunks per worker process: 1 (1 processes); at most 1 running" in text
    assert re.search(r"\(b\) Sender \(no-op backend\): [\d,]+ messages in", text)
    assert re.search(r"Queries: [\d,]+ = [\d.]+ per 1,000 messages", text)
    assert "Campaign status afterwards: sent" in text
    assert re.search(r"Overall: (PASS|FAIL)", text)
    assert not Client.objects.exists()
    assert not Message.objects.exists()
    assert not Interaction.objects.exists()
    assert not ContactPreferences.objects.exists()
    assert not (Campaign.objects.exists() or Segment.objects.exists())
    assert not Tag.objects.exists()
