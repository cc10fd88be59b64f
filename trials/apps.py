from django.apps import AppConfig
from django.db.models.signals import post_save
from django.utils.translation import gettext_lazy as _


class TrialsConfig(AppConfig):
    name = "trials"
    verbose_name = _("Trial lessons")

    def ready(self) -> None:
        from scheduling.bookings import register_lesson_bookings

        from . import signals
        from .models import Trial
        from .services import trial_bookings

        post_save.connect(signals.trial_saved, sender=Trial, dispatch_uid="trial_saved")
        # A trial student takes a place in their lesson: the group's capacity checks
        # and room occupancy count them.
        register_lesson_bookings(trial_bookings)
