from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class CrmAdminConfig(AdminConfig):
    """Swaps Django's default admin site for ours, with the front-desk dashboard."""

    default_site = "crm_project.admin_site.CrmAdminSite"


class CrmProjectConfig(AppConfig):
    """Project-wide pieces: roles, the default beat schedule, the dashboard."""

    name = "crm_project"
    verbose_name = _("CRM")

    def ready(self) -> None:
        from . import setup

        _ensure_broker_folders()

        # Permissions and beat tables exist only after migrate; keeping roles and the
        # default schedules in step there means a fresh database is ready to use.
        post_migrate.connect(
            setup.ensure_defaults_after_migrate,
            dispatch_uid="crm_project.ensure_defaults_after_migrate",
        )


def _ensure_broker_folders() -> None:
    """kombu's filesystem transport fails to queue a task into a folder that does not
    exist; create them wherever Django starts (web, worker, shell), not only in
    ``make run``."""
    from pathlib import Path

    from django.conf import settings

    if not settings.CELERY_BROKER_URL.startswith("filesystem://"):
        return
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    for key in (
        "data_folder_in",
        "data_folder_out",
        "processed_folder",
        "control_folder",
    ):
        if options.get(key):
            Path(options[key]).mkdir(parents=True, exist_ok=True)
