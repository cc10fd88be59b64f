from django.core.management.base import BaseCommand

from packages.catalogue import load_packages
from services.catalogue import load_services


class Command(BaseCommand):
    help = (
        "Load the starting catalogue (contraindications, services, packages). "
        "Idempotent: rows that exist, matched by name, are left as they are."
    )

    def handle(self, *args, **options):
        created = load_services()
        created["packages"] = load_packages()
        summary = ", ".join(f"{n} {kind}" for kind, n in created.items())
        self.stdout.write(
            self.style.SUCCESS(f"Initial catalogue loaded; created {summary}.")
        )
