"""Generating one chunk of clients with everything linked to them, as row tuples.

Nothing here touches the database except through the id allocators: a chunk is built
in memory, whole (so each client's figures can be computed from their own rows), then
written by the caller. Every rule the services enforce when staff work one row at a
time is kept here by construction; the module docstring of ``crm_project.demo`` lists
them.
"""

import datetime as dt
import unicodedata
import zoneinfo
from collections import Counter, deque
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.utils import timezone

from appointments.models import Appointment, AppointmentStatusHistory, Status
from clients.figures import SourceAggregates, compute_figures
from clients.models import REFERRAL_ALPHABET, Client, ClientNote, Interaction
from communications.models import ContactPreferences
from packages.models import PackagePurchase, Payment

from . import names
from .sink import Table

UTC = dt.UTC
CENT = Decimal("0.01")
# Where demo clients came from: mostly walk-ins and referrals, some from ads.
ACQUISITION_SOURCES = (
    *[""] * 4,
    "walk_in",
    "walk_in",
    "referral",
    "instagram",
    "facebook",
    "landing_page",
    "whatsapp",
)
HISTORY_DAYS = 548  # about 18 months of past activity
FUTURE_DAYS = 28  # bookings made ahead
OPENING_SLOTS = [(h, m) for h in range(8, 20) for m in (0, 15, 30, 45)]

CLIENTS = Table(
    Client,
    (
        "id", "created_at", "updated_at", "first_name", "last_name", "phone", "email",
        "birth_date", "address", "medical_history", "allergies",
        "emergency_contact_name", "emergency_contact_phone", "preferred_language",
        "preferred_channel", "referral_code", "referred_by_id", "acquisition_source",
        "lifecycle_stage", "total_visits",
        "first_visit_at", "last_visit_at", "total_spent", "lifetime_value",
        "rfm_score", "figures_updated_at",
    ),
)  # fmt: skip
CLIENT_TAGS = Table(Client.tags.through, ("id", "client_id", "tag_id"))
CLIENT_CONDITIONS = Table(
    Client.conditions.through, ("id", "client_id", "contraindication_id")
)
PURCHASES = Table(
    PackagePurchase,
    (
        "id", "created_at", "updated_at", "client_id", "package_id", "price_paid",
        "purchased_on", "expires_on", "sessions_total", "sessions_used", "status",
        "sold_by_id", "notes",
    ),
)  # fmt: skip
APPOINTMENTS = Table(
    Appointment,
    (
        "id", "created_at", "updated_at", "client_id", "service_id", "staff_id",
        "start_at", "end_at", "price", "purchase_id", "status", "session_consumed",
        "contraindication_override", "override_reason", "override_by_id",
        "feedback_rating", "feedback_comment", "notes", "booked_by_id",
    ),
)  # fmt: skip
PAYMENTS = Table(
    Payment,
    (
        "id", "created_at", "updated_at", "client_id", "purchase_id", "appointment_id",
        "amount", "method", "paid_at", "reference", "receipt", "received_by_id",
    ),
)  # fmt: skip
HISTORY = Table(
    AppointmentStatusHistory,
    (
        "id", "appointment_id", "from_status", "to_status", "changed_by_id",
        "changed_at", "note",
    ),
)  # fmt: skip
NOTES = Table(
    ClientNote,
    (
        "id", "created_at", "updated_at", "client_id", "author_id", "body", "pinned",
        "private",
    ),
)  # fmt: skip
# Marketing consent per channel (communications.ContactPreferences); a client without
# a row has none.
CONTACT_PREFERENCES = Table(
    ContactPreferences,
    (
        "id", "created_at", "updated_at", "client_id", "marketing_email",
        "marketing_email_at", "marketing_sms", "marketing_sms_at",
        "marketing_whatsapp", "marketing_whatsapp_at", "preferred_channel",
        "preferred_language",
    ),
)  # fmt: skip
INTERACTIONS = Table(
    Interaction,
    (
        "id", "created_at", "updated_at", "client_id", "type", "channel", "direction",
        "subject", "outcome", "handled_by_id", "occurred_at", "follow_up_on",
    ),
)  # fmt: skip

# In write order: a row's foreign keys point at tables earlier in the list.
TABLES = (
    CLIENTS,
    CONTACT_PREFERENCES,
    CLIENT_TAGS,
    CLIENT_CONDITIONS,
    PURCHASES,
    APPOINTMENTS,
    PAYMENTS,
    HISTORY,
    NOTES,
    INTERACTIONS,
)

# The path through the lifecycle that ends in each status, after "" → scheduled;
# a step in parentheses (True) is taken by about half of the appointments.
PATHS = {
    Status.SCHEDULED: (),
    Status.CONFIRMED: ((Status.CONFIRMED, False),),
    Status.CHECKED_IN: ((Status.CONFIRMED, True), (Status.CHECKED_IN, False)),
    Status.IN_PROGRESS: (
        (Status.CONFIRMED, True),
        (Status.CHECKED_IN, False),
        (Status.IN_PROGRESS, False),
    ),
    Status.COMPLETED: (
        (Status.CONFIRMED, True),
        (Status.CHECKED_IN, False),
        (Status.IN_PROGRESS, True),
        (Status.COMPLETED, False),
    ),
    Status.CANCELLED: ((Status.CONFIRMED, True), (Status.CANCELLED, False)),
    Status.NO_SHOW: ((Status.CONFIRMED, True), (Status.NO_SHOW, False)),
}
# One appointment of each status today for the first clients of a run, so a small demo
# shows the front desk's whole day: (status, start relative to now in minutes).
SHOWCASE = (
    (Status.IN_PROGRESS, -10),
    (Status.CHECKED_IN, 10),
    (Status.COMPLETED, -120),
    (Status.NO_SHOW, -180),
    (Status.SCHEDULED, 150),
    (Status.CONFIRMED, 90),
    (Status.CANCELLED, 1440),
)
PAYMENT_METHODS = (
    [Payment.Method.CARD] * 14
    + [Payment.Method.CASH] * 4
    + [Payment.Method.TRANSFER, Payment.Method.OTHER]
)
RATINGS = [5] * 10 + [4] * 7 + [3] * 2 + [2, 1]


@dataclass(frozen=True)
class ServiceInfo:
    id: int
    price: Decimal
    minutes: int
    contraindications: frozenset[int]


@dataclass(frozen=True)
class PackageInfo:
    id: int
    price: Decimal
    sessions: int
    validity_days: int
    max_per_week: int | None
    service_ids: tuple[int, ...]


@dataclass
class Staff:
    """Seeded staff user ids by what they do in the data."""

    desk: list[int]  # book, confirm, check in, take payments
    practitioners: list[int]  # serve appointments
    managers: list[int]  # approve overrides
    sellers: list[int]  # sell packages, log calls


@dataclass
class Chunk:
    rows: dict[str, list[tuple]] = field(default_factory=dict)
    statuses: Counter = field(default_factory=Counter)

    def add(self, table: Table, row: tuple) -> None:
        self.rows.setdefault(table.name, []).append(row)

    def count(self, table: Table) -> int:
        return len(self.rows.get(table.name, ()))


def referral_code(client_id: int) -> str:
    """A code unique per id (an odd multiplier permutes 32^8): never collides."""
    n = (client_id * 0x9E3779B1 + 0x5DEECE66D) % 32**8
    chars = []
    for _ in range(8):
        n, digit = divmod(n, 32)
        chars.append(REFERRAL_ALPHABET[digit])
    return "".join(chars)


# (area code, exchange) pairs in a fixed shuffled order; the same for every run and seed
# so that ids, not seeds, decide phones and reruns never collide.
_PREFIXES = [(a, x) for x in range(200, 1000) for a in names.AREA_CODES]
_PREFIXES = [_PREFIXES[(i * 7919) % len(_PREFIXES)] for i in range(len(_PREFIXES))]


def phone_for(client_id: int) -> str:
    """A valid +1 number unique per id (up to 160 million ids)."""
    area, exchange = _PREFIXES[client_id % len(_PREFIXES)]
    line = (client_id // len(_PREFIXES) * 7919 + 1234) % 10_000
    return f"+1{area}{exchange}{line:04d}"


def ascii_slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum())


class Generator:
    """Builds chunks; holds what spans chunks (the clock, catalogue, referrers)."""

    def __init__(
        self,
        *,
        rng,
        now: dt.datetime,
        total_clients: int,
        per_client: float,
        services: list[ServiceInfo],
        packages: list[PackageInfo],
        staff: Staff,
        tag_ids: list[int],
        condition_ids: list[int],
        ids: dict[str, object],
    ):
        self.rng = rng
        self.now = now.astimezone(UTC).replace(second=0, microsecond=0)
        self.tz = zoneinfo.ZoneInfo(settings.TIME_ZONE)
        self.today = timezone.localdate(self.now, self.tz)
        self.first_day = self.today - dt.timedelta(days=HISTORY_DAYS)
        self.last_day = self.today + dt.timedelta(days=FUTURE_DAYS)
        # clients.figures counts visits and spend "in the last 365 days" from the
        # moment it runs; nothing is generated on the days around that edge, so a
        # check run minutes or hours later reads the same figures.
        self.year_ago = self.now - dt.timedelta(days=365)
        self.edge_day = timezone.localdate(self.year_ago, self.tz)
        self.total_clients = max(1, total_clients)
        # Leads (about 10%) have no appointments, so the others carry their share.
        self.mean_visits = max(1.0, per_client / 0.9)
        self.services = services
        self.service_by_id = {s.id: s for s in services}
        self.packages = packages
        self.staff = staff
        self.tag_ids = tag_ids
        self.condition_ids = condition_ids
        self.ids = ids
        self.index = 0  # clients generated so far in this run
        self.referrers: deque[tuple[int, dt.date]] = deque(maxlen=5000)

    # --- time helpers -----------------------------------------------------------------
    def at(self, day: dt.date, hour: int, minute: int) -> dt.datetime:
        local = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=self.tz)
        return local.astimezone(UTC)

    def slot(self, day: dt.date) -> dt.datetime:
        return self.at(day, *self.rng.choice(OPENING_SLOTS))

    def clear_of_edge(self, day: dt.date) -> dt.date:
        return (
            day + dt.timedelta(days=3) if abs((day - self.edge_day).days) <= 1 else day
        )

    def day_between(self, start: dt.date, end: dt.date) -> dt.date:
        span = max(0, (end - start).days)
        return self.clear_of_edge(start + dt.timedelta(days=self.rng.randint(0, span)))

    def status_at(self, start: dt.datetime, minutes: int) -> str:
        rng = self.rng
        if start > self.now:
            roll = rng.random()
            if roll < 0.08:
                return Status.CANCELLED
            return Status.CONFIRMED if roll < 0.45 else Status.SCHEDULED
        since = (self.now - start).total_seconds() / 60
        if since < minutes:  # under way
            return rng.choice(
                (Status.IN_PROGRESS, Status.IN_PROGRESS, Status.CHECKED_IN)
            )
        roll = rng.random()
        if roll < 0.84:
            return Status.COMPLETED
        return Status.CANCELLED if roll < 0.93 else Status.NO_SHOW

    # --- a chunk ----------------------------------------------------------------------
    def chunk(self, size: int) -> Chunk:
        chunk = Chunk()
        for _ in range(size):
            self.client(chunk)
            self.index += 1
        return chunk

    def client(self, chunk: Chunk) -> None:
        rng = self.rng
        cid = self.ids["client"].take()
        spanish = rng.random() < 0.35
        if spanish:
            first = rng.choice(names.FIRST_NAMES_ES)
            last = rng.choice(names.LAST_NAMES_ES)
            if rng.random() < 0.4:
                last = f"{last} {rng.choice(names.LAST_NAMES_ES)}"
            language = "es" if rng.random() < 0.7 else "en"
        else:
            first = rng.choice(names.FIRST_NAMES_EN)
            last = rng.choice(names.LAST_NAMES_EN)
            language = "en"
        # Clients join steadily over the period, in id order.
        position = (self.index + rng.random()) / self.total_clients
        joined = self.first_day + dt.timedelta(days=int(position * (HISTORY_DAYS - 7)))
        joined = self.clear_of_edge(joined)
        created_at = self.at(joined, 7, rng.randint(0, 59))  # before the first slot

        slug = ascii_slug(last.split()[0])
        email = f"{ascii_slug(first)}.{slug}{cid}@{rng.choice(names.EMAIL_DOMAINS)}"
        if rng.random() < 0.04:
            email = ""
        birth = self.today - dt.timedelta(days=rng.randint(18 * 365, 75 * 365))

        referred_by = None
        if self.referrers and rng.random() < 0.15:
            referred_by = rng.choice(self.referrers)[0]
        self.referrers.append((cid, joined))

        conditions = []
        if self.condition_ids and rng.random() < 0.06:
            conditions = rng.sample(self.condition_ids, rng.choice((1, 1, 2)))
        for condition_id in conditions:
            chunk.add(
                CLIENT_CONDITIONS, (self.ids["condition"].take(), cid, condition_id)
            )
        tags = set()
        if self.tag_ids and rng.random() < 0.4:
            tags.update(rng.sample(self.tag_ids, rng.choice((1, 1, 2))))
        for tag_id in sorted(tags):
            chunk.add(CLIENT_TAGS, (self.ids["tag"].take(), cid, tag_id))

        visits: list[tuple[dt.datetime, int]] = []  # completed: (start, appointment)
        payments: list[tuple[dt.datetime, Decimal]] = []
        client = _ClientCtx(cid, joined, frozenset(conditions), visits, payments)
        if self.index < len(SHOWCASE) or rng.random() >= 0.1:  # not a lead
            self.activity(chunk, client)

        agg = SourceAggregates(
            visits=len(visits),
            first_visit_at=min((v[0] for v in visits), default=None),
            last_visit_at=max((v[0] for v in visits), default=None),
            visits_last_year=sum(1 for v in visits if v[0] >= self.year_ago),
            spent=sum((p[1] for p in payments), Decimal("0")),
            spent_last_year=sum(
                (p[1] for p in payments if p[0] >= self.year_ago), Decimal("0")
            ),
            first_payment_at=min((p[0] for p in payments), default=None),
        )
        figures = compute_figures(agg, self.today)
        has_history = bool(conditions) or rng.random() < 0.05
        chunk.add(
            CLIENTS,
            (
                cid,
                created_at,
                max([created_at, *(v[0] for v in visits)]),
                first,
                last,
                phone_for(cid),
                email,
                birth,
                (
                    f"{rng.randint(10, 9999)} {rng.choice(names.STREETS)}, "
                    f"{rng.choice(names.CITIES)}"
                    if rng.random() < 0.5
                    else ""
                ),
                rng.choice(names.MEDICAL_HISTORY) if has_history else "",
                rng.choice(names.ALLERGIES) if rng.random() < 0.05 else "",
                *self.emergency_contact(last),
                language,
                rng.choice(("email", "email", "sms", "whatsapp", "phone")),
                referral_code(cid),
                referred_by,
                rng.choice(ACQUISITION_SOURCES),
                figures["lifecycle_stage"],
                figures["total_visits"],
                figures["first_visit_at"],
                figures["last_visit_at"],
                figures["total_spent"],
                figures["lifetime_value"],
                figures["rfm_score"],
                self.now,
            ),
        )
        self.contact_preferences(chunk, cid, created_at)
        self.notes_and_interactions(chunk, client)

    def contact_preferences(self, chunk, cid: int, created_at) -> None:
        """About 60 % agree to marketing email, 40 % SMS, 30 % WhatsApp."""
        rng = self.rng
        email, sms, whatsapp = (rng.random() < p for p in (0.6, 0.4, 0.3))
        if not (email or sms or whatsapp):
            return
        chunk.add(
            CONTACT_PREFERENCES,
            (
                self.ids["contact_preferences"].take(),
                created_at,
                created_at,
                cid,
                email,
                created_at if email else None,
                sms,
                created_at if sms else None,
                whatsapp,
                created_at if whatsapp else None,
                "",
                "",
            ),
        )

    def emergency_contact(self, last: str) -> tuple[str, str]:
        rng = self.rng
        if rng.random() >= 0.2:
            return "", ""
        first = rng.choice(names.FIRST_NAMES_EN + names.FIRST_NAMES_ES)
        area, exchange = rng.choice(_PREFIXES)
        return f"{first} {last}", f"+1{area}{exchange}{rng.randint(0, 9999):04d}"

    # --- appointments, purchases, payments -------------------------------------------
    def activity(self, chunk: Chunk, client: "_ClientCtx") -> None:
        rng = self.rng
        wanted = 1 + int(rng.random() * (2 * self.mean_visits - 1))
        if self.index < len(SHOWCASE):
            status, offset = SHOWCASE[self.index]
            start = self.now + dt.timedelta(minutes=offset)
            service = rng.choice(self.services)
            self.appointment(chunk, client, service, start, status=status)
            wanted -= 1
        if wanted >= 4 and self.packages and rng.random() < 0.55:
            purchases = 2 if wanted >= 16 and rng.random() < 0.5 else 1
            earliest = client.joined
            for _ in range(purchases):
                if earliest > self.today:
                    break
                package = rng.choice(self.packages)
                bought = self.day_between(earliest, self.today)
                used = self.purchase(chunk, client, package, bought, wanted)
                wanted -= used
                earliest = bought + dt.timedelta(days=package.validity_days // 2)
        for _ in range(max(0, wanted)):
            day = self.day_between(client.joined, self.last_day)
            service = self.pick_service(client, self.services)
            self.appointment(chunk, client, service, self.slot(day))

    def pick_service(self, client, candidates) -> ServiceInfo:
        """A service the client may have; now and then one needing an override."""
        if client.conditions and self.rng.random() >= 0.1:
            allowed = [
                s for s in candidates if not s.contraindications & client.conditions
            ]
            if allowed:
                return self.rng.choice(allowed)
        return self.rng.choice(candidates)

    def purchase(self, chunk, client, package: PackageInfo, bought, wanted) -> int:
        """Sell ``package`` on ``bought`` and book up to ``wanted`` of its sessions;
        returns how many appointments were made on it."""
        rng = self.rng
        pid = self.ids["purchase"].take()
        price = package.price
        if rng.random() < 0.15:
            price = (price * Decimal("0.9")).quantize(CENT)
        per_session = (price / package.sessions).quantize(CENT, rounding=ROUND_HALF_UP)
        expires = bought + dt.timedelta(days=package.validity_days)
        services = [self.service_by_id[i] for i in package.service_ids]
        seller = rng.choice(self.staff.sellers)
        paid_at = self.slot(bought)

        made = booked = used = 0
        week_counts: Counter = Counter()
        day = bought + dt.timedelta(days=rng.randint(0, 3))
        stop = min(expires, self.last_day)
        cancel_rest = rng.random() < 0.03 and expires > self.today
        while made < wanted and booked < package.sessions and day <= stop:
            if abs((day - self.edge_day).days) <= 1:
                day += dt.timedelta(days=3)
                continue
            week = day.isocalendar()[:2]
            if package.max_per_week and week_counts[week] >= package.max_per_week:
                day += dt.timedelta(days=7 - day.weekday())
                continue
            start = self.slot(day)
            if cancel_rest and start > self.now:
                break
            service = self.pick_service(client, services)
            status = self.appointment(
                chunk, client, service, start, purchase=(pid, per_session)
            )
            made += 1
            if status not in (Status.CANCELLED, Status.NO_SHOW):
                booked += 1
                week_counts[week] += 1
            used += status == Status.COMPLETED
            day += dt.timedelta(days=rng.choice((1, 2, 2, 3, 3, 4, 5, 7, 14)))

        if cancel_rest:
            state = PackagePurchase.Status.CANCELLED
        elif used == package.sessions:
            state = PackagePurchase.Status.EXHAUSTED
        elif expires < self.today:
            state = PackagePurchase.Status.EXPIRED
        else:
            state = PackagePurchase.Status.ACTIVE
        chunk.add(
            PURCHASES,
            (
                pid,
                paid_at,
                max(paid_at, min(self.now, self.at(stop, 20, 0))),
                client.id,
                package.id,
                price,
                bought,
                expires,
                package.sessions,
                used,
                state,
                seller,
                "Cancelled at the client's request." if cancel_rest else "",
            ),
        )
        self.payment(chunk, client, price, paid_at, purchase_id=pid, by=seller)
        return made

    def payment(
        self, chunk, client, amount, paid_at, *, by, purchase_id=None, appt_id=None
    ):
        method = self.rng.choice(PAYMENT_METHODS)
        pay_id = self.ids["payment"].take()
        reference = f"POS-{pay_id:08d}" if method == Payment.Method.CARD else ""
        chunk.add(
            PAYMENTS,
            (
                pay_id,
                paid_at,
                paid_at,
                client.id,
                purchase_id,
                appt_id,
                amount,
                method,
                paid_at,
                reference,
                "",
                by,
            ),
        )
        client.payments.append((paid_at, amount))

    def appointment(
        self,
        chunk: Chunk,
        client: "_ClientCtx",
        service: ServiceInfo,
        start: dt.datetime,
        *,
        status: str | None = None,
        purchase: tuple[int, Decimal] | None = None,
    ) -> str:
        rng = self.rng
        aid = self.ids["appointment"].take()
        end = start + dt.timedelta(minutes=service.minutes)
        status = status or self.status_at(start, service.minutes)
        desk = self.staff.desk
        booked_by = rng.choice(desk)
        override = bool(service.contraindications & client.conditions)
        override_by = rng.choice(self.staff.managers) if override else None
        reason = "Doctor's clearance on file." if override else ""

        # Booked 0-21 days ahead, not before the client joined nor after now.
        booked_at = start - dt.timedelta(
            days=rng.randint(0, 21), minutes=rng.randint(30, 600)
        )
        booked_at = min(max(booked_at, self.at(client.joined, 8, 0)), self.now, start)
        steps = [("", Status.SCHEDULED, booked_at, booked_by)]
        for step, optional in PATHS[status]:
            if optional and rng.random() < 0.5:
                continue
            steps.append((steps[-1][1], step, self.step_time(step, start, end), None))
        history_rows = []
        previous_at = booked_at
        for old, new, at, by in steps:
            at = min(max(at, previous_at), self.now)
            previous_at = at
            history_rows.append(
                (
                    self.ids["history"].take(),
                    aid,
                    old,
                    new,
                    by or rng.choice(desk),
                    at,
                    "Booked with contraindication override: Doctor's clearance on file."
                    if override and not old
                    else "",
                )
            )

        completed = status == Status.COMPLETED
        rating, comment = None, ""
        if completed and rng.random() < 0.35:
            rating = rng.choice(RATINGS)
            comment = rng.choice(names.FEEDBACK[rating]) if rng.random() < 0.5 else ""
        price = purchase[1] if purchase else service.price
        chunk.add(
            APPOINTMENTS,
            (
                aid,
                booked_at,
                previous_at,
                client.id,
                service.id,
                rng.choice(self.staff.practitioners),
                start,
                end,
                price,
                purchase[0] if purchase else None,
                status,
                completed and purchase is not None,
                override,
                reason,
                override_by,
                rating,
                comment,
                rng.choice(names.APPOINTMENT_NOTES) if rng.random() < 0.05 else "",
                booked_by,
            ),
        )
        for row in history_rows:
            chunk.add(HISTORY, row)
        chunk.statuses[status] += 1
        if completed:
            client.visits.append((start, aid))
            if purchase is None:
                paid_at = min(end + dt.timedelta(minutes=2), self.now)
                self.payment(chunk, client, price, paid_at, appt_id=aid, by=booked_by)
        return status

    def step_time(self, step: str, start: dt.datetime, end: dt.datetime) -> dt.datetime:
        rng = self.rng
        if step == Status.CONFIRMED:
            return start - dt.timedelta(hours=rng.randint(2, 30))
        if step == Status.CHECKED_IN:
            return start - dt.timedelta(minutes=rng.randint(2, 15))
        if step == Status.IN_PROGRESS:
            return start
        if step == Status.COMPLETED:
            return end
        if step == Status.NO_SHOW:
            return start + dt.timedelta(minutes=20)
        return start - dt.timedelta(hours=rng.randint(1, 48))  # cancelled

    # --- notes and interactions -------------------------------------------------------
    def notes_and_interactions(self, chunk: Chunk, client: "_ClientCtx") -> None:
        rng = self.rng
        if rng.random() < 0.12:
            for _ in range(rng.choice((1, 1, 2))):
                at = self.slot(self.day_between(client.joined, self.today))
                at = min(at, self.now)
                chunk.add(
                    NOTES,
                    (
                        self.ids["note"].take(),
                        at,
                        at,
                        client.id,
                        rng.choice(self.staff.desk + self.staff.managers),
                        rng.choice(names.CLIENT_NOTES),
                        rng.random() < 0.1,
                        rng.random() < 0.2,
                    ),
                )
        if rng.random() < 0.3:
            for _ in range(rng.randint(1, 3)):
                kind, channel, subject = rng.choice(names.INTERACTIONS)
                at = min(
                    self.slot(self.day_between(client.joined, self.today)), self.now
                )
                follow_up = None
                if rng.random() < 0.2:
                    follow_up = timezone.localdate(at, self.tz) + dt.timedelta(
                        days=rng.randint(2, 30)
                    )
                chunk.add(
                    INTERACTIONS,
                    (
                        self.ids["interaction"].take(),
                        at,
                        at,
                        client.id,
                        kind,
                        channel,
                        "inbound" if kind in ("complaint", "other") else "outbound",
                        subject,
                        "Booked a session." if rng.random() < 0.3 else "",
                        rng.choice(self.staff.desk + self.staff.sellers),
                        at,
                        follow_up,
                    ),
                )


@dataclass
class _ClientCtx:
    id: int
    joined: dt.date
    conditions: frozenset[int]
    visits: list
    payments: list
