"""Exactly once under concurrency, on PostgreSQL: racing threads, and real Celery
workers through Redis. Sends are counted in the file backend's output, which
records every call the sender makes to a channel backend."""

import pytest
from django.db import connection

from clients.tests.factories import ClientFactory
from communications.models import Message
from communications.services import MessageSpec, enqueue_messages, send_due_messages
from communications.tasks import send_due_messages as send_due_messages_task
from crm_project.tests.concurrency import race
from crm_project.tests.test_worker import (  # noqa: F401 - worker is a fixture
    running_worker,
    wait_for,
    worker,
)

from .factories import MessageFactory, outbox_lines

Status = Message.Status


def queued_sms(count: int) -> list[Message]:
    return [
        MessageFactory(channel="sms", to_address=f"+1415555{i:04d}")
        for i in range(count)
    ]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_senders_racing_in_threads_send_each_message_once(settings):
    settings.COMMUNICATIONS_SEND_BATCH_SIZE = 7  # many small claims, more overlap
    messages = queued_sms(60)

    def work(i):
        results = []
        while counts := send_due_messages():
            results.append(counts)
        return results

    outcomes = race(6, work)

    assert not [o for o in outcomes if isinstance(o, Exception)]
    sent = [line["id"] for line in outbox_lines(settings, "sms")]
    assert sorted(sent) == sorted(m.pk for m in messages)
    assert sum(o.get("sent", 0) for o in outcomes) == 60
    assert Message.objects.filter(status=Status.SENT).count() == 60


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_bulk_enqueue_racing_with_itself_writes_each_message_once(templates):
    clients = [ClientFactory() for _ in range(30)]
    specs = [
        MessageSpec("welcome", "email", client=c, send_after=None) for c in clients
    ]

    def work(i):
        return [enqueue_messages(specs)]

    outcomes = race(4, work)

    assert not [o for o in outcomes if isinstance(o, Exception)]
    assert Message.objects.count() == 30
    assert sum(o.get("queued", 0) + o.get("duplicate", 0) for o in outcomes) == 120


@pytest.fixture
def worker_outbox(tmp_path, monkeypatch):
    """What the worker process reads from its environment: our file outbox, and no
    quiet hours (the real clock may be in them)."""
    folder = tmp_path / "worker-outbox"
    monkeypatch.setenv("COMMUNICATIONS_FILE_DIR", str(folder))
    monkeypatch.setenv("COMMUNICATIONS_QUIET_HOURS_START", "00:00")
    monkeypatch.setenv("COMMUNICATIONS_QUIET_HOURS_END", "00:00")
    return folder


@pytest.fixture
def outbox_worker(worker_outbox, request, settings):
    """A real worker (crm_project.tests.test_worker) writing to our file outbox."""
    settings.COMMUNICATIONS_FILE_DIR = str(worker_outbox)
    return request.getfixturevalue("worker")


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_running_the_send_task_twice_sends_each_message_once(
    outbox_worker, settings
):
    queue, log, process = outbox_worker
    messages = queued_sms(25)

    send_due_messages_task.apply_async(queue=queue)
    send_due_messages_task.apply_async(queue=queue)
    send_due_messages_task.apply_async(kwargs={"limit": 5}, queue=queue)

    wait_for(
        lambda: not Message.objects.exclude(status=Status.SENT).exists(),
        what="every message to be sent",
        log=log,
        worker=process,
    )
    wait_for(
        lambda: log.read_text().count("send_due_messages") >= 6,  # received+succeeded
        what="the three tasks to finish",
        log=log,
        worker=process,
    )
    sent = [line["id"] for line in outbox_lines(settings, "sms")]
    assert sorted(sent) == sorted(m.pk for m in messages)


@pytest.fixture
def second_worker(outbox_worker):
    """A second worker process on the first one's queue."""
    queue, log, first = outbox_worker
    log2 = log.parent / "worker2.log"
    with running_worker(queue, log2, node=f"{queue}-2", forget_queue=False) as second:
        yield queue, (log, log2), (first, second)


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_real_workers_sending_at_once_send_each_message_once(
    second_worker, settings
):
    queue, (log, log2), (first, second) = second_worker
    messages = queued_sms(80)

    for _ in range(8):
        send_due_messages_task.apply_async(kwargs={"limit": 10}, queue=queue)

    wait_for(
        lambda: not Message.objects.exclude(status=Status.SENT).exists(),
        what="every message to be sent",
        log=log,
        worker=first,
    )
    sent = [line["id"] for line in outbox_lines(settings, "sms")]
    assert sorted(sent) == sorted(m.pk for m in messages)
    assert connection.vendor == "postgresql"
