"""Timing the admin's big changelists against a bare ModelAdmin on the same rows.

For clients, appointments and package purchases, each case (first page, a search by
name, a search by a phone typed in another format, a deep page) is requested through
Django's test client, full stack (middleware, view, template), as a superuser, on our
admin and on a bare ``admin.ModelAdmin`` that shows the same model fields with Django's
default paginator and search, registered on a throwaway AdminSite. It reports the
queries and the median time of each, their ratio, and any full-table ``COUNT(*)`` (a
count with neither WHERE nor LIMIT) that our admin runs on a table past
FULL_COUNT_ROWS rows. A target passes within MAX_RATIO of bare and with no such count.
"""

import logging
import math
import re
import statistics
import time
import types
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.db import connection
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import include, path, reverse

from appointments.models import Appointment
from clients.models import Client
from crm_project.pagination import EstimatedCountPaginator, IndexedDatesMixin
from packages.models import PackagePurchase

MAX_RATIO = 1.5
FULL_COUNT_ROWS = 100_000
BENCH_USERNAME = "bench.superuser"
MODELS = {"client": Client, "appointment": Appointment, "purchase": PackagePurchase}

_COUNT = re.compile(r"\bCOUNT\(", re.IGNORECASE)
_FROM = re.compile(r'\bFROM\s+"?(\w+)"?', re.IGNORECASE)


@dataclass
class Run:
    status: int
    seconds: list[float] = field(default_factory=list)
    queries: list[dict] = field(default_factory=list)  # of the last run

    @property
    def median_ms(self) -> float:
        return statistics.median(self.seconds) * 1000


@dataclass
class CaseResult:
    model: str
    case: str
    params: dict
    ours: Run
    bare: Run
    admin_label: str
    full_counts: list[str]

    @property
    def ratio(self) -> float:
        return self.ours.median_ms / self.bare.median_ms if self.bare.median_ms else 0

    @property
    def passed(self) -> bool:
        return (
            self.ours.status == 200 and self.ratio <= MAX_RATIO and not self.full_counts
        )


def table_sizes() -> dict[str, int]:
    """Rows per table: the planner's figure on PostgreSQL, a count elsewhere."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT relname, reltuples::bigint FROM pg_class "
                "WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace"
            )
            return dict(cursor.fetchall())
    from django.apps import apps

    return {m._meta.db_table: m._base_manager.count() for m in apps.get_models()}


def full_table_counts(queries: list[dict], sizes: dict[str, int]) -> list[str]:
    """The COUNTs among ``queries`` with no WHERE and no LIMIT on a big table."""
    flagged = []
    for query in queries:
        sql = query["sql"]
        upper = sql.upper()
        if not _COUNT.search(sql) or " WHERE " in upper or " LIMIT " in upper:
            continue
        table = _FROM.search(sql)
        if table and sizes.get(table.group(1), 0) > FULL_COUNT_ROWS:
            flagged.append(sql)
    return flagged


def bare_admin_for(model, ours: admin.ModelAdmin) -> type[admin.ModelAdmin]:
    """A plain ModelAdmin listing the model fields our list shows (a display method
    counts as the field it sorts by), with our search fields, joins and page size."""
    columns = []
    for item in ours.list_display:
        name = item if isinstance(item, str) else None
        method = name and not hasattr(model, name) and hasattr(ours, name)
        if method:
            name = getattr(getattr(ours, name), "admin_order_field", None)
        if not isinstance(name, str):
            continue
        try:
            model_field = model._meta.get_field(name.lstrip("-"))
        except FieldDoesNotExist:
            continue
        # A method sorting by a relation shows its own text; the relation's __str__
        # could need queries of its own (a purchase names its client and package).
        if model_field.many_to_many or (method and model_field.is_relation):
            continue
        if name not in columns:
            columns.append(name)
    return type(
        f"Bare{model.__name__}Admin",
        (admin.ModelAdmin,),
        {
            "list_display": columns or ["__str__"],
            "search_fields": list(ours.search_fields),
            "list_per_page": ours.list_per_page,
            # Our joins too: Django's default follows only non-null foreign keys and
            # would query per row for the others, a baseline too easy to beat.
            "list_select_related": ours.list_select_related,
        },
    )


def stand_in_admin_for(model) -> type[admin.ModelAdmin]:
    """What the project's admins promise, for a model with no admin registered yet."""
    columns = [
        f.name
        for f in model._meta.concrete_fields
        if not f.primary_key and f.name not in ("created_at", "updated_at")
    ][:6]
    search = {
        Client: ["first_name", "last_name", "phone"],
    }.get(model, ["client__first_name", "client__last_name", "client__phone"])
    return type(
        f"StandIn{model.__name__}Admin",
        (admin.ModelAdmin,),
        {
            "list_display": columns,
            "search_fields": search,
            "paginator": EstimatedCountPaginator,
            "show_full_result_count": False,
        },
    )


def search_samples() -> tuple[str, str, str]:
    """A client's full name, and their phone typed national-style, e.g. (415) 555-0123:
    a client in the middle of the id range, so neither the oldest nor the newest."""
    ids = Client.objects.exclude(phone="").order_by("pk").values_list("pk", flat=True)
    count = ids.count()
    if not count:
        raise LookupError("No clients to search for: run seed_demo first.")
    client = Client.objects.exclude(phone="").order_by("pk")[count // 2]
    digits = client.phone.removeprefix("+1")
    typed = f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
    return f"{client.first_name} {client.last_name}", typed, client.phone


class AdminBench:
    def __init__(
        self, *, repeat: int = 5, deep_page: int = 500, models=None, proposals=False
    ):
        self.repeat = max(1, repeat)
        self.deep_page = deep_page
        self.models = {k: MODELS[k] for k in (models or MODELS)}
        self.sizes = table_sizes()
        self.name, self.typed_phone, self.phone = search_samples()
        self.bare_site = admin.AdminSite(name="bench_bare")
        self.our_site = admin.AdminSite(name="bench_ours")
        self.labels: dict[str, str] = {}
        self.namespaces: dict[str, str] = {}
        for key, model in self.models.items():
            ours = admin.site._registry.get(model)
            self.namespaces[key] = "admin"
            if ours is None:
                self.our_site.register(model, stand_in_admin_for(model))
                self.namespaces[key] = "bench_ours"
                self.labels[key] = "stand-in (no admin registered)"
            else:
                self.labels[key] = type(ours).__name__
                if proposals and ours.date_hierarchy:
                    if not isinstance(ours, IndexedDatesMixin):
                        proposed = type(
                            f"Proposed{type(ours).__name__}",
                            (IndexedDatesMixin, type(ours)),
                            {},
                        )
                        self.our_site.register(model, proposed)
                        self.namespaces[key] = "bench_ours"
                        self.labels[key] += " + IndexedDatesMixin (proposed)"
            self.bare_site.register(
                model, bare_admin_for(model, self._admin(key, model))
            )
        root = __import__(settings.ROOT_URLCONF, fromlist=["urlpatterns"])
        # A module object: the URL resolver caches by urlconf, so it must hash.
        self.urlconf = types.ModuleType("crm_project_bench_urls")
        self.urlconf.urlpatterns = [
            path("bench-bare/", self.bare_site.urls),
            path("bench-ours/", self.our_site.urls),
            path("", include(root.urlpatterns)),
        ]

    def _admin(self, key: str, model) -> admin.ModelAdmin:
        site = admin.site if self.namespaces[key] == "admin" else self.our_site
        return site._registry[model]

    def cases(self, key: str, model) -> list[tuple[str, dict]]:
        name, typed_phone = self.name, self.typed_phone
        per_page = self._admin(key, model).list_per_page
        rows = self.sizes.get(model._meta.db_table) or model._base_manager.count()
        last_page = max(1, math.ceil(rows / per_page) - 1)
        deep = min(self.deep_page, last_page)
        return [
            ("page 1", {}),
            ("search name", {"q": name}),
            ("search phone", {"q": typed_phone}),
            (f"page {deep:,}", {"p": str(deep)}),
        ]

    def run(self, progress=None) -> list[CaseResult]:
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(
            username=BENCH_USERNAME,
            defaults={"is_staff": True, "is_superuser": True},
        )
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        hosts = [*settings.ALLOWED_HOSTS, "testserver"]
        results = []
        # Jazzmin logs a warning per page for menu links it cannot reverse on the
        # throwaway sites; they are not what is measured.
        logging.getLogger("jazzmin").setLevel(logging.ERROR)
        with override_settings(ALLOWED_HOSTS=hosts, ROOT_URLCONF=self.urlconf):
            http = HttpClient()
            http.force_login(user)
            for key, model in self.models.items():
                ours_ns, bare_ns = self.namespaces[key], "bench_bare"
                opts = model._meta
                view = f"{opts.app_label}_{opts.model_name}_changelist"
                ours_url = reverse(f"{ours_ns}:{view}")
                bare_url = reverse(f"{bare_ns}:{view}")
                for case, params in self.cases(key, model):
                    ours, bare = self._measure(http, ours_url, bare_url, params)
                    result = CaseResult(
                        model=key,
                        case=case,
                        params=params,
                        ours=ours,
                        bare=bare,
                        admin_label=self.labels[key],
                        full_counts=full_table_counts(ours.queries, self.sizes),
                    )
                    results.append(result)
                    if progress:
                        progress(result)
            http.logout()
        return results

    def _measure(self, http: HttpClient, ours_url: str, bare_url: str, params: dict):
        """Alternate ours and bare, so that load from elsewhere on the machine falls
        on both alike; the first request of each (caches, plans) is not timed."""
        runs = {ours_url: Run(status=0), bare_url: Run(status=0)}
        for url in runs:
            http.get(url, params)
        for _ in range(self.repeat):
            for url, run in runs.items():
                with CaptureQueriesContext(connection) as captured:
                    started = time.perf_counter()
                    response = http.get(url, params)
                    run.seconds.append(time.perf_counter() - started)
                run.status = response.status_code
                run.queries = captured.captured_queries
        return runs[ours_url], runs[bare_url]


def explain(sql: str) -> str:
    """EXPLAIN ANALYZE of a captured query (PostgreSQL), for the report."""
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")  # noqa: S608
        return "\n".join(row[0] for row in cursor.fetchall())
