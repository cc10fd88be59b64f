import datetime as dt

import pytest
from celery.signals import before_task_publish
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from clients.models import Interaction
from clients.tests.factories import ClientFactory, TagFactory, UserFactory
from communications import campaigns
from communications.campaigns import (
    campaign_stats,
    cancel_campaign,
    enqueue_campaign_chunk,
    finish_campaign,
    run_due_campaigns,
    schedule_campaign,
    send_campaign_now,
    with_stats,
)
from communications.models import (
    Campaign,
    CampaignChunk,
    Channel,
    Message,
    MessageKind,
    MessageTemplate,
    Reason,
    Segment,
)
from communications.services import mark_clicked, mark_opened, unsubscribe
from communications.tests.factories import (
    ContactPreferencesFactory,
    MessageFactory,
    OptOutFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def tag():
    return TagFactory(name="spring")


@pytest.fixture
def template():
    MessageTemplate.objects.create(
        kind=MessageKind.CAMPAIGN,
        name="Spring offer",
        channel=Channel.EMAIL,
        language="es",
        subject="Oferta de primavera",
        body_text="Hola {{ recipient_name }}",
    )
    return MessageTemplate.objects.create(
        kind=MessageKind.CAMPAIGN,
        name="Spring offer",
        channel=Channel.EMAIL,
        language="en",
        subject="Spring offer",
        body_text="Hi {{ recipient_name }}",
        body_html="<p>Hi {{ recipient_name }}</p>",
    )


@pytest.fixture
def campaign(tag, template):
    segment = Segment.objects.create(name="Spring clients")
    segment.tags_included.set([tag])
    return Campaign.objects.create(
        name="Spring", template=template, segment=segment, channel=Channel.EMAIL
    )


def member(tag, *, consent=True, **fields):
    client = ClientFactory(**fields)
    client.tags.add(tag)
    if consent:
        ContactPreferencesFactory(client=client)
    return client


@pytest.fixture
def audience(tag):
    """Three clients who may be messaged, and one for each reason to skip."""
    capped = member(tag)
    MessageFactory(
        client=capped,
        kind=MessageKind.BIRTHDAY,
        status=Message.Status.SENT,
        sent_at=timezone.now() - dt.timedelta(days=1),
    )
    opted_out = member(tag)
    OptOutFactory(client=opted_out, kind=MessageKind.CAMPAIGN)
    return {
        "ok": [member(tag) for _ in range(3)],
        "opted_out": opted_out,
        "no_consent": member(tag, consent=False),
        "capped": capped,
        "outsider": ClientFactory(),
    }


def statuses(campaign) -> dict:
    return {
        m.client_id: (m.status, m.reason)
        for m in Message.objects.filter(campaign=campaign)
    }


def test_send_now_messages_consenting_clients_and_skips_the_others_with_reasons(
    campaign, audience, django_capture_on_commit_callbacks
):
    user = UserFactory()

    with django_capture_on_commit_callbacks(execute=True):
        send_campaign_now(campaign, by=user)

    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENDING
    assert campaign.targeted == 6
    assert statuses(campaign) == {
        **{c.pk: (Message.Status.SENT, "") for c in audience["ok"]},
        audience["opted_out"].pk: (Message.Status.SKIPPED, Reason.OPTED_OUT),
        audience["no_consent"].pk: (Message.Status.SKIPPED, Reason.NO_CONSENT),
        audience["capped"].pk: (Message.Status.SKIPPED, Reason.CAPPED),
    }
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        c.email for c in audience["ok"]
    )
    message = Message.objects.get(client=audience["ok"][0])
    assert message.idempotency_key == (
        f"campaign:client:{audience['ok'][0].pk}:communications.campaign:{campaign.pk}:"
    )
    assert message.kind == MessageKind.CAMPAIGN and message.about == campaign


def test_each_client_gets_the_template_of_the_same_name_in_their_language(
    campaign, tag, django_capture_on_commit_callbacks
):
    spanish = member(tag, preferred_language="es")
    english = member(tag, preferred_language="en")

    with django_capture_on_commit_callbacks(execute=True):
        send_campaign_now(campaign, by=None)

    assert Message.objects.get(client=spanish).subject == "Oferta de primavera"
    assert Message.objects.get(client=english).subject == "Spring offer"


def test_every_sent_campaign_message_is_on_the_clients_timeline(
    campaign, audience, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        send_campaign_now(campaign, by=None)

    for client in audience["ok"]:
        (interaction,) = Interaction.objects.filter(client=client)
        assert interaction.type == Interaction.Type.MESSAGE
        assert interaction.subject == "Spring offer"
    assert not Interaction.objects.filter(client=audience["opted_out"]).exists()


def test_the_segment_is_fanned_out_in_chunks_one_task_and_one_sender_each(
    campaign, tag, settings, django_capture_on_commit_callbacks
):
    settings.COMMUNICATIONS_CAMPAIGN_CHUNK_SIZE = 2
    for _ in range(5):
        member(tag)
    published = []

    def count(sender=None, **kwargs):
        published.append(sender)

    before_task_publish.connect(count)
    try:
        from crm_project.celery import app

        app.conf.task_always_eager = False
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            send_campaign_now(campaign, by=None)
        assert len(callbacks) == 1
    finally:
        before_task_publish.disconnect(count)
        app.conf.task_always_eager = True

    chunks = list(CampaignChunk.objects.filter(campaign=campaign))
    assert [len(c.client_ids) for c in chunks] == [2, 2, 1]
    assert [c.offset for c in chunks] == [0, 2, 4]

    with django_capture_on_commit_callbacks(execute=False) as senders:
        counts = [enqueue_campaign_chunk(c.pk) for c in chunks]
    assert [c["queued"] for c in counts] == [2, 2, 1]
    assert len(senders) == 3  # one sender per chunk, not one per message


def test_running_a_chunk_twice_creates_nothing_new(campaign, audience):
    send_campaign_now(campaign, by=None)  # no on-commit: the chunks wait
    chunk = CampaignChunk.objects.get(campaign=campaign)

    first = enqueue_campaign_chunk(chunk.pk)
    CampaignChunk.objects.filter(pk=chunk.pk).update(done_at=None)  # as if lost
    again = enqueue_campaign_chunk(chunk.pk)
    third = enqueue_campaign_chunk(chunk.pk)

    assert first["queued"] == 3
    assert again == {"duplicate": 6}
    assert not third
    assert Message.objects.filter(campaign=campaign).count() == 6


def test_sending_twice_starts_once(campaign, audience):
    send_campaign_now(campaign, by=None)
    send_campaign_now(campaign, by=None)

    assert CampaignChunk.objects.filter(campaign=campaign).count() == 1


def test_cancel_skips_the_queued_messages_and_closes_the_chunks(campaign, audience):
    send_campaign_now(campaign, by=None)
    chunk = CampaignChunk.objects.get(campaign=campaign)
    enqueue_campaign_chunk(chunk.pk)  # queued, sender not run (no on-commit)

    skipped = cancel_campaign(campaign, by=None)
    again = cancel_campaign(campaign, by=None)

    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.CANCELLED
    assert (skipped, again) == (3, 0)
    assert {c.pk: statuses(campaign)[c.pk] for c in audience["ok"]} == {
        c.pk: (Message.Status.SKIPPED, Reason.CANCELLED) for c in audience["ok"]
    }


def test_chunks_of_a_cancelled_campaign_enqueue_nothing(campaign, audience):
    send_campaign_now(campaign, by=None)
    cancel_campaign(campaign, by=None)
    chunk = CampaignChunk.objects.get(campaign=campaign)

    assert not enqueue_campaign_chunk(chunk.pk)
    assert not Message.objects.filter(campaign=campaign).exists()


def test_a_sent_campaign_cannot_be_cancelled_or_rescheduled(campaign, audience):
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SENT)

    with pytest.raises(ValidationError):
        cancel_campaign(campaign, by=None)
    with pytest.raises(ValidationError):
        schedule_campaign(campaign, at=timezone.now(), by=None)


def test_throttle_spaces_the_messages_a_minute_per_batch(
    campaign, tag, django_capture_on_commit_callbacks
):
    clients = [member(tag) for _ in range(5)]
    campaign.throttle_per_minute = 2
    campaign.save()

    with django_capture_on_commit_callbacks(execute=True):
        send_campaign_now(campaign, by=None)

    campaign.refresh_from_db()
    messages = {m.client_id: m for m in Message.objects.filter(campaign=campaign)}
    minutes = [
        (messages[c.pk].send_after - campaign.started_at) / dt.timedelta(minutes=1)
        for c in clients
    ]
    assert minutes == [0, 0, 1, 1, 2]
    assert [messages[c.pk].status for c in clients] == [
        Message.Status.SENT,
        Message.Status.SENT,
        Message.Status.QUEUED,
        Message.Status.QUEUED,
        Message.Status.QUEUED,
    ]


def test_a_scheduled_campaign_is_started_by_the_every_minute_job_when_due(
    campaign, audience, django_capture_on_commit_callbacks
):
    now = timezone.now()
    schedule_campaign(campaign, at=now + dt.timedelta(minutes=5), by=None)

    assert not run_due_campaigns(now=now)
    with django_capture_on_commit_callbacks(execute=True):
        counts = run_due_campaigns(now=now + dt.timedelta(minutes=5))

    assert counts == {"started": 1}  # its chunks and sender ran after commit
    next_minute = run_due_campaigns(now=now + dt.timedelta(minutes=6))

    campaign.refresh_from_db()
    assert next_minute == {"finished": 1}
    assert campaign.status == Campaign.Status.SENT
    assert campaign.finished_at is not None
    assert campaign.skipped == {"opted_out": 1, "no_consent": 1, "capped": 1}


def test_scheduling_again_moves_the_time_and_no_time_means_draft(campaign):
    at = timezone.now() + dt.timedelta(days=1)
    schedule_campaign(campaign, at=at, by=None)
    schedule_campaign(campaign, at=at, by=None)
    later = schedule_campaign(campaign, at=at + dt.timedelta(hours=1), by=None)

    assert later.status == Campaign.Status.SCHEDULED
    assert later.scheduled_at == at + dt.timedelta(hours=1)
    unscheduled = schedule_campaign(campaign, at=None, by=None)
    assert unscheduled.status == Campaign.Status.DRAFT
    assert unscheduled.scheduled_at is None


def test_a_campaign_is_sent_only_when_nothing_of_it_is_queued(campaign, audience):
    send_campaign_now(campaign, by=None)
    assert not finish_campaign(campaign)  # its chunk is not done
    enqueue_campaign_chunk(CampaignChunk.objects.get(campaign=campaign).pk)
    assert not finish_campaign(campaign)  # three messages queued

    Message.objects.filter(campaign=campaign, status=Message.Status.QUEUED).update(
        status=Message.Status.SENT, sent_at=timezone.now()
    )

    assert finish_campaign(campaign)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENT


def test_an_empty_segment_is_sent_at_once(campaign):
    send_campaign_now(campaign, by=None)

    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENT
    assert campaign.targeted == 0


def test_a_lost_chunk_is_published_again_after_ten_minutes(
    campaign, audience, django_capture_on_commit_callbacks
):
    send_campaign_now(campaign, by=None)  # its task never ran

    later = timezone.now() + campaigns.REPUBLISH_AFTER + dt.timedelta(seconds=1)
    with django_capture_on_commit_callbacks(execute=True):
        counts = run_due_campaigns(now=later)

    assert counts["republished"] == 1
    assert Message.objects.filter(campaign=campaign).count() == 6


def test_statistics_count_the_campaigns_messages_by_outcome(
    campaign, audience, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        send_campaign_now(campaign, by=None)
    first, second, third = (
        Message.objects.get(client=c, campaign=campaign) for c in audience["ok"]
    )
    mark_opened(first.pk)
    mark_clicked(second.pk)
    Message.objects.filter(pk=third.pk).update(
        status=Message.Status.FAILED, reason=Reason.ERROR
    )
    unsubscribe(first, source="unsubscribe_link")
    unsubscribe(first, source="unsubscribe_link")  # twice is one opt-out
    MessageFactory(client=audience["outsider"], status=Message.Status.SENT)
    campaign.refresh_from_db()

    stats = campaign_stats(campaign)
    annotated = with_stats(Campaign.objects.filter(pk=campaign.pk)).get()

    assert stats == {
        "targeted": 6,
        "sent": 2,
        "delivered": 2,  # an opened or clicked message was delivered
        "opened": 2,
        "clicked": 1,
        "failed": 1,
        "skipped": 3,
        "pending": 0,
        "unsubscribed": 1,
        "skipped_by_reason": {"opted_out": 1, "no_consent": 1, "capped": 1},
    }
    for name in campaigns.STAT_NAMES:
        assert getattr(annotated, f"{name}_count") == stats[name], name
