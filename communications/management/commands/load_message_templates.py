from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
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
        parser.add_argument(
            "--folder",
            type=Path,
            help=gettext_lazy(
                "Load from this folder (laid out as templates/emails/) instead."
            ),
        )

    def handle(self, *args, overwrite=False, folder=None, **options):
        if folder is not None and not folder.is_dir():
            raise CommandError(_("No such folder: %(folder)s") % {"folder": folder})
        try:
            report = load_message_templates(overwrite=overwrite, folder=folder)
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
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
