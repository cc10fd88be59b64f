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

        # Permissions and beat tables exist only after migrate; keeping roles and the
        # default schedules in step there means a fresh database is ready to use.
        post_migrate.connect(
            setup.ensure_defaults_after_migrate,
            dispatch_uid="crm_project.ensure_defaults_after_migrate",
        )
