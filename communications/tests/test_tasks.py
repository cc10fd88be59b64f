import pytest
from django_celery_beat.models import PeriodicTask

from communications.models import Message
from communications.tasks import send_due_messages, send_message

from .factories import MessageFactory, outbox_lines

pytestmark = pytest.mark.django_db


def test_the_send_task_run_twice_sends_the_message_once(settings):
    message = MessageFactory(channel="sms", to_address="+14155550100")

    first = send_message.delay(message.pk).get()
    second = send_message.delay(message.pk).get()

    assert first == {"sent": 1}
    assert second == {}
    assert [line["id"] for line in outbox_lines(settings, "sms")] == [message.pk]


def test_the_batch_task_sends_what_is_due_and_reports_counts(settings):
    messages = [
        MessageFactory(channel="sms", to_address=f"+1415555010{i}") for i in range(3)
    ]

    assert send_due_messages.delay().get() == {"sent": 3}
    assert send_due_messages.delay().get() == {}
    assert Message.objects.filter(status=Message.Status.SENT).count() == len(messages)


def test_beat_runs_the_sender_every_minute():
    task = PeriodicTask.objects.get(task="communications.tasks.send_due_messages")

    assert (task.crontab.minute, task.crontab.hour) == ("*", "*")
    assert task.enabled
