import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction


class Command(BaseCommand):
    help = (
        "Make sure a superuser exists for local development. Creates it with a random "
        "password and prints the login; an existing user is left alone unless "
        "--reset-password is given."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--email", default="admin@example.com")
        parser.add_argument(
            "--reset-password",
            action="store_true",
            help="Give an existing user a new random password (and staff, superuser "
            "and active flags) and print it.",
        )

    def handle(self, *args, username, email, reset_password, **options):
        User = get_user_model()
        # 16 URL-safe characters: easy to copy from a terminal, far from guessable.
        password = secrets.token_urlsafe(12)
        with transaction.atomic():
            user = (
                User.objects.select_for_update()
                .filter(**{User.USERNAME_FIELD: username})
                .first()
            )
            if user is None:
                User.objects.create_superuser(
                    username=username, email=email, password=password
                )
                action = "Created superuser"
            elif reset_password:
                user.set_password(password)
                user.is_active = user.is_staff = user.is_superuser = True
                user.save()
                action = "New password for"
            else:
                self.stdout.write(
                    f"Superuser {username!r} exists; its password was printed when it "
                    "was created.\nForgot it? `make admin-password` (or `python "
                    f"manage.py ensure_admin --reset-password`) prints a new one."
                )
                return
        self.stdout.write(
            self.style.SUCCESS(f"{action} {username!r}.")
            + f"\n  username: {username}\n  password: {password}"
        )
