from django.core.management.base import BaseCommand

from crm_project.setup import DEFAULT_SCHEDULES, ensure_schedules


class Command(BaseCommand):
    help = (
        "Create the default periodic tasks that are missing. Existing ones are left "
        "as staff edited them."
    )

    def handle(self, *args, **options):
        created = set(ensure_schedules())
        for item in DEFAULT_SCHEDULES:
            state = "created" if item.name in created else "kept"
            self.stdout.write(f"{state}: {item.name} ({item.description})")
