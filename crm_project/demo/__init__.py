"""Demo data at volume: realistic, linked rows for ``make run`` and the benchmarks.

``seed_demo(clients=N)`` makes N clients (English and Spanish names, unique valid E.164
phones and e-mails, consents, tags, a few medical conditions, referral chains) with
their package purchases and payments, appointments in every status over the past 18
months and the next four weeks, their status history, feedback, notes and interactions,
and the staff users who did the work.

It is a bulk loader, not a walk through the services: rows are generated in chunks of
clients and written with COPY on PostgreSQL (executemany elsewhere), so no signal
fires. What the services and signals would have kept in step is built in instead:

- a purchase's ``sessions_used`` is the number of its completed appointments, each
  flagged ``session_consumed``; it is exhausted when all are used, expired past its
  validity, active otherwise (or cancelled, with no bookings after the cancellation);
  bookings respect its validity, its sessions and its weekly limit;
- an appointment's history rows are one allowed path through the lifecycle, from
  "" → scheduled to its status, in time order, none in the future;
- a service contraindicated for the client is booked with the override and a reason;
- completed appointments outside a package, and purchases, have their Payment;
- each client's figures come from ``clients.figures.compute_figures`` over the same
  rows the nightly reconciliation reads, so it finds nothing to correct; a sample is
  checked after loading.

On PostgreSQL the tables are then vacuumed and analysed: the planner needs statistics
for a table loaded in one go, and the admin's estimated counts read them.
"""

import datetime as dt
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from appointments.models import Appointment, AppointmentStatusHistory
from clients.figures import (
    FIGURE_FIELDS,
    SourceAggregates,
    aggregate_sources,
    compute_figures,
)
from clients.models import Client, ClientNote, Interaction, Tag, new_referral_code
from communications.models import ContactPreferences
from crm_project.setup import ensure_roles
from packages.catalogue import load_packages
from packages.models import Package, PackagePurchase, Payment
from scheduling.demo import seed_scheduling
from services.catalogue import load_services
from services.models import Contraindication, Service
from trials.demo import seed_leads_and_trials

from . import names
from .generate import (
    CLIENTS,
    TABLES,
    Generator,
    PackageInfo,
    ServiceInfo,
    Staff,
)
from .sink import IdAllocator, RowWriter

__all__ = ["SeedResult", "seed_demo", "verify_figures"]

# username, role (a group from crm_project.setup), first and last name.
STAFF_USERS = (
    ("demo.owner", "owner", "Olivia", "Bennett"),
    ("demo.manager1", "manager", "Marcus", "Reed"),
    ("demo.manager2", "manager", "Lucía", "Navarro"),
    ("demo.reception1", "receptionist", "Emily", "Parker"),
    ("demo.reception2", "receptionist", "Sofía", "Castillo"),
    ("demo.reception3", "receptionist", "Tyler", "Brooks"),
    ("demo.sales1", "salesperson", "Jacob", "Morgan"),
    ("demo.sales2", "salesperson", "Valentina", "Ruiz"),
    ("demo.marketing", "marketer", "Chloe", "Evans"),
    ("demo.therapist1", "", "Hannah", "Cooper"),
    ("demo.therapist2", "", "Diego", "Romero"),
    ("demo.therapist3", "", "Grace", "Kelly"),
    ("demo.therapist4", "", "Mateo", "Vega"),
)


@dataclass
class SeedResult:
    skipped: bool = False
    counts: dict[str, int] = field(default_factory=dict)  # table → rows written
    statuses: Counter = field(default_factory=Counter)  # appointment status → rows
    timings: dict[str, float] = field(default_factory=dict)  # phase → seconds
    verified: int = 0  # clients whose figures were checked after loading
    mismatched: int = 0  # of those, how many differ from a recomputation
    seconds: float = 0.0


def seed_demo(
    *,
    clients: int,
    appointments_per_client: float = 5,
    seed: int | None = None,
    if_empty: bool = False,
    chunk_size: int = 2000,
    verify_sample: int = 2000,
    progress: Callable[[str], None] | None = None,
) -> SeedResult:
    """Add ``clients`` demo clients with about ``appointments_per_client`` appointments
    each (and everything linked to them) to the database.

    ``if_empty``: do nothing when any client exists. ``seed`` makes the data
    reproducible. Writes in one transaction per chunk of ``chunk_size`` clients, so
    memory stays flat; an interrupted run keeps the chunks it finished.
    """
    started = time.perf_counter()
    if if_empty and Client.objects.exists():
        return SeedResult(skipped=True)
    result = SeedResult()
    say = progress or (lambda message: None)
    timings = result.timings

    tick = time.perf_counter()
    services, packages = _catalogue()
    staff = _staff()
    tag_ids = _tags()
    condition_ids = list(Contraindication.objects.values_list("pk", flat=True))
    timings["setup"] = time.perf_counter() - tick

    id_models = {
        "client": Client,
        "tag": Client.tags.through,
        "condition": Client.conditions.through,
        "purchase": PackagePurchase,
        "appointment": Appointment,
        "payment": Payment,
        "history": AppointmentStatusHistory,
        "note": ClientNote,
        "interaction": Interaction,
        "contact_preferences": ContactPreferences,
    }
    ids = {key: IdAllocator(connection, model) for key, model in id_models.items()}
    generator = Generator(
        rng=random.Random(seed),
        now=timezone.now(),
        total_clients=clients,
        per_client=appointments_per_client,
        services=services,
        packages=packages,
        staff=staff,
        tag_ids=tag_ids,
        condition_ids=condition_ids,
        ids=ids,
    )
    writer = RowWriter(connection)
    seeded_ids: list[int] = []
    done = 0
    while done < clients:
        size = min(chunk_size, clients - done)
        tick = time.perf_counter()
        chunk = generator.chunk(size)
        _avoid_taken_contacts(chunk)
        timings["generate"] = timings.get("generate", 0) + time.perf_counter() - tick
        with transaction.atomic():
            for table in TABLES:
                rows = chunk.rows.get(table.name, [])
                tick = time.perf_counter()
                writer.write(table, rows)
                key = f"write {table.name}"
                timings[key] = timings.get(key, 0) + time.perf_counter() - tick
                result.counts[table.name] = result.counts.get(table.name, 0) + len(rows)
            tick = time.perf_counter()
        # Leaving the block commits, and PostgreSQL checks the deferred foreign keys.
        timings["commit"] = timings.get("commit", 0) + time.perf_counter() - tick
        seeded_ids.extend(row[0] for row in chunk.rows[CLIENTS.name])
        result.statuses.update(chunk.statuses)
        done += size
        say(
            f"  {done:,}/{clients:,} clients, "
            f"{result.counts.get('appointments_appointment', 0):,} appointments "
            f"({time.perf_counter() - started:.1f} s)"
        )

    tick = time.perf_counter()
    analyse_tables([table.name for table in TABLES])
    timings["analyze"] = time.perf_counter() - tick

    tick = time.perf_counter()
    sample = random.Random(seed).sample(seeded_ids, min(verify_sample, len(seeded_ids)))
    result.verified = len(sample)
    result.mismatched = verify_figures(sample)
    timings["verify"] = time.perf_counter() - tick

    tick = time.perf_counter()
    result.counts.update(
        seed_scheduling(
            seeded_ids,
            staff.practitioners,
            today=timezone.localdate(),
            rng=random.Random(seed),
        )
    )
    timings["scheduling"] = time.perf_counter() - tick

    tick = time.perf_counter()
    result.counts.update(
        seed_leads_and_trials(
            staff.sellers, now=timezone.now(), rng=random.Random(seed)
        )
    )
    timings["leads and trials"] = time.perf_counter() - tick
    result.seconds = time.perf_counter() - started
    return result


def verify_figures(client_ids: list[int], now: dt.datetime | None = None) -> int:
    """How many of the clients' stored figures differ from a recomputation."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    aggregates = aggregate_sources(client_ids, now)
    differ = 0
    for client in Client.objects.filter(pk__in=client_ids).only(*FIGURE_FIELDS):
        expected = compute_figures(aggregates.get(client.pk, SourceAggregates()), today)
        differ += any(getattr(client, f) != v for f, v in expected.items())
    return differ


def analyse_tables(tables: list[str]) -> None:
    """Fresh planner statistics (and, outside a transaction, the visibility map that
    index-only scans need) for tables just loaded in bulk."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            command = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
            for table in tables:
                cursor.execute(f"{command} {quote(table)}")
        elif connection.vendor == "sqlite":
            cursor.execute("ANALYZE")


def _catalogue() -> tuple[list[ServiceInfo], list[PackageInfo]]:
    if not (
        Service.objects.filter(is_active=True).exists()
        and Package.objects.filter(is_active=True).exists()
    ):
        load_services()
        load_packages()
    services = [
        ServiceInfo(
            id=s.pk,
            price=s.price,
            minutes=s.duration_minutes,
            contraindications=frozenset(c.pk for c in s.contraindications.all()),
        )
        for s in Service.objects.filter(is_active=True).prefetch_related(
            "contraindications"
        )
    ]
    active = {s.id for s in services}
    packages = []
    for p in Package.objects.filter(is_active=True).prefetch_related("services"):
        covered = tuple(s.pk for s in p.services.all() if s.pk in active)
        if covered:
            packages.append(
                PackageInfo(
                    id=p.pk,
                    price=p.price,
                    sessions=p.sessions,
                    validity_days=p.validity_days,
                    max_per_week=p.max_sessions_per_week,
                    service_ids=covered,
                )
            )
    return services, packages


def _staff() -> Staff:
    """The demo staff: created once, in their role groups, with no usable password
    (set one with ``manage.py changepassword demo.manager1`` to log in as them)."""
    ensure_roles()
    user_model = get_user_model()
    by_role: dict[str, list[int]] = {}
    for username, role, first, last in STAFF_USERS:
        user, created = user_model.objects.get_or_create(
            username=username,
            defaults={
                "first_name": first,
                "last_name": last,
                "email": f"{username}@studio.example.com",
                "is_staff": bool(role),
            },
        )
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
            if role:
                user.groups.add(Group.objects.get(name=role))
        by_role.setdefault(role or "therapist", []).append(user.pk)
    return Staff(
        desk=by_role["receptionist"],
        practitioners=by_role["therapist"],
        managers=by_role["manager"] + by_role["owner"],
        sellers=by_role["salesperson"] + by_role["receptionist"],
    )


def _tags() -> list[int]:
    ids = []
    for name, color in names.TAGS.items():
        tag, _ = Tag.objects.get_or_create(name=name, defaults={"color": color})
        ids.append(tag.pk)
    return ids


def _avoid_taken_contacts(chunk) -> None:
    """Blank the generated phones and e-mails that clients made by hand already use,
    and redraw their taken referral codes (generated ones never collide with each
    other: they derive from the ids)."""
    rows = chunk.rows.get(CLIENTS.name, [])
    phone_at = CLIENTS.columns.index("phone")
    email_at = CLIENTS.columns.index("email")
    code_at = CLIENTS.columns.index("referral_code")
    phones = {row[phone_at] for row in rows if row[phone_at]}
    emails = {row[email_at] for row in rows if row[email_at]}
    taken_phones = set(
        Client.objects.filter(phone__in=phones).values_list("phone", flat=True)
    )
    taken_emails = set(
        Client.objects.annotate(e=Lower("email"))
        .filter(e__in=emails)
        .values_list("e", flat=True)
    )
    taken_codes = set(
        Client.objects.filter(
            referral_code__in=[row[code_at] for row in rows]
        ).values_list("referral_code", flat=True)
    )
    if not (taken_phones or taken_emails or taken_codes):
        return
    for i, row in enumerate(rows):
        fixed = list(row)
        if row[phone_at] in taken_phones:
            fixed[phone_at] = ""
        if row[email_at] in taken_emails:
            fixed[email_at] = ""
        if row[code_at] in taken_codes:
            fixed[code_at] = new_referral_code()
        rows[i] = tuple(fixed)
