from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class TimeStamped(models.Model):
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        abstract = True


def staff_field(verbose_name, *, related_name="+", **options) -> models.ForeignKey:
    """An optional link to a staff user, kept (emptied) when the user is deleted.

    ``related_name`` defaults to "+" (no reverse accessor); ``options`` go to the
    ForeignKey unchanged (e.g. ``db_index=False``, ``editable=False``, ``help_text``).
    """
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=verbose_name,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name=related_name,
        **options,
    )
