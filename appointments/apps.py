from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save
from django.utils.translation import gettext_lazy as _


class AppointmentsConfig(AppConfig):
    name = "appointments"
    verbose_name = _("Appointments")

    def ready(self) -> None:
        from . import signals
        from .models import Appointment

        post_save.connect(
            signals.appointment_saved,
            sender=Appointment,
            dispatch_uid="appointment_saved",
        )
        post_delete.connect(
            signals.appointment_deleted,
            sender=Appointment,
            dispatch_uid="appointment_deleted",
        )
