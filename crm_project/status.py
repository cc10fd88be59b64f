"""Status changes that leave one history row, whatever path saved them.

A model with a ``status`` field inherits ``StatusTracked``: its ``save()`` locks the
row, reads the stored status (and any ``stored_fields`` only services may change) and
keeps it as ``_old_status``; a post_save receiver then calls ``write_status_history``.
Who changes it and why travel on the instance (``mark_status_change``), so the admin, a
service, a task and a plain ``save()`` in the shell all leave the same trace.
"""

from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm_project.models import staff_field


class StatusTracked(models.Model):
    # Fields re-read from the stored row on save: only services change them, so a
    # stale instance must not write an old value back.
    stored_fields: tuple[str, ...] = ()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs) -> None:
        """Save with the stored status read under a row lock.

        The save and its post_save work share one transaction, so a failure in that
        work undoes the status change, also for a plain ``save()`` outside any
        transaction; racing saves record one change each.
        """
        update_fields = kwargs.get("update_fields")
        # A save that does not write the status cannot change it: a stale instance
        # saved with update_fields=["notes"] must not record a change.
        writes_status = update_fields is None or "status" in update_fields
        with transaction.atomic(using=kwargs.get("using")):
            self._old_status = None
            if writes_status and self.pk and not self._state.adding:
                stored = (
                    type(self)
                    .objects.select_for_update()
                    .filter(pk=self.pk)
                    .values("status", *self.stored_fields)
                    .first()
                )
                if stored is not None:
                    self._old_status = stored.pop("status")
                    for field, value in stored.items():
                        setattr(self, field, value)
            if self._old_status is not None and self._old_status != self.status:
                self.check_transition(self._old_status, self.status)
            super().save(*args, **kwargs)

    def check_transition(self, old: str, new: str) -> None:
        """Raise when ``old`` → ``new`` is not allowed; every move is, by default."""

    def mark_status_change(self, *, by=None, note: str = "") -> None:
        """Say who makes the next status change, and why, for its history row."""
        self._status_changed_by = by
        self._status_note = note


class StatusHistory(models.Model):
    """One status change: who, when, why. Subclasses add the link to their subject
    and ``from_status`` / ``to_status`` with the subject's choices."""

    changed_by = staff_field(_("changed by"))
    changed_at = models.DateTimeField(_("changed at"), default=timezone.now)
    note = models.CharField(_("note"), max_length=255, blank=True)

    class Meta:
        abstract = True
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.from_status or '∅'} → {self.to_status}"


def status_changed(instance: StatusTracked, *, created: bool) -> str | None:
    """The status the saved instance came from ("" when created), or None if the
    save did not change it."""
    if created:
        return ""
    old = getattr(instance, "_old_status", None)
    if old is None or old == instance.status:
        return None
    return old


def write_status_history(instance: StatusTracked, history_model, *, old: str, **link):
    """One history row for the change ``old`` → ``instance.status``; then the instance
    starts afresh, so a later save of it records only its own change."""
    row = history_model.objects.create(
        from_status=old,
        to_status=instance.status,
        changed_by=getattr(instance, "_status_changed_by", None),
        note=(getattr(instance, "_status_note", "") or "")[:255],
        **link,
    )
    instance._old_status = instance.status
    instance.mark_status_change(by=None, note="")
    return row
