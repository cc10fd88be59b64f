"""Rows against the leads already in the database: which lead each record
matches (by phone, lower-cased email or the source's external id; the oldest lead
wins), and the blank fields of matched leads that duplicates fill (the rule of
services.intake._merge). Used by the pipeline for every chunk."""

import datetime as dt
from collections import defaultdict

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.db.models.functions import Lower

from ..models import Lead
from ..services import FILLABLE_FIELDS
from .records import DUPLICATE_EXISTING, Record


def match_existing(recs: list[Record], fills) -> list[Record]:
    """Mark the records that match a lead in the database; return the rest."""
    if not recs:
        return []
    columns = ("id", "phone", "email", "source", "external_id", *FILLABLE_FIELDS)
    found: dict[int, dict] = {}
    phones = [rec.phone for rec in recs if rec.phone]
    emails = [rec.email for rec in recs if rec.email]
    if connection.vendor == "postgresql":
        _match_existing_pg(recs, columns, found)
        phones = emails = []
    if phones:
        for lead in Lead.objects.filter(~Q(phone=""), phone__in=phones).values(
            *columns
        ):
            found[lead["id"]] = lead
    if emails:
        query = (
            Lead.objects.annotate(email_lower=Lower("email"))
            .filter(~Q(email=""), email_lower__in=emails)
            .values(*columns)
        )
        for lead in query:
            found[lead["id"]] = lead
    by_source = defaultdict(list)
    for rec in recs:
        if rec.external_id:
            by_source[rec.source].append(rec.external_id)
    if connection.vendor == "postgresql":
        by_source = {}
    for source, ids in by_source.items():
        query = Lead.objects.filter(
            ~Q(external_id=""), source=source, external_id__in=ids
        ).values(*columns)
        for lead in query:
            found[lead["id"]] = lead
    if not found:
        return list(recs)
    by_key: dict[str, int] = {}
    for lead_id in sorted(found, reverse=True):  # the oldest lead wins
        lead = found[lead_id]
        if lead["phone"]:
            by_key["p" + lead["phone"]] = lead_id
        if lead["email"]:
            by_key["e" + lead["email"].lower()] = lead_id
        if lead["external_id"]:
            by_key["x" + lead["source"] + "\x1f" + lead["external_id"]] = lead_id
    rest = []
    for rec in recs:
        matches = [by_key[key] for key in rec.keys() if key in by_key]
        if not matches:
            rest.append(rec)
            continue
        lead_id = min(matches)
        rec.outcome = DUPLICATE_EXISTING
        rec.matched = lead_id
        wanted = fills[lead_id]
        for name, value in rec.values.items():
            if name in FILLABLE_FIELDS:
                wanted.setdefault(name, value)
        for name in ("phone", "email"):
            if getattr(rec, name):
                wanted.setdefault(name, getattr(rec, name))
    return rest


def _match_existing_pg(recs: list[Record], columns, found: dict) -> None:
    """The same three lookups as the ORM path, with array parameters (cheaper
    to build than 2,000-item IN lists); each condition matches its index."""
    qn = connection.ops.quote_name
    select = (
        f"SELECT {', '.join(qn(c) for c in columns)} "  # noqa: S608
        f"FROM {qn(Lead._meta.db_table)} WHERE "
    )
    phones = [rec.phone for rec in recs if rec.phone]
    emails = [rec.email for rec in recs if rec.email]
    sources = [rec.source for rec in recs if rec.external_id]
    externals = [rec.external_id for rec in recs if rec.external_id]
    queries = []
    if phones:
        queries.append(("phone <> '' AND phone = ANY(%s)", [phones]))
    if emails:
        queries.append(("email <> '' AND LOWER(email) = ANY(%s)", [emails]))
    if externals:
        queries.append(
            (
                "external_id <> '' AND (source, external_id) IN "
                "(SELECT * FROM unnest(%s::varchar[], %s::varchar[]))",
                [sources, externals],
            )
        )
    with connection.cursor() as cursor:
        for condition, params in queries:
            cursor.execute(select + condition, params)
            for row in cursor.fetchall():
                found[row[0]] = dict(zip(columns, row, strict=True))


# --- filling ----------------------------------------------------------------


def apply_fills(fills: dict[int, dict], now: dt.datetime) -> None:
    """Fill blank fields of matched leads (the rule of services.intake._merge)."""
    fills = {lead_id: wanted for lead_id, wanted in fills.items() if wanted}
    if not fills:
        return
    leads = {
        lead["id"]: lead
        for lead in Lead.objects.filter(pk__in=list(fills)).values(
            "id", "phone", "email", *FILLABLE_FIELDS
        )
    }
    # Only a lead without a phone (email) can take one: look those up.
    phones, emails = set(), set()
    for lead_id, wanted in fills.items():
        lead = leads.get(lead_id)
        if lead is None:
            continue
        if wanted.get("phone") and not lead["phone"]:
            phones.add(wanted["phone"])
        if wanted.get("email") and not lead["email"]:
            emails.add(wanted["email"])
    taken = set()
    if phones:
        taken |= {
            "p" + p
            for p in Lead.objects.filter(~Q(phone=""), phone__in=phones).values_list(
                "phone", flat=True
            )
        }
    if emails:
        taken |= {
            "e" + e
            for e in Lead.objects.annotate(email_lower=Lower("email"))
            .filter(~Q(email=""), email_lower__in=emails)
            .values_list("email_lower", flat=True)
        }
    # Plain field fills are grouped by their values (one UPDATE per group); a
    # phone or email fill goes alone, in a savepoint, since another writer may
    # take the same value meanwhile.
    groups: dict[tuple, list[int]] = defaultdict(list)
    for lead_id, wanted in fills.items():
        lead = leads.get(lead_id)
        if lead is None:
            continue
        updates = {
            name: value
            for name, value in wanted.items()
            if name in FILLABLE_FIELDS and not lead[name]
        }
        contact = {}
        for name, prefix in (("phone", "p"), ("email", "e")):
            value = wanted.get(name)
            if value and not lead[name] and prefix + value not in taken:
                contact[name] = value
                taken.add(prefix + value)
        if contact:
            try:
                with transaction.atomic():
                    Lead.objects.filter(pk=lead_id).update(
                        **updates, **contact, updated_at=now
                    )
                continue
            except IntegrityError:
                pass
        if updates:
            groups[tuple(sorted(updates.items()))].append(lead_id)
    for updates, ids in groups.items():
        Lead.objects.filter(pk__in=ids).update(**dict(updates), updated_at=now)
