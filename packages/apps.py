from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save
from django.utils.translation import gettext_lazy as _


class PackagesConfig(AppConfig):
    name = "packages"
    verbose_name = _("Packages and payments")

    def ready(self) -> None:
        from . import signals
        from .models import Payment

        post_save.connect(
            signals.payment_changed, sender=Payment, dispatch_uid="payment_saved"
        )
        post_delete.connect(
            signals.payment_changed, sender=Payment, dispatch_uid="payment_deleted"
        )
