"""Who may be sent what, and when: consent, opt-outs, caps and quiet hours.

Pure decisions over rows loaded in bulk (``RecipientFacts``), so the bulk enqueue
and the sender check thousands of messages with a constant number of queries.

- Consent: MARKETING kinds (``communications.models.MARKETING_KINDS``) to a client
  need ``ContactPreferences.marketing_<channel>``; a client without preferences has
  none; a lead has none. Transactional kinds need no consent. Staff need nothing.
- Opt-outs: an OptOut for the recipient and kind, on the channel or on every channel
  (empty channel), stops every kind, marketing or not.
- Caps (``COMMUNICATIONS_CAPS``): MARKETING messages only, per client and channel,
  over rolling windows (day = 24 h, week = 7 days, month = 30 days) counted from the
  messages actually sent. A message over a cap is SKIPPED with reason ``capped``,
  not deferred: marketing is not urgent, and a deferred backlog would burst out the
  moment the window frees. Checked when enqueued and again when sent.
  Caps never touch transactional kinds, so they never hold back a reminder.
- Quiet hours (``COMMUNICATIONS_QUIET_HOURS_START/END``, the business time zone;
  ContactPreferences overrides per client): a message to a client or lead that
  comes due inside them is DEFERRED to their end. Transactional kinds are not
  exempt: a studio that promises no texts after 21:00 means reminders too. Staff
  messages ignore them.
- Too late: a reminder is only worth something before what it reminds of begins.
  The kinds in ``SEND_BEFORE`` (appointment reminders and confirmations, trial
  lesson reminders) carry that moment as ``Message.send_before`` (the appointment's
  or lesson's start). Such a message is SKIPPED with reason ``too_late`` when it
  would otherwise go out at or after it: enqueued for then, still waiting then
  (retries, a sender outage), or in quiet hours that end then or later (booked at
  22:30 for 08:00 the next morning: quiet until 09:00, so no reminder, rather than a
  text in the night or a reminder an hour after the appointment began).
"""

import datetime as dt
import functools
from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone

from ..models import (
    MARKETING_KINDS,
    ContactPreferences,
    Language,
    Message,
    MessageKind,
    OptOut,
    Reason,
)
from .rows import id_in

# Kinds about something that begins at a time: the attribute of the message's
# ``about`` object holding that time. Worth nothing once it has begun.
SEND_BEFORE = {
    MessageKind.APPOINTMENT_REMINDER: "start_at",
    MessageKind.APPOINTMENT_CONFIRMATION: "start_at",
    MessageKind.TRIAL_REMINDER: "starts_at",
}

WINDOWS = {
    "day": dt.timedelta(days=1),
    "week": dt.timedelta(days=7),
    "month": dt.timedelta(days=30),
}
LANGUAGES = frozenset(Language.values)  # checked per message: build it once
SENT_STATUSES = (
    Message.Status.SENT,
    Message.Status.DELIVERED,
    Message.Status.OPENED,
    Message.Status.CLICKED,
)


def parse_caps(text: str) -> dict[str, int]:
    """'day=2,month=8' -> {'day': 2, 'month': 8}; unknown windows are an error."""
    caps = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        window, _sep, number = part.partition("=")
        window = window.strip()
        if window not in WINDOWS or not number.strip().isdigit():
            raise ValueError(f"bad cap {part!r}: use day=N, week=N or month=N")
        caps[window] = int(number)
    return caps


def caps_for(channel: str) -> dict[str, int]:
    raw = settings.COMMUNICATIONS_CAPS.get(channel, "")
    return raw if isinstance(raw, dict) else _parsed_caps(raw)


@functools.lru_cache(maxsize=32)
def _parsed_caps(text: str) -> dict[str, int]:
    return parse_caps(text)


def _time(text: str) -> dt.time:
    return dt.time.fromisoformat(text)


def default_quiet_hours() -> tuple[dt.time, dt.time]:
    return (
        _time(settings.COMMUNICATIONS_QUIET_HOURS_START),
        _time(settings.COMMUNICATIONS_QUIET_HOURS_END),
    )


def quiet_until(now: dt.datetime, start: dt.time, end: dt.time) -> dt.datetime | None:
    """When the quiet hours holding ``now`` end (aware), or None outside them."""
    if start == end:
        return None
    local = timezone.localtime(now)
    moment = local.time()
    inside = (
        (start <= moment < end) if start < end else (moment >= start or moment < end)
    )
    if not inside:
        return None
    tz = timezone.get_current_timezone()
    until = dt.datetime.combine(local.date(), end, tzinfo=tz)
    if until <= local:
        until = dt.datetime.combine(local.date() + dt.timedelta(days=1), end, tzinfo=tz)
    return until


@dataclass(frozen=True, slots=True)
class Preferences:
    """The part of a client's ContactPreferences the checks read (loaded as values:
    model instances for every client of a campaign chunk cost more than the checks)."""

    marketing_email: bool = False
    marketing_sms: bool = False
    marketing_whatsapp: bool = False
    preferred_language: str = ""
    quiet_hours_start: dt.time | None = None
    quiet_hours_end: dt.time | None = None

    def has_marketing_consent(self, channel: str) -> bool:
        return bool(getattr(self, f"marketing_{channel}", False))


PREFERENCE_FIELDS = tuple(Preferences.__dataclass_fields__)


@dataclass
class RecipientFacts:
    """What the checks need about a set of recipients, loaded in a few queries."""

    preferences: dict[int, Preferences] = field(default_factory=dict)
    # (("client"|"lead", id), kind) -> channels opted out of ("" = all)
    opt_outs: dict[tuple, set[str]] = field(default_factory=lambda: defaultdict(set))
    # (client_id, channel) -> {"day": n, "week": n, "month": n}
    sent_counts: dict[tuple, dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: dict.fromkeys(WINDOWS, 0))
    )

    @classmethod
    def load(
        cls,
        *,
        client_ids=(),
        lead_ids=(),
        kinds=(),
        marketing_client_ids=(),
        channels=(),
        now=None,
    ) -> "RecipientFacts":
        facts = cls()
        client_ids, lead_ids = set(client_ids), set(lead_ids)
        if client_ids:
            facts.preferences = {
                client_id: Preferences(*values)
                for client_id, *values in ContactPreferences.objects.filter(
                    id_in("client_id", client_ids)
                ).values_list("client_id", *PREFERENCE_FIELDS)
            }
        if (client_ids or lead_ids) and kinds:
            who = Q()
            if client_ids:
                who |= Q(id_in("client_id", client_ids))
            if lead_ids:
                who |= Q(id_in("lead_id", lead_ids))
            rows = OptOut.objects.filter(who, kind__in=set(kinds)).values_list(
                "client_id", "lead_id", "kind", "channel"
            )
            for client_id, lead_id, kind, channel in rows:
                who = ("client", client_id) if client_id else ("lead", lead_id)
                facts.opt_outs[(who, kind)].add(channel)
        marketing_client_ids = set(marketing_client_ids)
        if marketing_client_ids and channels:
            facts.sent_counts.update(
                count_marketing_sent(marketing_client_ids, set(channels), now=now)
            )
        return facts

    def opted_out(self, who: tuple, kind: str, channel: str) -> bool:
        channels = self.opt_outs.get((who, kind), ())
        return "" in channels or channel in channels

    def has_consent(self, client_id: int, channel: str) -> bool:
        prefs = self.preferences.get(client_id)
        return prefs is not None and prefs.has_marketing_consent(channel)

    def capped(self, client_id: int, channel: str) -> bool:
        counts = self.sent_counts[(client_id, channel)]
        return any(counts[w] >= limit for w, limit in caps_for(channel).items())

    def count_one(self, client_id: int, channel: str) -> None:
        counts = self.sent_counts[(client_id, channel)]
        for window in counts:
            counts[window] += 1

    def quiet_hours(self, client_id: int | None) -> tuple[dt.time, dt.time]:
        start, end = default_quiet_hours()
        prefs = self.preferences.get(client_id) if client_id else None
        if prefs is not None and prefs.quiet_hours_start and prefs.quiet_hours_end:
            return prefs.quiet_hours_start, prefs.quiet_hours_end
        return start, end

    def language(self, client, requested: str | None) -> str:
        prefs = self.preferences.get(client.pk) if client is not None else None
        language = (
            requested
            or (prefs.preferred_language if prefs else "")
            or (client.preferred_language if client is not None else "")
            or settings.LANGUAGE_CODE
        )
        return language if language in LANGUAGES else Language.ENGLISH


def count_marketing_sent(client_ids, channels, *, now=None) -> dict[tuple, dict]:
    """(client_id, channel) -> marketing messages sent in each window: one query.

    Pairs with nothing sent in the widest window are left out. Read through
    message_caps_idx (client, channel, sent_at); on PostgreSQL as a LATERAL join,
    one index range per client and channel, so that stale statistics (in the middle
    of a large campaign) cannot turn it into a scan of the whole outbox."""
    now = now or timezone.now()
    since = {w: now - delta for w, delta in WINDOWS.items()}
    oldest = min(since.values())
    client_ids, channels = list(client_ids), list(channels)
    if not client_ids or not channels:
        return {}
    if connection.vendor == "postgresql":
        return _count_marketing_sent_pg(client_ids, channels, since, oldest)
    sent = Q(status__in=SENT_STATUSES)
    rows = (
        Message.objects.filter(
            client_id__in=client_ids,
            channel__in=channels,
            kind__in=MARKETING_KINDS,
            sent_at__gte=oldest,
        )
        .values("client_id", "channel")
        .annotate(
            **{w: Count("pk", filter=sent & Q(sent_at__gte=since[w])) for w in WINDOWS}
        )
    )
    counts = {
        (row["client_id"], row["channel"]): {w: row[w] for w in WINDOWS} for row in rows
    }
    return {pair: n for pair, n in counts.items() if any(n.values())}


def _count_marketing_sent_pg(client_ids, channels, since, oldest) -> dict:
    table = connection.ops.quote_name(Message._meta.db_table)
    windows = list(WINDOWS)
    counts = ", ".join(
        f"count(*) FILTER (WHERE status = ANY(%s) AND sent_at >= %s) AS {w}"
        for w in windows
    )
    params = [param for w in windows for param in (list(SENT_STATUSES), since[w])]
    with connection.cursor() as cursor:
        # Identifiers are ours (the table, the window names); values are parameters.
        cursor.execute(
            f"SELECT c.id, ch.channel, {', '.join(f'n.{w}' for w in windows)} "  # noqa: S608
            "FROM unnest(%s::integer[]) AS c(id) "
            "CROSS JOIN unnest(%s::varchar[]) AS ch(channel) "
            f"CROSS JOIN LATERAL (SELECT {counts} FROM {table} "
            "WHERE client_id = c.id AND channel = ch.channel AND kind = ANY(%s) "
            "AND sent_at >= %s) AS n "
            f"WHERE {' OR '.join(f'n.{w} > 0' for w in windows)}",
            [client_ids, channels, *params, list(MARKETING_KINDS), oldest],
        )
        return {
            (client_id, channel): dict(zip(windows, values, strict=True))
            for client_id, channel, *values in cursor.fetchall()
        }


def send_before(kind: str, about) -> dt.datetime | None:
    """When a message of ``kind`` about ``about`` stops being worth sending (the
    start of the appointment or lesson it reminds of), or None: it never does."""
    attribute = SEND_BEFORE.get(kind)
    if attribute is None or about is None:
        return None
    moment = getattr(about, attribute, None)
    return moment if isinstance(moment, dt.datetime) else None


def too_late(deadline: dt.datetime | None, at: dt.datetime) -> bool:
    """A message that would go out ``at`` is too late for its ``deadline``."""
    return deadline is not None and at >= deadline


def when_to_send(
    facts: "RecipientFacts",
    *,
    who: tuple,
    deadline: dt.datetime | None,
    now: dt.datetime,
) -> tuple[str, dt.datetime | None]:
    """Whether a message that may go (``refusal`` found nothing) goes now:
    ``("send", None)``, ``("defer", until)`` (quiet hours) or ``(Reason.TOO_LATE,
    None)``: past its deadline now, or quiet until its deadline or later."""
    if too_late(deadline, now):
        return Reason.TOO_LATE, None
    if who[0] == "user":
        return "send", None
    start, end = facts.quiet_hours(who[1] if who[0] == "client" else None)
    until = quiet_until(now, start, end)
    if until is None:
        return "send", None
    if too_late(deadline, until):
        return Reason.TOO_LATE, None
    return "defer", until


def recipient_key(*, client_id=None, lead_id=None, user_id=None) -> tuple:
    if client_id:
        return ("client", client_id)
    if lead_id:
        return ("lead", lead_id)
    return ("user", user_id)


def refusal(
    facts: RecipientFacts, *, kind: str, channel: str, who: tuple, address: str
) -> str:
    """The reason a message may not go (a Reason value), or "" if it may."""
    if not address:
        return Reason.NO_ADDRESS
    if who[0] == "user":
        return ""
    if facts.opted_out(who, kind, channel):
        return Reason.OPTED_OUT
    if kind in MARKETING_KINDS:
        if who[0] != "client" or not facts.has_consent(who[1], channel):
            return Reason.NO_CONSENT
        if facts.capped(who[1], channel):
            return Reason.CAPPED
    return ""
