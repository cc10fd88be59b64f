from django.core.management.base import BaseCommand

from crm_project.setup import ensure_roles


class Command(BaseCommand):
    help = (
        "Create or reset the role groups: owner, manager, receptionist, "
        "salesperson, marketer."
    )

    def handle(self, *args, **options):
        for role, count in ensure_roles().items():
            self.stdout.write(f"{role}: {count} permissions")
        self.stdout.write(self.style.SUCCESS("Roles are up to date."))
