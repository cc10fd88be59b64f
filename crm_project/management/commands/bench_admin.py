from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from crm_project.admin_bench import (
    FULL_COUNT_ROWS,
    MAX_RATIO,
    MODELS,
    AdminBench,
    CaseResult,
    explain,
)


class Command(BaseCommand):
    help = (
        "Time the client, appointment and purchase changelists (first page, searches, "
        "a deep page) against a bare ModelAdmin on the same rows; run seed_demo first. "
        f"A target passes within {MAX_RATIO}x of bare with no full-table COUNT(*) on "
        f"a table over {FULL_COUNT_ROWS:,} rows."
    )

    def add_arguments(self, parser):
        parser.add_argument("--repeat", type=int, default=5, help="Timed runs each.")
        parser.add_argument("--deep-page", type=int, default=500)
        parser.add_argument(
            "--model", action="append", choices=list(MODELS), dest="models"
        )
        parser.add_argument(
            "--proposals",
            action="store_true",
            help="Measure our admins with the changes proposed for them "
            "(IndexedDatesMixin on a date_hierarchy) instead of as they are.",
        )
        parser.add_argument(
            "--show-queries",
            action="store_true",
            help="Print our admin's queries per case, slowest first.",
        )
        parser.add_argument(
            "--explain",
            action="store_true",
            help="EXPLAIN ANALYZE our slowest query per case (PostgreSQL).",
        )

    def handle(self, *args, **options):
        try:
            bench = AdminBench(
                repeat=options["repeat"],
                deep_page=options["deep_page"],
                models=options["models"],
                proposals=options["proposals"],
            )
        except LookupError as error:
            raise CommandError(str(error)) from error
        write = self.stdout.write
        write(f"Database: {connection.vendor} {connection.settings_dict['NAME']}")
        for key, model in bench.models.items():
            table = model._meta.db_table
            write(
                f"  {table}: {bench.sizes.get(table, 0):,} rows; "
                f"our admin: {bench.labels[key]}"
            )
        write(
            f"Searches: name {bench.name!r}, phone {bench.typed_phone!r} "
            f"(stored {bench.phone}); median of {bench.repeat} alternating runs "
            "after a warm-up."
        )
        header = (
            f"{'list':<12}{'case':<14}{'queries':>9}{'bare q':>8}"
            f"{'ours ms':>10}{'bare ms':>10}{'ratio':>7}  full COUNT  result"
        )
        write(header)
        write("-" * len(header))
        results = bench.run(progress=lambda r: self._row(r, options))
        passed = sum(r.passed for r in results)
        style = self.style.SUCCESS if passed == len(results) else self.style.ERROR
        write(style(f"{passed}/{len(results)} targets pass."))

    def _row(self, r: CaseResult, options) -> None:
        status = "" if r.ours.status == 200 else f" (HTTP {r.ours.status})"
        verdict = "PASS" if r.passed else "FAIL"
        self.stdout.write(
            f"{r.model:<12}{r.case:<14}{len(r.ours.queries):>9}"
            f"{len(r.bare.queries):>8}{r.ours.median_ms:>10.1f}"
            f"{r.bare.median_ms:>10.1f}{r.ratio:>7.2f}  "
            f"{'YES' if r.full_counts else 'no':<10}  {verdict}{status}"
        )
        if options["show_queries"] or options["explain"]:
            slowest = sorted(r.ours.queries, key=lambda q: -float(q["time"]))
            if options["show_queries"]:
                for query in slowest:
                    self.stdout.write(f"    {query['time']:>7}s  {query['sql'][:300]}")
            if options["explain"] and slowest and connection.vendor == "postgresql":
                self.stdout.write(
                    "    " + explain(slowest[0]["sql"]).replace("\n", "\n    ")
                )
