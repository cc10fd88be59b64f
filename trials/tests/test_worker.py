"""The trial reminder job, run by a real Celery worker through Redis on the test
database (see crm_project/tests/test_worker.py, whose worker fixture this reuses).

The worker sends through the in-memory mail backend of its own process, so what the
test checks is what was recorded: the rows' status and sent time, the outbox messages
(each once, then sent by the outbox's sender on the same worker) and the log.
"""

import datetime as dt

import pytest
from django.utils import timezone

from communications.models import Message
from communications.tasks import send_due_messages
from crm_project.tests import test_worker as worker_support
from trials.models import TrialReminder, TrialStatus
from trials.tasks import send_due_trial_reminders

from .factories import (
    LeadFactory,
    SalespersonFactory,
    TrialFactory,
    TrialReminderFactory,
)

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

Kind = TrialReminder.Kind
Status = TrialReminder.Status

# The worker fixture, shared with the project's worker test.
worker = worker_support.worker


@pytest.fixture
def worker_mail(monkeypatch):
    """The worker sends into its own memory, never to a mail server."""
    monkeypatch.setenv("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
    # Whatever hour the test runs at, the lead's reminder is not held for the night.
    monkeypatch.setenv("COMMUNICATIONS_QUIET_HOURS_START", "00:00")
    monkeypatch.setenv("COMMUNICATIONS_QUIET_HOURS_END", "00:00")


def test_a_real_worker_sends_due_reminders_once_and_nothing_for_a_cancelled_trial(
    worker_mail, worker
):
    queue, log, process = worker
    started = timezone.now()
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    trial = TrialFactory(
        lesson_date=tomorrow,
        lead=LeadFactory(email="ana@example.org"),
        salesperson=SalespersonFactory(email="seller@studio.test"),
    )
    cancelled = TrialFactory(lesson_date=tomorrow, status=TrialStatus.CANCELLED)
    due = started - dt.timedelta(minutes=1)
    to_lead = TrialReminderFactory(trial=trial, kind=Kind.BEFORE_TO_LEAD, due_at=due)
    to_seller = TrialReminderFactory(
        trial=trial, kind=Kind.BEFORE_TO_SALESPERSON, due_at=due
    )
    later = TrialReminderFactory(
        trial=trial,
        kind=Kind.AFTER_TO_SALESPERSON,
        due_at=trial.ends_at + dt.timedelta(minutes=3),
    )
    not_wanted = TrialReminderFactory(trial=cancelled, due_at=due)

    send_due_trial_reminders.apply_async(queue=queue)
    send_due_trial_reminders.apply_async(queue=queue)

    def rows():
        return {
            r.pk: r
            for r in TrialReminder.objects.filter(
                pk__in=[to_lead.pk, to_seller.pk, later.pk, not_wanted.pk]
            )
        }

    worker_support.wait_for(
        lambda: (
            log.read_text().count("send_due_trial_reminders") >= 4
            and log.read_text().count("succeeded") >= 2
        ),
        what="both runs of the reminder job",
        log=log,
        worker=process,
    )
    found = rows()
    for sent in (to_lead, to_seller):
        row = found[sent.pk]
        assert row.status == Status.SENT, row.skip_reason
        assert started <= row.sent_at <= timezone.now()
    assert found[to_lead.pk].recipient == "ana@example.org"
    assert found[to_seller.pk].recipient == "seller@studio.test"
    assert found[later.pk].status == Status.PENDING
    assert found[not_wanted.pk].status == Status.CANCELLED
    output = log.read_text()
    assert "Trial reminders: 2 handed to the outbox" in output
    assert "Trial reminders: 0 handed to the outbox" in output
    # Each went into the outbox once; the outbox's sender, on this worker, sends it.
    messages = Message.objects.filter(pk__in=[r.message_id for r in found.values()])
    assert messages.count() == 2
    send_due_messages.apply_async(queue=queue)
    worker_support.wait_for(
        lambda: set(messages.values_list("status", flat=True)) == {"sent"},
        what="the outbox to send both reminders",
        log=log,
        worker=process,
    )
    assert Message.objects.count() == 2
