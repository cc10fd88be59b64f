"""Changelists that stay fast on big tables: counts, deep pages, date drill-down.

Django's changelist counts the filtered rows for its paginator and, unless
``show_full_result_count = False``, the whole table again. On PostgreSQL a ``COUNT(*)``
reads every row, so on a table of a million appointments each page pays twice.
``EstimatedCountPaginator`` answers an unfiltered count from the planner's statistics
(``pg_class.reltuples``, kept by autovacuum and ANALYZE). A filtered list counts
exactly up to EXACT_COUNT_BELOW rows (a capped count reads at most that many) and past
that takes the query plan's row estimate. Other databases count exactly.

A deep page (``OFFSET`` 25,000) makes the database build and throw away every skipped
row with all of the list's joins; the paginator instead pages through the primary keys
alone (an index-only scan on the ordering's index) and then loads the page's rows.

``date_hierarchy`` asks the database for the distinct years (months, days) of its
field: a ``SELECT DISTINCT date_trunc(...)`` over the whole table. ``IndexedDatesMixin``
on a ModelAdmin answers from the field's index instead: the first and last value (which
the date hierarchy has just read), then one query asking which of the periods between
them hold a row (none when there are only two periods).
"""

import datetime as dt
import functools
import json

from django.contrib.admin.views.main import ChangeList
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Exists, Max, Min
from django.utils import timezone
from django.utils.functional import cached_property

# Below this many rows an exact count costs little and reads better.
EXACT_COUNT_BELOW = 10_000
# From this offset on, a page is found by its primary keys first.
DEEP_OFFSET = 1_000
# More periods than this (days over years of rows): leave it to the database.
MAX_PERIODS = 400


class EstimatedCountPaginator(Paginator):
    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        query = getattr(queryset, "query", None)
        connection = connections[getattr(queryset, "db", "default")]
        if query is None or connection.vendor != "postgresql":
            return super().count
        if query.distinct or query.combinator:
            return super().count
        with connection.cursor() as cursor:
            if not query.where:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                    [connection.ops.quote_name(queryset.model._meta.db_table)],
                )
                row = cursor.fetchone()
                # -1: never analysed or vacuumed; a small table: counting is cheap.
                if row and row[0] >= EXACT_COUNT_BELOW:
                    return int(row[0])
                return super().count
            capped = queryset.order_by().values("pk")[:EXACT_COUNT_BELOW].count()
            if capped < EXACT_COUNT_BELOW:
                return capped
            sql, params = queryset.order_by().values("pk").query.sql_with_params()
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)  # noqa: S608
            plan = cursor.fetchone()[0]
            if isinstance(plan, str):
                plan = json.loads(plan)
            return max(EXACT_COUNT_BELOW, int(plan[0]["Plan"]["Plan Rows"]))

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        return self._get_page(self.slice(bottom, top), number, self)

    def slice(self, bottom: int, top: int):
        """The rows [bottom:top]; past DEEP_OFFSET, the keys first, then the rows."""
        queryset = self.object_list
        query = getattr(queryset, "query", None)
        if (
            bottom < DEEP_OFFSET
            or query is None
            or query.distinct
            or query.combinator
            or query.group_by is not None
        ):
            return queryset[bottom:top]
        keys = list(
            queryset.prefetch_related(None).values_list("pk", flat=True)[bottom:top]
        )
        return queryset.filter(pk__in=keys)


# --- date hierarchy ------------------------------------------------------------------


class IndexedDatesQuerySetMixin:
    """``datetimes()`` and ``dates()`` from the field's index, not a DISTINCT scan.

    The result is the same: the periods (in the current time zone) holding at least
    one row of the queryset, with its filters. Costs two small queries: the first and
    last value (an index's two ends) and one ``EXISTS`` probe per candidate period.
    """

    # Set False where a probe could rescan an expensive filter (a search): then only
    # the first and last periods are known for sure, and anything more falls back.
    probe_periods = True

    def aggregate(self, *args, **kwargs):
        """Remember a field's Min and Max (the date hierarchy asks for them first)."""
        result = super().aggregate(*args, **kwargs)
        kinds = {type(e).__name__: e for e in kwargs.values()}
        if set(kinds) == {"Min", "Max"} and len(kwargs) == 2 and not args:
            fields = {
                getattr(e.source_expressions[0], "name", None) for e in kwargs.values()
            }
            if len(fields) == 1 and None not in fields:
                alias = {type(e).__name__: a for a, e in kwargs.items()}
                self.__dict__.setdefault("_bounds", {})[fields.pop()] = (
                    result[alias["Min"]],
                    result[alias["Max"]],
                )
        return result

    def datetimes(self, field_name, kind, order="ASC", tzinfo=None):
        periods = self._indexed_periods(field_name, kind, order, tzinfo, aware=True)
        if periods is None:
            return super().datetimes(field_name, kind, order, tzinfo)
        return periods

    def dates(self, field_name, kind, order="ASC"):
        periods = self._indexed_periods(field_name, kind, order, None, aware=False)
        if periods is None:
            return super().dates(field_name, kind, order)
        return [period.date() for period in periods]

    def _indexed_periods(self, field_name, kind, order, tzinfo, *, aware: bool):
        if kind not in ("year", "month", "day"):
            return None
        tz = (tzinfo or timezone.get_current_timezone()) if aware else None
        first, last = self.__dict__.get("_bounds", {}).get(field_name) or (
            self.order_by()
            .aggregate(first=Min(field_name), last=Max(field_name))
            .values()
        )
        if first is None:
            return []
        if aware and timezone.is_aware(first):
            first, last = first.astimezone(tz), last.astimezone(tz)
        elif aware:  # USE_TZ = False: naive in, naive out
            tz = None
        starts = _period_starts(first, last, kind, tz)
        if len(starts) > MAX_PERIODS:
            return None
        # The first and last periods hold the first and last rows: only the periods
        # between them need asking.
        if len(starts) > 2 and not self.probe_periods:
            return None
        ends = [*starts[1:], _next_period(starts[-1], kind, tz)]
        probe_base = self.order_by()
        if not aware:  # a DateField: compare dates
            starts_q = [s.date() for s in starts]
            ends_q = [e.date() for e in ends]
        else:
            starts_q, ends_q = starts, ends
        probes = {
            f"p{i}": Exists(
                probe_base.filter(**{f"{field_name}__gte": s, f"{field_name}__lt": e})
            )
            for i, (s, e) in enumerate(zip(starts_q, ends_q, strict=True))
            if 0 < i < len(starts) - 1
        }
        found = {}
        if probes:
            found = (
                self.model._base_manager.using(self.db)
                .order_by()
                .annotate(**probes)
                .values(*probes)
                .first()
            ) or {}
        last_i = len(starts) - 1
        periods = [
            s for i, s in enumerate(starts) if i in (0, last_i) or found.get(f"p{i}")
        ]
        return periods[::-1] if order == "DESC" else periods


def _period_starts(first: dt.datetime, last: dt.datetime, kind: str, tz):
    if not isinstance(first, dt.datetime):  # a date
        first = dt.datetime.combine(first, dt.time.min)
        last = dt.datetime.combine(last, dt.time.min)
    start = _truncate(first, kind, tz)
    starts = []
    while start <= last and len(starts) <= MAX_PERIODS:
        starts.append(start)
        start = _next_period(start, kind, tz)
    return starts


def _truncate(value: dt.datetime, kind: str, tz) -> dt.datetime:
    month = 1 if kind == "year" else value.month
    day = value.day if kind == "day" else 1
    return dt.datetime(value.year, month, day, tzinfo=tz)


def _next_period(start: dt.datetime, kind: str, tz) -> dt.datetime:
    if kind == "year":
        return dt.datetime(start.year + 1, 1, 1, tzinfo=tz)
    if kind == "month":
        year, month = divmod(start.year * 12 + start.month, 12)
        return dt.datetime(year, month + 1, 1, tzinfo=tz)
    following = start.date() + dt.timedelta(days=1)
    return dt.datetime(following.year, following.month, following.day, tzinfo=tz)


@functools.cache
def _indexed_class(queryset_class: type) -> type:
    return type(
        f"IndexedDates{queryset_class.__name__}",
        (IndexedDatesQuerySetMixin, queryset_class),
        {},
    )


def with_indexed_dates(queryset):
    """``queryset`` (and its clones) answering ``dates()``/``datetimes()`` from the
    index; its class keeps every method of the model's own QuerySet."""
    if isinstance(queryset, IndexedDatesQuerySetMixin):
        return queryset
    clone = queryset._chain()
    clone.__class__ = _indexed_class(type(queryset))
    return clone


class IndexedDatesChangeList(ChangeList):
    """A changelist whose date hierarchy reads the field's index. With a search term
    it asks no probes: the first and last periods come from the Min/Max the date
    hierarchy reads anyway, and with periods between them it keeps Django's DISTINCT
    query (over the few matching rows it is cheap, while each probe could rescan the
    search)."""

    def get_queryset(self, request, exclude_parameters=None):
        queryset = super().get_queryset(request, exclude_parameters)
        if self.date_hierarchy:
            queryset = with_indexed_dates(queryset)
            queryset.probe_periods = not self.query
        return queryset


class IndexedDatesMixin:
    """For a ModelAdmin with ``date_hierarchy`` on a big table: put it first in the
    bases (``class AppointmentAdmin(IndexedDatesMixin, ..., admin.ModelAdmin)``)."""

    def get_changelist(self, request, **kwargs):
        return IndexedDatesChangeList
