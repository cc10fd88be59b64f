"""Demo leads for ``seed_demo``: people from every source, in every status.

To keep ``make run`` fast (a few hundred rows in well under a second), the steps a
lead took before any operation with side effects are kept in memory
(``DemoLead.step``) and written in bulk by :func:`write_leads`, as the services and
their signals would have left them: the lead in its status, one history row per
step, the first-contact follow-up done at the first contact, or overdue with its
reminders when nobody called. Conversion, follow-ups to come and the trial operations
then go through the services (``convert_lead``, ``schedule_follow_up``,
trials.services), which stamp what they write with the present moment;
:func:`date_leads` moves those stamps to when each step happened.

The trials demo (trials.demo) decides what becomes of each lead and calls these.
"""

import datetime as dt
import random
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field

import phonenumbers
from django.conf import settings
from django.db import connection
from django.db.models import Model
from django.db.models.functions import Lower
from django.utils.translation import gettext as _

from clients.models import Client

from .models import Lead, LeadFollowUp, LeadStatus, LeadStatusHistory, Source
from .services import convert_lead, first_contact_due, schedule_follow_up

# Where demo leads come from, and how often (the rest of Source is not used).
SOURCE_WEIGHTS = {
    Source.INSTAGRAM: 28,
    Source.FACEBOOK: 22,
    Source.LANDING_PAGE: 18,
    Source.GOOGLE_SHEETS: 10,
    Source.WHATSAPP: 8,
    Source.CALL_TRACKING: 6,
    Source.REFERRAL: 5,
    Source.WALK_IN: 3,
}

# Ad campaigns by source: campaign, ad, form, utm_source, utm_medium, utm_campaign.
CAMPAIGNS = {
    Source.INSTAGRAM: (
        ("Spring yoga trial", "Reel - sunrise flow", "Free trial form", "instagram"),
        ("Pilates core week", "Story - 3 moves", "Pilates trial form", "instagram"),
        ("Breathwork launch", "Carousel - calm in 5", "Waitlist form", "instagram"),
    ),
    Source.FACEBOOK: (
        ("Spring yoga trial", "Video - studio tour", "Free trial form", "facebook"),
        ("Beginners welcome", "Image - first class", "Beginners form", "facebook"),
    ),
    Source.LANDING_PAGE: (
        ("Search - yoga near me", "", "Trial lesson page", "google"),
        ("Search - pilates classes", "", "Trial lesson page", "google"),
        ("Newsletter - March", "", "Newsletter signup", "newsletter"),
    ),
    Source.CALL_TRACKING: (
        ("Search - yoga near me", "Call extension", "", "google"),
        ("Maps listing", "", "", "google"),
    ),
    Source.GOOGLE_SHEETS: (("Wellness fair leads", "", "Fair sign-up sheet", ""),),
}
UTM_MEDIUM = {
    "instagram": "paid_social",
    "facebook": "paid_social",
    "google": "cpc",
    "newsletter": "email",
}
UTM_TERMS = ("yoga classes", "beginner yoga", "pilates near me", "yoga studio")

LEAD_NOTES = (
    "Asked about the morning group.",
    "Prefers evenings after 6 pm.",
    "Had a back injury last year; wants gentle classes.",
    "Wants to come with a friend.",
    "Asked about prices for the monthly pass.",
    "Did yoga before, looking for a new studio.",
    "Interested in pilates and breathwork.",
    "Only free on weekends.",
)
LOST_REASONS = (
    "Too expensive",
    "The schedule does not fit",
    "Not answering calls or messages",
    "Chose another studio",
    "Moving away",
    "Only wanted information",
)
FOLLOW_UP_NOTES = (
    "Call back about the timetable",
    "Send the price list",
    "Check which group suits them",
    "Remind about the offer",
    "Ask how the first week went",
)


@dataclass
class Event:
    status: str  # the status moved to
    at: dt.datetime
    by: Model | None = None
    note: str = ""


@dataclass
class DemoLead:
    """One demo lead: what it is created from, and its steps with their times."""

    source: str
    data: dict  # Lead field values, as the intake would have normalised them
    received_at: dt.datetime
    seller: Model | None = None  # the salesperson it is assigned to
    booker: Model | None = None  # who books its trials (the desk for walk-ins)
    entered_by: Model | None = None  # who typed it in (walk-ins), else an import
    lead: Lead | None = None
    status: str = LeadStatus.NEW
    lost_reason: str = ""
    events: list[Event] = field(default_factory=list)
    converted_at: dt.datetime | None = None

    @property
    def last_at(self) -> dt.datetime:
        return self.events[-1].at if self.events else self.received_at

    @property
    def assigned_at(self) -> dt.datetime | None:
        return self.received_at + dt.timedelta(minutes=3) if self.seller else None

    def step(
        self, status: str, at: dt.datetime, *, note: str = "", lost_reason: str = ""
    ) -> None:
        """A status change by the lead's salesperson, before the lead is written."""
        if self.lead is not None:
            raise RuntimeError("The lead is written: go through the services.")
        self.status = status
        if lost_reason:
            self.lost_reason = lost_reason
        self.events.append(Event(status, at, self.seller, note))

    def happened(self, status: str, at: dt.datetime) -> None:
        """A status change a service made (booking, cancelling, a trial's result)."""
        if self.status != status:
            self.status = status
            self.events.append(Event(status, at))


def ascii_slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum())


def demo_phones(rng: random.Random, count: int, region: str) -> list[str]:
    """``count`` distinct valid E.164 numbers of ``region``, held by no client or lead.

    They vary the last four digits of the region's example mobile number (in the US,
    the 555 exchange), so that demo data does not dial real people's numbers.
    """
    example = phonenumbers.example_number_for_type(
        region, phonenumbers.PhoneNumberType.MOBILE
    ) or phonenumbers.example_number(region)
    if example is None:
        return []
    stem = phonenumbers.national_significant_number(example)[:-4]
    prefix = f"+{example.country_code}{stem}"
    phones: list[str] = []
    seen: set[str] = set()
    for line in rng.sample(range(10_000), 10_000):
        if len(phones) >= count * 2:
            break
        phone = f"{prefix}{line:04d}"
        number = phonenumbers.parse(phone)
        if phonenumbers.is_valid_number(number) and phone not in seen:
            seen.add(phone)
            phones.append(phone)
    taken = set(Client.objects.filter(phone__in=phones).values_list("phone", flat=True))
    taken |= set(Lead.objects.filter(phone__in=phones).values_list("phone", flat=True))
    return [phone for phone in phones if phone not in taken][:count]


def demo_people(rng: random.Random, count: int) -> list[tuple[str, str, str]]:
    """(full name, phone, email) for ``count`` people: English and Spanish names,
    distinct phones of PHONENUMBER_DEFAULT_REGION, an email for about two in three."""
    # Here, not at the top: crm_project.demo imports the demos that import this.
    from crm_project.demo import names

    phones = demo_phones(rng, count, settings.PHONENUMBER_DEFAULT_REGION)
    people = []
    emails: set[str] = set()
    for i in range(count):
        if rng.random() < 0.35:
            first, last = (
                rng.choice(names.FIRST_NAMES_ES),
                rng.choice(names.LAST_NAMES_ES),
            )
        else:
            first, last = (
                rng.choice(names.FIRST_NAMES_EN),
                rng.choice(names.LAST_NAMES_EN),
            )
        phone = phones[i] if i < len(phones) else ""
        email = ""
        if not phone or rng.random() < 0.65:
            domain = rng.choice(names.EMAIL_DOMAINS)
            email = f"{ascii_slug(first)}.{ascii_slug(last)}{i + 11}@{domain}"
            emails.add(email)
        people.append((f"{first} {last}", phone, email))
    taken = set(
        Client.objects.annotate(e=Lower("email"))
        .filter(e__in=emails)
        .values_list("e", flat=True)
    )
    taken |= set(
        Lead.objects.annotate(e=Lower("email"))
        .filter(e__in=emails)
        .values_list("e", flat=True)
    )
    # A person left with neither is given a fresh address on a demo-only domain.
    return [
        (
            name,
            phone,
            email if email not in taken else ("" if phone else f"lead{i}@demo.test"),
        )
        for i, (name, phone, email) in enumerate(people)
    ]


def lead_data(
    rng: random.Random,
    source: str,
    person: tuple[str, str, str],
    received_at: dt.datetime,
    index: int,
) -> dict:
    """What an import or a webhook would hand ``create_or_merge_lead``."""
    full_name, phone, email = person
    data = {
        "full_name": full_name,
        "phone": phone,
        "email": email,
        "received_at": received_at,
    }
    campaigns = CAMPAIGNS.get(source)
    if campaigns:
        campaign, ad, form, utm_source = rng.choice(campaigns)
        data.update(campaign_name=campaign, ad_name=ad, form_name=form)
        if utm_source:
            data.update(
                utm_source=utm_source,
                utm_medium=UTM_MEDIUM[utm_source],
                utm_campaign="_".join(
                    ascii_slug(word) for word in campaign.split() if ascii_slug(word)
                ),
            )
        if utm_source == "google":
            data["utm_term"] = rng.choice(UTM_TERMS)
    if source in (Source.INSTAGRAM, Source.FACEBOOK):
        data["external_id"] = str(1_200_000_000_000_000 + index * 7919)
    elif source == Source.CALL_TRACKING:
        data["external_id"] = f"call-{100_000 + index}"
    elif source == Source.WHATSAPP:
        data["external_id"] = f"wamid.demo{index:06d}"
    if rng.random() < 0.3:
        data["notes"] = rng.choice(LEAD_NOTES)
    return data


def walk_to(demo: DemoLead, status: str, rng: random.Random, now: dt.datetime):
    """A lead without a trial: contacted, maybe interested, then ``status``.

    Steps are spread between its arrival and now; a lost lead gives a reason. For
    ``converted`` it stops at interested: conversion goes through ``convert``.
    """
    if status == LeadStatus.NEW:
        return
    times = spread(rng, demo.received_at, now, 3)
    demo.step(LeadStatus.CONTACTED, times[0], note="Called back")
    if status == LeadStatus.CONTACTED:
        return
    if status == LeadStatus.LOST and rng.random() < 0.4:
        demo.step(status, times[1], lost_reason=rng.choice(LOST_REASONS))
        return
    demo.step(LeadStatus.INTERESTED, times[1], note="Wants a trial lesson")
    if status == LeadStatus.LOST:
        demo.step(status, times[2], lost_reason=rng.choice(LOST_REASONS))


def spread(
    rng: random.Random, start: dt.datetime, end: dt.datetime, count: int
) -> list[dt.datetime]:
    """``count`` increasing times in (start, end): the first soon after ``start``,
    as a salesperson answers a new lead within hours."""
    span = max((end - start).total_seconds(), 60.0)
    first = start + dt.timedelta(seconds=span * rng.uniform(0.02, 0.15))
    rest = sorted(rng.uniform(0.2, 0.95) for _ in range(count - 1))
    return [first] + [start + dt.timedelta(seconds=span * share) for share in rest]


def write_leads(demos: list[DemoLead], now: dt.datetime) -> None:
    """Write the leads in their current status, with their history and their
    missed first contacts' follow-ups; sets each ``demo.lead``."""
    leads = [
        Lead(
            source=demo.source,
            status=demo.status,
            lost_reason=demo.lost_reason,
            assigned_to=demo.seller,
            assigned_at=demo.assigned_at,
            first_contact_due_at=first_contact_due(demo.received_at),
            **demo.data,
        )
        for demo in demos
    ]
    Lead.objects.bulk_create(leads, batch_size=500)
    # Read back: the ids, whatever the database returns from a bulk insert.
    ids = {
        (phone, email): pk
        for pk, phone, email in Lead.objects.filter(
            received_at__gte=min(demo.received_at for demo in demos)
        ).values_list("pk", "phone", "email")
    }
    for demo, lead in zip(demos, leads, strict=True):
        lead.pk = ids[(lead.phone, lead.email)]
        lead._state.adding = False
        demo.lead = lead
    history, follow_ups, stamps = [], [], {}
    first_contact = _("First contact")
    for demo in demos:
        previous = ""
        for event in [Event(LeadStatus.NEW, demo.received_at, demo.entered_by)] + (
            demo.events
        ):
            history.append(_history_row(demo, event, previous))
            previous = event.status
        stamps[demo.lead.pk] = (demo.received_at, demo.last_at)
        # As the follow-up job leaves them: a first-contact follow-up only where
        # the deadline was missed, done once the lead was contacted.
        due = demo.lead.first_contact_due_at
        contacted = demo.events[0].at if demo.events else None
        if due >= (contacted or now):
            continue
        follow_up = LeadFollowUp(
            lead=demo.lead,
            due_at=due,
            note=first_contact,
            assigned_to=demo.seller,
            first_contact=True,
        )
        if contacted:
            follow_up.status = LeadFollowUp.Status.DONE
            follow_up.completed_at = contacted
        else:
            mark_overdue(follow_up, now)
        follow_ups.append(follow_up)
    LeadStatusHistory.objects.bulk_create(history, batch_size=500)
    restamp(Lead, ["created_at", "updated_at"], stamps)
    LeadFollowUp.objects.bulk_create(follow_ups, batch_size=500)
    restamp(
        LeadFollowUp,
        ["created_at", "updated_at"],
        {
            pk: (due, completed or reminded or due)
            for pk, due, completed, reminded in LeadFollowUp.objects.filter(
                lead_id__in=stamps
            ).values_list("pk", "due_at", "completed_at", "last_reminded_at")
        },
    )


def _history_row(demo: DemoLead, event: Event, previous: str) -> LeadStatusHistory:
    return LeadStatusHistory(
        lead=demo.lead,
        from_status=previous,
        to_status=event.status,
        changed_by=event.by,
        changed_at=event.at,
        note=event.note,
    )


def convert(demo: DemoLead, at: dt.datetime) -> Client:
    """``convert_lead`` by the lead's salesperson, as done ``at``."""
    client = convert_lead(demo.lead, by=demo.seller)
    demo.happened(LeadStatus.CONVERTED, at)
    demo.converted_at = at
    return client


def add_follow_ups(demos: list[DemoLead], rng: random.Random, now: dt.datetime) -> None:
    """Call-backs for open leads past first contact: most due in the coming days
    (``schedule_follow_up``), some already overdue (written as the job leaves them)."""
    overdue = []
    for demo in demos:
        if demo.status in (LeadStatus.NEW, LeadStatus.CONVERTED, LeadStatus.LOST):
            continue
        if demo.status == LeadStatus.TRIAL_SCHEDULED or rng.random() < 0.35:
            continue
        note = rng.choice(FOLLOW_UP_NOTES)
        if rng.random() < 0.7:
            due = now + dt.timedelta(hours=rng.randint(2, 96))
            schedule_follow_up(demo.lead, due_at=due, note=note, by=demo.seller)
            continue
        due = demo.last_at + (now - demo.last_at) * rng.uniform(0.3, 0.8)
        follow_up = LeadFollowUp(
            lead=demo.lead,
            due_at=due,
            note=note,
            assigned_to=demo.seller,
            created_by=demo.seller,
        )
        mark_overdue(follow_up, now)
        overdue.append(follow_up)
    LeadFollowUp.objects.bulk_create(overdue)
    # Set up at the lead's last step, not now.
    last_at = {demo.lead.pk: demo.last_at for demo in demos}
    restamp(
        LeadFollowUp,
        ["created_at", "updated_at"],
        {
            pk: (last_at[lead_id], reminded or last_at[lead_id])
            for pk, lead_id, reminded in LeadFollowUp.objects.filter(
                lead_id__in=last_at
            )
            .exclude(first_contact=True)
            .values_list("pk", "lead_id", "last_reminded_at")
        },
    )


def mark_overdue(follow_up: LeadFollowUp, now: dt.datetime) -> None:
    """As ``process_follow_ups`` leaves a follow-up past due: overdue, its
    salesperson reminded every LEADS_REMINDER_INTERVAL_HOURS since, and the managers
    told once after LEADS_ESCALATE_AFTER_REMINDERS reminders."""
    interval = dt.timedelta(hours=settings.LEADS_REMINDER_INTERVAL_HOURS)
    reminders = 1 + int((now - follow_up.due_at) / interval)
    follow_up.status = LeadFollowUp.Status.OVERDUE
    follow_up.reminder_count = reminders
    follow_up.last_reminded_at = follow_up.due_at + (reminders - 1) * interval
    escalate = settings.LEADS_ESCALATE_AFTER_REMINDERS
    if reminders >= escalate:
        follow_up.escalated_at = follow_up.due_at + (escalate - 1) * interval


def restamp(model, names: list[str], rows: dict[int, tuple]) -> None:
    """Set columns ``names`` of the rows with the given ids (id → values), in one
    executemany: bulk_update's CASE per row is slow, and bulk_create always stamps
    ``auto_now`` fields with the present."""
    if not rows:
        return
    fields = [model._meta.get_field(name) for name in names]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(f.column)} = %s" for f in fields)
    sql = (
        f"UPDATE {quote(model._meta.db_table)} SET {assignments} "  # noqa: S608
        f"WHERE {quote(model._meta.pk.column)} = %s"
    )
    params = [
        [
            f.get_db_prep_save(value, connection)
            for f, value in zip(fields, values, strict=True)
        ]
        + [pk]
        for pk, values in rows.items()
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def date_history(history_model, owner: str, events: dict[int, list]) -> None:
    """Move the ``changed_at`` of the owners' history rows to the times in
    ``events`` (owner id → [(to status, when)]), matched in order by status."""
    column = f"{owner}_id"
    rows = (
        history_model.objects.filter(**{f"{column}__in": list(events)})
        .order_by(column, "pk")
        .values_list("pk", column, "to_status")
    )
    by_owner = defaultdict(list)
    for pk, owner_id, to_status in rows:
        by_owner[owner_id].append((pk, to_status))
    dated = {}
    for owner_id, owner_rows in by_owner.items():
        pending = iter(events[owner_id])
        for pk, to_status in owner_rows:
            for status, when in pending:
                if status == to_status:
                    dated[pk] = (when,)
                    break
    restamp(history_model, ["changed_at"], dated)


def date_leads(demos: list[DemoLead]) -> None:
    """Move what the services stamped with the present to when it happened."""
    touched = {
        demo.lead.pk: demo
        for demo in demos
        if demo.lead is not None
        and (demo.converted_at or demo.lead.status != demo.status)
    }
    date_history(
        LeadStatusHistory,
        "lead",
        {
            pk: [(LeadStatus.NEW, demo.received_at)]
            + [(event.status, event.at) for event in demo.events]
            for pk, demo in touched.items()
        },
    )
    restamp(
        Lead,
        ["updated_at", "converted_at"],
        {pk: (demo.last_at, demo.converted_at) for pk, demo in touched.items()},
    )
