from django.apps import AppConfig
from django.db.models.signals import post_save
from django.utils.translation import gettext_lazy as _


class LeadsConfig(AppConfig):
    name = "leads"
    verbose_name = _("Leads")

    def ready(self) -> None:
        from . import signals
        from .models import Lead

        post_save.connect(signals.lead_saved, sender=Lead, dispatch_uid="lead_saved")
