"""Races on lead intake, status, conversion and the follow-up job, with real threads
on PostgreSQL.

Each thread has its own database connection and transaction, as web, webhook and
worker processes do; a barrier releases them together so that they really race.
"""

import datetime as dt

import pytest
from django.utils import timezone

from clients.models import Client
from crm_project.tests.concurrency import race
from leads import services
from leads.models import Lead, LeadFollowUp, LeadStatus, LeadStatusHistory, Source
from leads.tests.factories import (
    LeadFactory,
    LeadFollowUpFactory,
    ManagerFactory,
    SalespersonFactory,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

F = LeadFollowUp.Status
PHONES = [
    "(415) 555-0123",
    "+1 415 555 0123",
    "415.555.0123",
    "p:+14155550123",
    "4155550123",
    "+14155550123",
    '="4155550123"',
    "'415 555 0123",
]


@pytest.fixture(autouse=True)
def studio_settings(settings):
    settings.PHONENUMBER_DEFAULT_REGION = "US"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.LEADS_REMINDER_INTERVAL_HOURS = 4
    settings.LEADS_ESCALATE_AFTER_REMINDERS = 3


def test_eight_intakes_of_one_person_in_different_formats_create_one_lead():
    def take(i):
        result = services.create_or_merge_lead(
            {
                "phone": PHONES[i],
                "email": "Ana@Example.com" if i % 2 else "ana@example.com",
                "full_name": f"Ana {i}",
            },
            source=Source.FACEBOOK,
        )
        return [result]

    outcomes = race(8, take)

    errors = [o for o in outcomes if isinstance(o, Exception)]
    assert errors == []
    assert sorted(o.created for o in outcomes) == [False] * 7 + [True]
    lead = Lead.objects.get()
    assert {o.lead.pk for o in outcomes} == {lead.pk}
    assert (lead.phone, lead.email) == ("+14155550123", "ana@example.com")
    winner = next(o for o in outcomes if o.created)
    assert lead.full_name == winner.lead.full_name  # the losers filled nothing
    assert list(
        LeadStatusHistory.objects.values_list("lead", "from_status", "to_status")
    ) == [(lead.pk, "", LeadStatus.NEW)]


def test_retried_deliveries_with_one_external_id_make_one_lead_with_both_contacts():
    # A webhook retried: some deliveries carry only the phone, others only the email.
    def take(i):
        contact = {"phone": PHONES[i]} if i % 2 else {"email": "ANA@example.com"}
        result = services.create_or_merge_lead(
            {**contact, "external_id": "meta-lead-1"}, source=Source.FACEBOOK
        )
        return [result]

    outcomes = race(8, take)

    assert [o for o in outcomes if isinstance(o, Exception)] == []
    assert sum(o.created for o in outcomes) == 1
    lead = Lead.objects.get()
    assert (lead.phone, lead.email, lead.external_id) == (
        "+14155550123",
        "ana@example.com",
        "meta-lead-1",
    )
    assert LeadStatusHistory.objects.count() == 1


def test_intakes_racing_for_round_robin_share_leads_out_evenly():
    first, second = SalespersonFactory(), SalespersonFactory()

    def take(i):
        result = services.create_or_merge_lead(
            {"phone": f"+1415555{i:04d}"}, source=Source.LANDING_PAGE, auto_assign=True
        )
        return [result]

    outcomes = race(8, take)

    assert [o for o in outcomes if isinstance(o, Exception)] == []
    assert Lead.objects.filter(assigned_to=first).count() == 4
    assert Lead.objects.filter(assigned_to=second).count() == 4


def test_five_desks_moving_a_lead_to_the_same_status_record_it_once():
    lead = LeadFactory()

    def contact(_):
        mine = Lead.objects.get(pk=lead.pk)
        return [services.change_lead_status(mine, LeadStatus.CONTACTED).status]

    outcomes = race(5, contact)

    assert outcomes == [LeadStatus.CONTACTED] * 5
    assert list(
        LeadStatusHistory.objects.filter(lead=lead)
        .order_by("id")
        .values_list("from_status", "to_status")
    ) == [("", LeadStatus.NEW), (LeadStatus.NEW, LeadStatus.CONTACTED)]


def test_five_desks_converting_one_lead_make_one_client():
    lead = LeadFactory(full_name="Ana Pérez")

    def convert(_):
        return [services.convert_lead(Lead.objects.get(pk=lead.pk)).pk]

    outcomes = race(5, convert)

    client = Client.objects.get()
    assert outcomes == [client.pk] * 5
    assert Lead.objects.get(pk=lead.pk).client == client
    assert (
        LeadStatusHistory.objects.filter(
            lead=lead, to_status=LeadStatus.CONVERTED
        ).count()
        == 1
    )


def test_two_follow_up_runs_at_once_remind_each_follow_up_once(mailoutbox):
    salesperson = SalespersonFactory(email="sam@studio.test")
    now = timezone.now()
    follow_ups = [
        LeadFollowUpFactory(
            lead=LeadFactory(assigned_to=salesperson),
            due_at=now - dt.timedelta(minutes=5 + i),
        )
        for i in range(20)
    ]

    outcomes = race(2, lambda _: [services.process_follow_ups(now=now)])

    assert [o for o in outcomes if isinstance(o, Exception)] == []
    assert sum(run.overdue for run in outcomes) == 20
    assert sum(run.reminded for run in outcomes) == 20
    rows = LeadFollowUp.objects.filter(pk__in=[f.pk for f in follow_ups])
    assert set(rows.values_list("reminder_count", "status", "last_reminded_at")) == {
        (1, F.OVERDUE, now)
    }
    assert len(mailoutbox) == 20


def test_follow_up_runs_racing_past_the_threshold_escalate_once(mailoutbox):
    salesperson = SalespersonFactory(email="sam@studio.test")
    ManagerFactory(email="maria@studio.test")
    now = timezone.now()
    follow_up = LeadFollowUpFactory(
        lead=LeadFactory(assigned_to=salesperson),
        status=F.OVERDUE,
        due_at=now - dt.timedelta(days=1),
        reminder_count=2,
        last_reminded_at=now - dt.timedelta(hours=5),
    )

    outcomes = race(4, lambda _: [services.process_follow_ups(now=now)])

    assert sum(run.reminded for run in outcomes) == 1
    assert sum(run.escalated for run in outcomes) == 1
    follow_up.refresh_from_db()
    assert (follow_up.reminder_count, follow_up.escalated_at) == (3, now)
    # The salesperson's third reminder and the manager's note, each once.
    assert sorted((m.to[0], m.subject.split(":")[0]) for m in mailoutbox) == [
        ("maria@studio.test", "Escalation"),
        ("sam@studio.test", "Overdue follow-up"),
    ]


def test_follow_up_runs_at_once_open_each_missed_first_contact_once():
    now = timezone.now()
    leads = [
        LeadFactory(first_contact_due_at=now - dt.timedelta(minutes=1 + i))
        for i in range(30)
    ]

    outcomes = race(4, lambda _: [services.open_missed_first_contacts(now=now)])

    assert [o for o in outcomes if isinstance(o, Exception)] == []
    assert sum(outcomes) == 30
    opened = LeadFollowUp.objects.filter(first_contact=True)
    assert sorted(opened.values_list("lead_id", flat=True)) == sorted(
        lead.pk for lead in leads
    )
