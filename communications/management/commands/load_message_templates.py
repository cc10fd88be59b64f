from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from communications.services import load_message_templates


class Command(BaseCommand):
    help = gettext_lazy(
        "Load the default message templates from templates/emails/. Existing "
        "templates (perhaps edited by staff) are kept unless --overwrite."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--overwrite",
            action="store_true",
            help=gettext_lazy("Replace existing templates with the shipped text."),
        )

    def handle(self, *args, overwrite=False, **options):
        report = load_message_templates(overwrite=overwrite)
        for label in report.created:
            self.stdout.write(f"created  {label}")
        for label in report.updated:
            self.stdout.write(f"updated  {label}")
        self.stdout.write(
            _(
                "Message templates: %(created)d created, %(updated)d updated, "
                "%(kept)d kept."
            )
            % {
                "created": len(report.created),
                "updated": len(report.updated),
                "kept": len(report.kept),
            }
        )
