from django.core.management.base import BaseCommand, CommandError

from crm_project.demo import seed_demo


class Command(BaseCommand):
    help = (
        "Add realistic demo data: clients with purchases, payments, appointments in "
        "every status, history, feedback, notes and staff users. Bulk-loaded (COPY "
        "on PostgreSQL); prints what it made and how long each step took."
    )

    def add_arguments(self, parser):
        parser.add_argument("--clients", type=int, default=200)
        parser.add_argument(
            "--appointments-per-client",
            type=float,
            default=5,
            help="Average appointments per client (10 with 100,000 clients: 1M).",
        )
        parser.add_argument("--seed", type=int, default=None, help="Reproducible data.")
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing when the database already has clients.",
        )
        parser.add_argument(
            "--chunk-size",
            type=int,
            default=2000,
            help="Clients generated and written per transaction.",
        )

    def handle(self, *args, **options):
        if options["clients"] < 1 or options["chunk_size"] < 1:
            raise CommandError("--clients and --chunk-size must be at least 1.")
        if options["appointments_per_client"] < 0:
            raise CommandError("--appointments-per-client cannot be negative.")
        result = seed_demo(
            clients=options["clients"],
            appointments_per_client=options["appointments_per_client"],
            seed=options["seed"],
            if_empty=options["if_empty"],
            chunk_size=options["chunk_size"],
            progress=self.stdout.write if options["verbosity"] > 1 else None,
        )
        if result.skipped:
            self.stdout.write("The database already has clients; nothing seeded.")
            return
        width = max(len(name) for name in result.counts)
        self.stdout.write("Rows written:")
        for table, rows in result.counts.items():
            self.stdout.write(f"  {table:<{width}} {rows:>12,}")
        statuses = ", ".join(f"{s} {n:,}" for s, n in sorted(result.statuses.items()))
        self.stdout.write(f"Appointments by status: {statuses}")
        self.stdout.write("Timings:")
        for phase, seconds in result.timings.items():
            self.stdout.write(f"  {phase:<{width + 6}} {seconds:8.2f} s")
        self.stdout.write(
            f"Client figures re-checked on {result.verified:,} sampled clients: "
            f"{result.mismatched} differ."
        )
        style = self.style.SUCCESS if not result.mismatched else self.style.ERROR
        self.stdout.write(
            style(f"Seeded {options['clients']:,} clients in {result.seconds:.1f} s.")
        )
