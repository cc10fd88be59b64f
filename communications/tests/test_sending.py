import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from clients.models import Interaction
from clients.tests.factories import ClientFactory, UserFactory
from communications.models import ContactPreferences, Message, Reason
from communications.services import (
    enqueue_message,
    record_opt_out,
    retry_failed_messages,
    send_due_messages,
    send_message,
    sweep_stuck_messages,
)

from .backends import AlwaysTransient
from .factories import ContactPreferencesFactory, MessageFactory, outbox_lines

pytestmark = pytest.mark.django_db

Status = Message.Status
NEW_YORK_22_30 = dt.datetime(2026, 11, 23, 22, 30, tzinfo=dt.UTC) + dt.timedelta(
    hours=5
)  # 22:30 in New York (UTC-5 in November)


def test_a_due_message_is_sent_once_and_recorded(templates, settings):
    client = ClientFactory(first_name="Ana")
    message = enqueue_message("welcome", channel="sms", client=client)

    first = send_due_messages()
    second = send_due_messages()
    again = send_message(message.pk)

    message.refresh_from_db()
    assert first == {"sent": 1}
    assert second == {} and again == {}
    assert message.status == Status.SENT
    assert message.sent_at is not None
    assert message.attempts == 1
    assert message.provider_id == f"file-{message.pk}"
    lines = outbox_lines(settings, "sms")
    assert [line["to"] for line in lines] == [client.phone]
    assert "Ana" in lines[0]["text"]


def test_enqueueing_a_due_message_sends_it_after_commit(
    templates, django_capture_on_commit_callbacks
):
    client = ClientFactory()

    with django_capture_on_commit_callbacks(execute=True):
        message = enqueue_message("welcome", channel="email", client=client)

    message.refresh_from_db()
    assert message.status == Status.SENT
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == [client.email]
    assert email.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert email.alternatives[0].mimetype == "text/html"


def test_a_sent_message_to_a_client_appears_on_their_timeline(templates):
    client = ClientFactory()
    staff = UserFactory()
    message = enqueue_message("welcome", channel="email", client=client, by=staff)

    send_due_messages()
    send_due_messages()

    interaction = Interaction.objects.get(client=client)
    message.refresh_from_db()
    assert interaction.type == Interaction.Type.MESSAGE
    assert interaction.channel == "email"
    assert interaction.direction == Interaction.Direction.OUTBOUND
    assert interaction.subject == message.subject
    assert interaction.handled_by == staff
    assert interaction.occurred_at == message.sent_at


def test_a_message_to_staff_leaves_no_client_interaction(templates):
    enqueue_message("escalation", channel="email", user=UserFactory())

    assert send_due_messages() == {"sent": 1}

    assert not Interaction.objects.exists()


def test_an_opt_out_after_enqueueing_stops_the_send(templates):
    client = ClientFactory()
    message = enqueue_message("welcome", channel="email", client=client)
    record_opt_out("welcome", client=client, channel="email")

    counts = send_due_messages()

    message.refresh_from_db()
    assert counts == {"skipped:opted_out": 1}
    assert (message.status, message.reason) == (Status.SKIPPED, Reason.OPTED_OUT)
    assert mail.outbox == []


def test_withdrawn_consent_stops_a_queued_marketing_message(templates):
    client = ContactPreferencesFactory().client
    message = enqueue_message("birthday", channel="email", client=client, period="y")
    ContactPreferences.objects.filter(client=client).update(marketing_email=False)

    send_due_messages()

    message.refresh_from_db()
    assert message.reason == Reason.NO_CONSENT


def test_the_cap_is_checked_again_when_sending(templates, settings):
    settings.COMMUNICATIONS_CAPS = {"sms": "day=1"}
    client = ContactPreferencesFactory().client
    first = enqueue_message("campaign", channel="sms", client=client, period="1")
    second = MessageFactory(
        client=client, kind="campaign", channel="sms", to_address=client.phone
    )  # enqueued before the first was sent

    counts = send_due_messages()

    first.refresh_from_db()
    second.refresh_from_db()
    assert counts == {"sent": 1, "skipped:capped": 1}
    assert {first.status, second.status} == {Status.SENT, Status.SKIPPED}
    assert Reason.CAPPED in {first.reason, second.reason}


def test_a_message_due_in_quiet_hours_is_deferred_to_their_end(templates, settings):
    settings.COMMUNICATIONS_QUIET_HOURS_START = "21:00"
    settings.COMMUNICATIONS_QUIET_HOURS_END = "09:00"
    with time_machine.travel(NEW_YORK_22_30, tick=False):
        message = enqueue_message("welcome", channel="sms", client=ClientFactory())

        counts = send_due_messages()

    message.refresh_from_db()
    assert counts == {"deferred": 1}
    assert (message.status, message.reason) == (Status.DEFERRED, Reason.QUIET_HOURS)
    assert timezone.localtime(message.next_attempt_at).isoformat() == (
        "2026-11-24T09:00:00-05:00"
    )
    assert message.attempts == 0
    with time_machine.travel(NEW_YORK_22_30 + dt.timedelta(hours=10, minutes=31)):
        assert send_due_messages() == {"sent": 1}


def test_a_clients_own_quiet_hours_replace_the_default(templates, settings):
    settings.COMMUNICATIONS_QUIET_HOURS_START = "21:00"
    settings.COMMUNICATIONS_QUIET_HOURS_END = "09:00"
    night_owl = ClientFactory()
    ContactPreferences.objects.create(
        client=night_owl, quiet_hours_start=dt.time(2), quiet_hours_end=dt.time(6)
    )
    with time_machine.travel(NEW_YORK_22_30, tick=False):
        enqueue_message("welcome", channel="sms", client=night_owl)

        assert send_due_messages() == {"sent": 1}


def test_staff_messages_are_sent_in_quiet_hours(templates, settings):
    settings.COMMUNICATIONS_QUIET_HOURS_START = "21:00"
    settings.COMMUNICATIONS_QUIET_HOURS_END = "09:00"
    with time_machine.travel(NEW_YORK_22_30, tick=False):
        enqueue_message("escalation", channel="email", user=UserFactory())

        assert send_due_messages() == {"sent": 1}


def test_a_transient_failure_retries_with_backoff_then_fails(templates, settings):
    settings.COMMUNICATIONS_SMS_BACKEND = (
        "communications.tests.backends.AlwaysTransient"
    )
    settings.COMMUNICATIONS_MAX_ATTEMPTS = 3
    settings.COMMUNICATIONS_RETRY_BASE_SECONDS = 60
    AlwaysTransient.calls = 0
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        message = enqueue_message("welcome", channel="sms", client=ClientFactory())
        assert send_due_messages() == {"retry": 1}
        message.refresh_from_db()
        assert message.status == Status.QUEUED
        assert message.next_attempt_at == start + dt.timedelta(seconds=60)
        assert message.error == "provider 503: try later"
        assert send_due_messages() == {}  # not due yet

    with time_machine.travel(start + dt.timedelta(seconds=61), tick=False):
        assert send_due_messages() == {"retry": 1}
        message.refresh_from_db()
        assert message.next_attempt_at == timezone.now() + dt.timedelta(seconds=120)

    with time_machine.travel(start + dt.timedelta(seconds=200), tick=False):
        assert send_due_messages() == {"failed": 1}

    message.refresh_from_db()
    assert (message.status, message.reason) == (Status.FAILED, Reason.ERROR)
    assert message.attempts == 3
    assert message.error == "provider 503: try later"
    assert message.next_attempt_at is None
    assert AlwaysTransient.calls == 3


def test_a_permanent_failure_fails_at_once(templates, settings):
    settings.COMMUNICATIONS_SMS_BACKEND = (
        "communications.tests.backends.AlwaysPermanent"
    )
    message = enqueue_message("welcome", channel="sms", client=ClientFactory())

    assert send_due_messages() == {"failed": 1}

    message.refresh_from_db()
    assert (message.status, message.reason) == (Status.FAILED, Reason.INVALID_ADDRESS)
    assert message.attempts == 1
    assert "not a mobile number" in message.error


def test_a_message_stuck_in_sending_is_queued_again_by_the_sweep(settings):
    settings.COMMUNICATIONS_SENDING_TIMEOUT_MINUTES = 10
    now = timezone.now()
    stuck = MessageFactory(
        status=Status.SENDING, claimed_at=now - dt.timedelta(minutes=11)
    )
    busy = MessageFactory(
        status=Status.SENDING, claimed_at=now - dt.timedelta(minutes=2)
    )

    assert sweep_stuck_messages(now=now) == 1

    stuck.refresh_from_db()
    busy.refresh_from_db()
    assert stuck.status == Status.QUEUED
    assert stuck.attempts == 1
    assert stuck.next_attempt_at == now
    assert busy.status == Status.SENDING


def test_a_message_stuck_on_its_last_attempt_fails(settings):
    settings.COMMUNICATIONS_MAX_ATTEMPTS = 3
    stuck = MessageFactory(
        status=Status.SENDING,
        attempts=2,
        claimed_at=timezone.now() - dt.timedelta(hours=1),
    )

    send_due_messages()

    stuck.refresh_from_db()
    assert (stuck.status, stuck.reason) == (Status.FAILED, Reason.ERROR)
    assert "worker" in stuck.error


def test_the_sweep_puts_back_what_the_sender_then_sends(settings):
    stuck = MessageFactory(
        status=Status.SENDING, claimed_at=timezone.now() - dt.timedelta(hours=1)
    )

    counts = send_due_messages()

    stuck.refresh_from_db()
    assert counts == {"requeued": 1, "sent": 1}
    assert stuck.status == Status.SENT


def test_retrying_failed_messages_queues_only_failed_ones(
    django_capture_on_commit_callbacks,
):
    failed = MessageFactory(status=Status.FAILED, reason=Reason.ERROR, attempts=5)
    sent = MessageFactory(status=Status.SENT)

    with django_capture_on_commit_callbacks(execute=True):
        queued = retry_failed_messages([failed.pk, sent.pk])

    failed.refresh_from_db()
    sent.refresh_from_db()
    assert queued == 1
    assert failed.status == Status.SENT  # the queued sender task ran after commit
    assert failed.attempts == 1
    assert sent.attempts == 0


def test_the_noop_backend_sends_nothing_and_succeeds(templates, settings):
    settings.COMMUNICATIONS_SMS_BACKEND = "communications.channels.noop.NoopBackend"
    message = enqueue_message("welcome", channel="sms", client=ClientFactory())

    send_due_messages()

    message.refresh_from_db()
    assert message.provider_id == f"noop-{message.pk}"
    assert message.cost is None or message.cost == Decimal("0")


def test_a_time_limit_mid_batch_keeps_what_was_sent_and_queues_the_rest(settings):
    from celery.exceptions import SoftTimeLimitExceeded

    from .backends import OutOfTimeOnSecond

    settings.COMMUNICATIONS_EMAIL_BACKEND = (
        "communications.tests.backends.OutOfTimeOnSecond"
    )
    OutOfTimeOnSecond.calls = 0
    messages = [MessageFactory() for _ in range(4)]

    with pytest.raises(SoftTimeLimitExceeded):
        send_due_messages()

    statuses = [Message.objects.get(pk=m.pk).status for m in messages]
    assert statuses == [Status.SENT, Status.QUEUED, Status.QUEUED, Status.QUEUED]
    assert [Message.objects.get(pk=m.pk).attempts for m in messages] == [1, 0, 0, 0]


def test_one_recipients_transient_problem_does_not_hold_up_the_others(settings):
    settings.COMMUNICATIONS_EMAIL_BACKEND = "communications.tests.backends.MailboxFull"
    full = MessageFactory(to_address="full@example.com")
    others = [MessageFactory() for _ in range(2)]

    counts = send_due_messages()

    full.refresh_from_db()
    assert counts == {"retry": 1, "sent": 2}
    assert full.status == Status.QUEUED and full.attempts == 1
    assert {Message.objects.get(pk=m.pk).status for m in others} == {Status.SENT}


def test_one_batch_records_each_outcome_and_leaves_a_message_taken_over(settings):
    settings.COMMUNICATIONS_EMAIL_BACKEND = (
        "communications.tests.backends.TakenOverWhileSending"
    )
    sent = MessageFactory(to_address="ana@example.com", attempts=1, error="earlier")
    taken = MessageFactory(to_address="taken@example.com")
    opted_out = MessageFactory(to_address="luis@example.com")
    record_opt_out("one_off", client=opted_out.client)
    staff = MessageFactory(client=None, user=UserFactory(), to_address="")

    counts = send_due_messages()

    assert counts == {"sent": 2, "skipped:opted_out": 1, "skipped:no_address": 1}
    sent.refresh_from_db()
    assert (sent.status, sent.attempts, sent.error) == (Status.SENT, 2, "")
    assert (sent.provider_id, sent.cost) == (f"p-{sent.pk}", Decimal("0.0075"))
    assert sent.sent_at is not None and sent.claimed_at is None
    taken.refresh_from_db()
    assert (taken.status, taken.sent_at, taken.provider_id) == (Status.QUEUED, None, "")
    opted_out.refresh_from_db()
    assert (opted_out.status, opted_out.reason) == (Status.SKIPPED, Reason.OPTED_OUT)
    assert opted_out.sent_at is None and opted_out.attempts == 0
    staff.refresh_from_db()
    assert (staff.status, staff.reason) == (Status.SKIPPED, Reason.NO_ADDRESS)
    timeline = Interaction.objects.values_list("client_id", flat=True)
    assert list(timeline) == [sent.client_id]  # not the one taken over
