"""A campaign sent through real Celery workers (two processes, Redis, PostgreSQL).

Every chunk task is published twice, as a broker redelivery would: each client still
gets exactly one message, sent once, and one timeline entry.
"""

import uuid

import pytest
from django.db.models import Count

from clients.models import Interaction
from clients.tests.factories import ClientFactory, TagFactory
from communications.campaigns import run_due_campaigns, send_campaign_now
from communications.models import (
    Campaign,
    CampaignChunk,
    Channel,
    Message,
    MessageKind,
    MessageTemplate,
    Segment,
)
from communications.tasks_campaigns import send_campaign_chunk
from crm_project.tests.test_worker import running_worker, wait_for

from .factories import ContactPreferencesFactory

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

CLIENTS = 30


@pytest.fixture
def two_workers(tmp_path):
    """Two worker processes (prefork, concurrency 2) on a queue of their own, sending
    through the no-op backend with no quiet hours."""
    queue = f"crm-test-{uuid.uuid4().hex[:12]}"
    log = tmp_path / "worker.log"
    env = {
        "COMMUNICATIONS_EMAIL_BACKEND": "communications.channels.noop.NoopBackend",
        "COMMUNICATIONS_QUIET_HOURS_START": "00:00",
        "COMMUNICATIONS_QUIET_HOURS_END": "00:00",
    }
    with running_worker(queue, log, pool="prefork", concurrency=2, env=env) as process:
        yield queue, log, process


def test_a_campaign_through_real_workers_sends_each_message_exactly_once(
    two_workers, settings
):
    queue, log, process = two_workers
    settings.COMMUNICATIONS_CAMPAIGN_CHUNK_SIZE = 7
    tag = TagFactory()
    clients = []
    for _ in range(CLIENTS):
        client = ClientFactory()
        client.tags.add(tag)
        ContactPreferencesFactory(client=client)
        clients.append(client)
    segment = Segment.objects.create(name="Workers")
    segment.tags_included.set([tag])
    template = MessageTemplate.objects.create(
        kind=MessageKind.CAMPAIGN,
        name="Worker offer",
        channel=Channel.EMAIL,
        language="en",
        subject="Offer",
        body_text="Hi {{ recipient_name }}",
    )
    campaign = Campaign.objects.create(
        name="Workers", template=template, segment=segment, channel=Channel.EMAIL
    )

    send_campaign_now(campaign, by=None, queue=queue)
    # Every chunk delivered a second time, as after a broker redelivery.
    for chunk in CampaignChunk.objects.filter(campaign=campaign):
        send_campaign_chunk.apply_async(
            args=[chunk.pk], kwargs={"queue": queue}, queue=queue
        )

    sent = Message.objects.filter(campaign=campaign, status=Message.Status.SENT)
    wait_for(
        lambda: sent.count() == CLIENTS,
        what=f"{CLIENTS} campaign messages to be sent",
        log=log,
        worker=process,
    )
    wait_for(
        lambda: not CampaignChunk.objects.filter(done_at__isnull=True).exists(),
        what="every chunk to be done",
        log=log,
        worker=process,
    )
    assert run_due_campaigns() == {"finished": 1}

    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENT
    assert CampaignChunk.objects.filter(campaign=campaign).count() == 5
    per_client = Message.objects.filter(campaign=campaign).values("client_id")
    assert set(per_client.annotate(n=Count("pk")).values_list("n", flat=True)) == {1}
    assert per_client.count() == CLIENTS
    assert set(sent.values_list("attempts", flat=True)) == {1}
    timeline = Interaction.objects.filter(client__in=clients).values("client_id")
    assert set(timeline.annotate(n=Count("pk")).values_list("n", flat=True)) == {1}
    assert timeline.count() == CLIENTS
