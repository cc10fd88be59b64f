"""Demo leads and trial lessons for ``seed_demo``: about 150 leads of the last 60
days, in every status, and their trials in the demo groups, in every status and with
every result, so the lead list, the follow-ups, the trial list and the funnel have
something to show.

Each lead follows a plan (``PLANS``): how far it got. The steps before anything with
side effects are kept in memory and written in bulk (leads.demo.write_leads), which
keeps the whole run well under a second. Past trials cannot go through the services
(they refuse a lesson that has started), so they are written directly, as the
services would have left them: status history, reminders sent, a place taken only
where one was free, an offer or a refusal recorded (the refused lead lost). Accepted
trials then go through ``record_result``, which converts the lead and enrols the new
client, and upcoming trials through ``schedule_trial``, ``reschedule_trial`` and
``cancel_trial``, which check the places under the group lock; enrolments come
first, so they count against the bookings. The stamps the services leave are then
moved to when each step happened.

Sources and plans are drawn together: referrals and walk-ins convert best, bought
lists worst, so the funnel's KPI colours differ by source. Enrolments stop short of
the red occupancy mark and a lesson takes at most two demo trials, so the room grid
keeps its colours.
"""

import datetime as dt
import random
from collections import Counter
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from leads import demo as leads_demo
from leads.demo import DemoLead, restamp
from leads.models import Lead, LeadFollowUp, LeadStatus, LeadStatusHistory, Source
from scheduling import bookings
from scheduling.models import PLACE_HOLDING_STATUSES, Enrollment, Group, GroupStatus
from scheduling.selectors import free_places
from scheduling.services import refresh_room_occupancy

from . import reminders
from .models import (
    ReminderKind,
    ReminderStatus,
    Trial,
    TrialReminder,
    TrialResult,
    TrialStatus,
    TrialStatusHistory,
)
from .services import (
    LEADS_BEFORE_TRIAL,
    cancel_trial,
    record_result,
    reschedule_trial,
    schedule_trial,
)

# Plan → leads following it. "past_*" plans had a trial before today; "booked" ones
# have an upcoming trial.
PLANS = (
    ("new", 20),  # four arrived in the last two hours; the rest are overdue
    ("contacted", 19),
    ("interested", 17),
    ("lost", 20),
    ("converted", 4),  # bought a pass without a trial
    ("booked", 14),
    ("booked_cancelled", 2),  # cancelled an upcoming trial: interested again
    ("past_unrecorded", 2),  # attendance not recorded yet (overdue)
    ("past_no_show_rebooked", 2),
    ("past_no_show_lost", 6),
    ("past_no_show", 3),  # missed it, interested in another date
    ("past_cancelled", 3),
    ("past_attended", 3),  # came; result not recorded yet (overdue)
    ("past_offer", 11),
    ("past_accepted", 10),
    ("past_rejected", 12),
)
FRESH_NEW_LEADS = 4
UNASSIGNED_NEW_LEADS = 2

# How each plan skews the sources: good outcomes come from people who know the
# studio, poor ones from bought lists and cold ads.
GOOD_PLANS = {"past_accepted", "past_offer", "past_attended", "converted"}
POOR_PLANS = {"new", "lost", "past_no_show_lost", "past_no_show", "past_rejected"}
GOOD_SKEW = {
    Source.REFERRAL: 5,
    Source.WALK_IN: 6,
    Source.WHATSAPP: 1.5,
    Source.LANDING_PAGE: 1.3,
    Source.CALL_TRACKING: 1.2,
    Source.FACEBOOK: 0.6,
    Source.GOOGLE_SHEETS: 0.2,
}
POOR_SKEW = {
    Source.GOOGLE_SHEETS: 2.5,
    Source.FACEBOOK: 1.5,
    Source.REFERRAL: 0.3,
    Source.WALK_IN: 0.2,
}

# Days before today a past plan's lesson may be, and the least time since it ended.
PAST_WINDOWS = {
    "past_unrecorded": ((0, 2), dt.timedelta(minutes=10)),
    "past_attended": ((1, 4), dt.timedelta(hours=3)),
    "past_no_show_rebooked": ((2, 12), dt.timedelta(hours=3)),
}
DEFAULT_PAST_WINDOW = ((1, 52), dt.timedelta(hours=3))
FUTURE_DAYS = 16  # upcoming trials fall within this many days
TRIALS_PER_LESSON = 2  # upcoming demo trials in one lesson, at most
# Accepted trials enrol only while the group stays below this share of its places.
ENROLLED_SHARE_LIMIT = 0.8

TRIAL_NOTES = (
    "Coming with a friend.",
    "First time doing pilates.",
    "Asked for a mat to borrow.",
    "Works late; may arrive a few minutes after the start.",
)
REJECTED_REASONS = (
    "Too expensive after the trial",
    "Prefers a different time",
    "Did not like the group's pace",
)


@dataclass
class Plan:
    """What becomes of one lead; for a past trial, its lesson and when each step
    happened."""

    name: str
    demo: DemoLead
    past: tuple[Group, dt.date] | None = None
    status: str = TrialStatus.SCHEDULED  # of the past trial
    result: str = TrialResult.PENDING
    notes: str = ""
    booked: dt.datetime | None = None
    recorded: dt.datetime | None = None  # attendance, or the cancellation
    later: dt.datetime | None = None  # the result, or the lead's next step
    trial: Trial | None = None


@dataclass
class TrialDates:
    """When each trial's steps happened, to restamp what the services wrote."""

    events: dict[int, list] = field(default_factory=dict)  # trial id → (status, at)
    booked: dict[int, dt.datetime] = field(default_factory=dict)
    results: dict[int, dt.datetime] = field(default_factory=dict)


class Places:
    """Places taken per lesson of the running groups, and free places per group,
    kept in step as the demo books (the services check again for upcoming ones)."""

    def __init__(self, start: dt.date, end: dt.date):
        self.groups = list(
            Group.objects.running().filter(start_date__lte=end, end_date__gte=start)
        )
        ids = [group.pk for group in self.groups]
        spans = list(
            Enrollment.objects.filter(
                group_id__in=ids, status__in=PLACE_HOLDING_STATUSES
            ).values_list("group_id", "start_date", "end_date")
        )
        self.taken = Counter(bookings.lesson_bookings(ids, start, end))
        self.lessons: list[tuple[Group, dt.date]] = []
        for group in self.groups:
            for day in group.lesson_dates(start, end):
                self.lessons.append((group, day))
                self.taken[(group.pk, day)] += sum(
                    1
                    for group_id, first, last in spans
                    if group_id == group.pk
                    and first <= day
                    and (last is None or last >= day)
                )
        self.group_free = {group.pk: free_places(group) for group in self.groups}
        self.trials: Counter[tuple[int, dt.date]] = Counter()

    def free(self, group: Group, day: dt.date) -> int:
        return group.capacity - self.taken[(group.pk, day)]

    def can_enrol(self, group: Group, today: dt.date) -> bool:
        """A place in the group that leaves it below the red occupancy mark (so the
        grid keeps its colours), and one in each of its lessons from today on."""
        enrolled = group.capacity - self.group_free[group.pk]
        return (enrolled + 1) / group.capacity < ENROLLED_SHARE_LIMIT and all(
            self.free(g, day) > 0
            for g, day in self.lessons
            if g.pk == group.pk and day >= today
        )

    def pick_past(
        self, rng: random.Random, now: dt.datetime, plan: str
    ) -> tuple[Group, dt.date] | None:
        (near, far), least_ago = PAST_WINDOWS.get(plan, DEFAULT_PAST_WINDOW)
        today = timezone.localdate(now)
        enrollable = {
            group.pk
            for group in self.groups
            if plan == "past_accepted" and self.can_enrol(group, today)
        }
        candidates = [
            (group, day)
            for group, day in self.lessons
            if group.status == GroupStatus.ACTIVE
            and near <= (today - day).days <= far
            and group.lesson_end(day) <= now - least_ago
            and self.free(group, day) > 0
            and (plan != "past_accepted" or group.pk in enrollable)
        ]
        if not candidates:
            return None
        group, day = rng.choice(candidates)
        self.taken[(group.pk, day)] += 1
        if plan == "past_accepted":
            self.group_free[group.pk] -= 1
            for g, lesson in self.lessons:
                if g.pk == group.pk and lesson >= today:
                    self.taken[(group.pk, lesson)] += 1
        return group, day

    def bookable(self, group: Group, day: dt.date) -> bool:
        """A trial may join: a place stays free after it, and the lesson has fewer
        than TRIALS_PER_LESSON demo trials (the grid keeps some quiet lessons)."""
        return self.free(group, day) >= 2 and self.trials[(group.pk, day)] < (
            TRIALS_PER_LESSON
        )

    def book(self, group: Group, day: dt.date, places: int = 1) -> None:
        self.taken[(group.pk, day)] += places
        self.trials[(group.pk, day)] += places

    def upcoming(self, now: dt.datetime) -> list[tuple[Group, dt.date]]:
        """Bookable lessons, soonest first."""
        last = timezone.localdate(now) + dt.timedelta(days=FUTURE_DAYS)
        lessons = [
            (group, day)
            for group, day in self.lessons
            if day <= last
            and group.lesson_start(day) > now + dt.timedelta(minutes=15)
            and self.bookable(group, day)
        ]
        return sorted(lessons, key=lambda lesson: lesson[0].lesson_start(lesson[1]))


def seed_leads_and_trials(
    seller_ids: list[int], *, now: dt.datetime, rng: random.Random
) -> dict[str, int]:
    """Add the demo leads, their follow-ups and trials, unless any lead exists.

    ``seller_ids``: the demo desk and salespeople; leads are assigned in turn to those
    in the LEADS_SALESPERSON_GROUP, walk-ins are entered and booked by the others.
    Returns rows written, by table, and refreshes the occupancy of the groups trials
    were booked in.
    """
    if Lead.objects.exists() or not seller_ids:
        return {}
    user_model = get_user_model()
    users = list(user_model.objects.filter(pk__in=seller_ids).order_by("pk"))
    sales_ids = set(
        user_model.objects.filter(
            pk__in=seller_ids, groups__name=settings.LEADS_SALESPERSON_GROUP
        ).values_list("pk", flat=True)
    )
    salespeople = [user for user in users if user.pk in sales_ids] or users
    desk = [user for user in users if user.pk not in sales_ids] or salespeople
    today = timezone.localdate(now)
    with transaction.atomic():
        places = Places(today - dt.timedelta(days=60), today + dt.timedelta(days=30))
        plans = _plan(rng, now, places)
        _staff(plans, salespeople, desk, rng)
        for plan in plans:
            if plan.past is None:
                _walk(plan, rng, now)
            else:
                _before_and_at_the_lesson(plan, rng, now)
        demos = [plan.demo for plan in plans]
        leads_demo.write_leads(demos, now)
        dates = TrialDates()
        _past_trials([plan for plan in plans if plan.past is not None], dates)
        # Results before bookings: the enrolments they make count against them.
        for plan in plans:
            if plan.name == "past_accepted":
                _accept(plan, dates)
            elif plan.name == "converted":
                leads_demo.convert(
                    plan.demo, leads_demo.spread(rng, plan.demo.last_at, now, 1)[0]
                )
        _upcoming_trials(plans, places, rng, now, dates)
        leads_demo.add_follow_ups(demos, rng, now)
        leads_demo.date_leads(demos)
        _date_trials(dates)
        group_ids = set(Trial.objects.values_list("group_id", flat=True))
    refresh_room_occupancy(group_ids=group_ids)
    return {
        "leads_lead": Lead.objects.count(),
        "leads_leadstatushistory": LeadStatusHistory.objects.count(),
        "leads_leadfollowup": LeadFollowUp.objects.count(),
        "trials_trial": Trial.objects.count(),
        "trials_trialstatushistory": TrialStatusHistory.objects.count(),
        "trials_trialreminder": TrialReminder.objects.count(),
    }


# --- planning ---------------------------------------------------------------------


def _plan(rng: random.Random, now: dt.datetime, places: Places) -> list[Plan]:
    names = [name for name, count in PLANS for _i in range(count)]
    people = leads_demo.demo_people(rng, len(names))
    plans = []
    fresh = 0
    for index, (name, person) in enumerate(zip(names, people, strict=True)):
        source = _source(rng, name)
        past = places.pick_past(rng, now, name) if name.startswith("past_") else None
        if name == "past_accepted" and past is None:
            name = "past_offer"  # no group with room to enrol: an offer only
            past = places.pick_past(rng, now, name)
        if name.startswith("past_") and past is None:
            name = "interested"  # no lesson with a free place: not booked yet
        if name == "new" and fresh < FRESH_NEW_LEADS:
            fresh += 1
            received = now - dt.timedelta(minutes=rng.randint(5, 100))
        elif name == "new":
            received = now - dt.timedelta(hours=rng.uniform(3, 120))
        elif past is not None:
            group, day = past
            received = group.lesson_start(day) - dt.timedelta(days=rng.uniform(2, 14))
        elif name.startswith("booked"):
            received = now - dt.timedelta(days=rng.uniform(1, 21))
        else:
            received = now - dt.timedelta(days=0.5 + 59 * rng.random() ** 1.25)
        received = max(received, now - dt.timedelta(days=59.9))
        data = leads_demo.lead_data(rng, source, person, received, index)
        plans.append(Plan(name, DemoLead(source, data, received), past))
    return sorted(plans, key=lambda plan: plan.demo.received_at)


def _source(rng: random.Random, plan: str) -> str:
    skew = GOOD_SKEW if plan in GOOD_PLANS else POOR_SKEW if plan in POOR_PLANS else {}
    weights = {
        source: weight * skew.get(source, 1)
        for source, weight in leads_demo.SOURCE_WEIGHTS.items()
    }
    if plan == "new":
        weights[Source.WALK_IN] = 0  # a walk-in is spoken to at the desk
    return rng.choices(list(weights), list(weights.values()))[0]


def _staff(plans: list[Plan], salespeople, desk, rng: random.Random) -> None:
    """Assign the leads in turn, in the order they arrived (the newest few wait for
    the round-robin); walk-ins are entered and booked at the desk."""
    newest = [plan for plan in reversed(plans) if plan.name == "new"]
    unassigned = {id(plan) for plan in newest[:UNASSIGNED_NEW_LEADS]}
    turn = 0
    for plan in plans:
        demo = plan.demo
        if demo.source == Source.WALK_IN:
            demo.entered_by = demo.booker = rng.choice(desk)
        if id(plan) not in unassigned:
            demo.seller = salespeople[turn % len(salespeople)]
            turn += 1
        demo.booker = demo.booker or demo.seller


def _walk(plan: Plan, rng: random.Random, now: dt.datetime) -> None:
    """A lead without a past trial, up to where its plan ends (booked and converted
    ones: until interested; the services take them on)."""
    final = {
        "new": LeadStatus.NEW,
        "contacted": LeadStatus.CONTACTED,
        "lost": LeadStatus.LOST,
    }.get(plan.name, LeadStatus.INTERESTED)
    leads_demo.walk_to(plan.demo, final, rng, now)


def _before_and_at_the_lesson(plan: Plan, rng: random.Random, now: dt.datetime):
    """A past trial's lead: contacted, interested, booked, then what happened at
    the lesson (came, missed it, cancelled before it) and just after."""
    demo = plan.demo
    group, day = plan.past
    starts, ends = group.lesson_start(day), group.lesson_end(day)
    contacted, interested, plan.booked = leads_demo.spread(
        rng, demo.received_at, starts - dt.timedelta(hours=6), 3
    )
    demo.step(LeadStatus.CONTACTED, contacted, note="Called back")
    demo.step(LeadStatus.INTERESTED, interested, note="Wants a trial lesson")
    demo.step(
        LeadStatus.TRIAL_SCHEDULED,
        plan.booked,
        note=_("Trial lesson on %(date)s") % {"date": date_format(day)},
    )
    plan.status = {
        "past_unrecorded": TrialStatus.SCHEDULED,
        "past_cancelled": TrialStatus.CANCELLED,
        "past_no_show_rebooked": TrialStatus.NO_SHOW,
        "past_no_show_lost": TrialStatus.NO_SHOW,
        "past_no_show": TrialStatus.NO_SHOW,
    }.get(plan.name, TrialStatus.ATTENDED)
    plan.recorded = min(ends + dt.timedelta(minutes=rng.randint(10, 150)), now)
    if plan.status == TrialStatus.CANCELLED:
        plan.recorded = plan.booked + (starts - plan.booked) * rng.uniform(0.3, 0.8)
    plan.notes = rng.choice(TRIAL_NOTES) if rng.random() < 0.2 else ""
    plan.later = min(plan.recorded + dt.timedelta(hours=rng.uniform(1, 40)), now)
    if plan.status == TrialStatus.CANCELLED:
        demo.step(
            LeadStatus.INTERESTED, plan.recorded, note=_("Trial lesson cancelled")
        )
    elif plan.status == TrialStatus.ATTENDED:
        demo.step(LeadStatus.TRIAL_ATTENDED, plan.recorded, note=_("Came to the trial"))
        # An offer or a refusal is written as record_result leaves it; an acceptance
        # goes through it later (it converts and enrols).
        if plan.name == "past_offer":
            plan.result = TrialResult.SALES_OFFER
        elif plan.name == "past_rejected":
            plan.result = TrialResult.REJECTED
            demo.step(
                LeadStatus.LOST,
                plan.later,
                note=_("Trial result: rejected"),
                lost_reason=rng.choice(REJECTED_REASONS),
            )
    elif plan.name == "past_no_show_lost":
        demo.step(
            LeadStatus.LOST,
            plan.later,
            lost_reason="Did not come to the trial; stopped answering",
        )
    elif plan.name == "past_no_show":
        demo.step(LeadStatus.INTERESTED, plan.later, note="Missed the trial")


# --- past trials ------------------------------------------------------------------


def _past_trials(plans: list[Plan], dates: TrialDates) -> None:
    """Write the past trials as the services would have left them: the trial,
    its status history and its reminders."""
    trials = []
    for plan in plans:
        group, day = plan.past
        demo = plan.demo
        trials.append(
            Trial(
                lead=demo.lead,
                group=group,
                lesson_date=day,
                starts_at=group.lesson_start(day),
                ends_at=group.lesson_end(day),
                salesperson=demo.seller or demo.booker,
                status=plan.status,
                result=plan.result,
                booked_by=demo.booker,
                notes=plan.notes,
            )
        )
    Trial.objects.bulk_create(trials, batch_size=500)
    # Read back: the ids, whatever the database returns from a bulk insert.
    by_lead = {plan.demo.lead.pk: plan for plan in plans}
    history, reminder_rows = [], []
    for trial in Trial.objects.filter(lead_id__in=by_lead).select_related(
        "lead", "salesperson", "booked_by"
    ):
        plan = by_lead[trial.lead_id]
        plan.trial = trial
        events = [(TrialStatus.SCHEDULED, plan.booked, trial.booked_by, _("Scheduled"))]
        if trial.status == TrialStatus.CANCELLED:
            events.append(
                (trial.status, plan.recorded, trial.salesperson, "Cannot come that day")
            )
        elif trial.status != TrialStatus.SCHEDULED:
            events.append((trial.status, plan.recorded, trial.salesperson, ""))
        previous = ""
        for status, at, by, note in events:
            history.append(
                TrialStatusHistory(
                    trial=trial,
                    from_status=previous,
                    to_status=status,
                    changed_by=by,
                    changed_at=at,
                    note=note,
                )
            )
            previous = status
        dates.events[trial.pk] = [(status, at) for status, at, _by, _note in events]
        dates.booked[trial.pk] = plan.booked
        if trial.result != TrialResult.PENDING:
            dates.results[trial.pk] = plan.later
        reminder_rows += _past_reminders(trial, plan.booked)
    TrialStatusHistory.objects.bulk_create(history, batch_size=500)
    TrialReminder.objects.bulk_create(reminder_rows, batch_size=500)


def _past_reminders(trial: Trial, booked: dt.datetime) -> list[TrialReminder]:
    """The trial's reminders as the job left them: sent, unless the lead had no
    email or the trial was cancelled before they were due."""
    rows = []
    for kind, due in reminders.planned_times(trial).items():
        row = TrialReminder(trial=trial, kind=kind, due_at=due, created_at=booked)
        recipient = (
            trial.lead.email
            if kind == ReminderKind.BEFORE_TO_LEAD
            else trial.salesperson.email
            if trial.salesperson
            else ""
        )
        if trial.status == TrialStatus.CANCELLED:
            row.status = ReminderStatus.CANCELLED
            row.skip_reason = _("The trial was cancelled.")
        elif not recipient:
            row.status = ReminderStatus.SKIPPED
            row.skip_reason = _("The lead has no email address.")
        else:
            row.status = ReminderStatus.SENT
            row.recipient = recipient
            row.sent_at = due + dt.timedelta(seconds=21)
        rows.append(row)
    return rows


def _accept(plan: Plan, dates: TrialDates) -> None:
    """An accepted trial goes through ``record_result``: the lead is converted into
    a client and enrolled in the group (or waitlisted, were it full)."""
    trial = plan.trial
    record_result(trial, TrialResult.ACCEPTED, by=trial.salesperson)
    dates.results[trial.pk] = plan.later
    plan.demo.happened(LeadStatus.CONVERTED, plan.later)
    plan.demo.converted_at = plan.later


# --- upcoming trials ----------------------------------------------------------------


def _upcoming_trials(plans, places, rng, now, dates: TrialDates) -> None:
    """Book the upcoming trials through the services: the first few in the soonest
    lesson (today's, when a group meets later today), one moved to a later lesson,
    some cancelled."""
    lessons = places.upcoming(now)
    # Those who will come first, so that the soonest lessons keep their trials.
    order = ["booked", "past_no_show_rebooked", "booked_cancelled"]
    wanted = sorted(
        (plan for plan in plans if plan.name in order),
        key=lambda plan: order.index(plan.name),
    )
    for index, plan in enumerate(wanted):
        demo = plan.demo
        booked = leads_demo.spread(rng, demo.last_at, now, 1)[0]
        trial = None
        while lessons and trial is None:
            at = 0 if index < 3 else int(len(lessons) * rng.random())
            group, day = lessons[at]
            try:
                trial = schedule_trial(
                    demo.lead,
                    group,
                    day,
                    salesperson=demo.seller,
                    by=demo.booker,
                    notes=rng.choice(TRIAL_NOTES) if rng.random() < 0.2 else "",
                )
            except ValidationError:
                lessons.remove((group, day))  # full, or no longer bookable
                continue
            places.book(group, day)
            if not places.bookable(group, day):
                lessons.remove((group, day))
        if trial is None:
            continue
        if demo.status in LEADS_BEFORE_TRIAL:
            demo.happened(LeadStatus.TRIAL_SCHEDULED, booked)
        dates.events[trial.pk] = [(TrialStatus.SCHEDULED, booked)]
        dates.booked[trial.pk] = booked
        if index == 1:
            _move_to_a_later_lesson(trial, lessons, places, demo)
        if plan.name == "booked_cancelled":
            cancelled = leads_demo.spread(rng, booked, now, 1)[0]
            cancel_trial(trial, by=demo.seller, reason="Cannot come that day")
            dates.events[trial.pk].append((TrialStatus.CANCELLED, cancelled))
            places.book(trial.group, trial.lesson_date, -1)
            demo.happened(LeadStatus.INTERESTED, cancelled)


def _move_to_a_later_lesson(trial, lessons, places, demo) -> None:
    """One trial moved (``reschedule_trial``): its first reminders are cancelled."""
    for group, day in lessons:
        if group.pk == trial.group_id and day > trial.lesson_date:
            try:
                reschedule_trial(trial, day, by=demo.booker)
            except ValidationError:
                return
            places.book(group, trial.lesson_date, -1)
            places.book(group, day)
            if not places.bookable(group, day):
                lessons.remove((group, day))
            trial.lesson_date = day
            return


def _date_trials(dates: TrialDates) -> None:
    """Move the stamps on trials, their history and reminders to when each step
    happened (bulk_create and the services stamp the present)."""
    leads_demo.date_history(TrialStatusHistory, "trial", dates.events)
    stamps = {}
    for pk, booked in dates.booked.items():
        result_at = dates.results.get(pk)
        last = max([at for _status, at in dates.events[pk]] + [result_at or booked])
        stamps[pk] = (booked, last, result_at)
    restamp(Trial, ["created_at", "updated_at", "result_at"], stamps)
    restamp(
        TrialReminder,
        ["created_at", "updated_at"],
        {
            pk: (dates.booked[trial_id], sent_at or dates.booked[trial_id])
            for pk, trial_id, sent_at in TrialReminder.objects.filter(
                trial_id__in=dates.booked
            ).values_list("pk", "trial_id", "sent_at")
        },
    )
