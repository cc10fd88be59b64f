"""Appointment operations: booking, the status lifecycle and the sessions it uses.

Every status change, from whatever path (a service here, the admin, a plain ``save()``),
ends in ``record_status_change``, called by the post_save signal: it writes the one
history row, takes or gives back the package session, and refreshes the client figures.
"""

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clients.models import Client
from clients.selectors import can_see_medical_info
from clients.services import refresh_client_figures
from crm_project.status import status_changed, write_status_history
from crm_project.timeutils import week_bounds
from packages.models import PackagePurchase
from packages.services import consume_session, release_session
from services.models import Service

from .models import Appointment, AppointmentStatusHistory, InvalidTransition, Status

__all__ = [
    "InvalidTransition",
    "book_appointment",
    "booking_problems",
    "change_status",
    "complete_appointment",
    "record_feedback",
    "record_status_change",
    "update_appointment",
]


def contraindications_for(client: Client, service: Service) -> list[str]:
    """Names of the client's conditions that the service is contraindicated for."""
    if client.pk is None or service.pk is None:
        return []
    return list(
        service.contraindications.filter(clients=client)
        .order_by("name")
        .values_list("name", flat=True)
    )


def booking_problems(
    *,
    client: Client,
    service: Service,
    start_at: dt.datetime,
    purchase: PackagePurchase | None,
    override_contraindications: bool,
    override_reason: str = "",
    exclude_pk: int | None = None,
    reveal_conditions: bool = True,
) -> dict[str, list[str]]:
    """What stops this booking, by form field ("__all__" for the whole form).

    Shared by ``book_appointment`` and the admin form, so staff see the same rules
    as field errors that the service enforces. The client's conditions are medical:
    they are named only when ``reveal_conditions`` (the viewer may see medical data).
    """
    problems: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        problems.setdefault(field, []).append(message)

    if not service.is_active:
        add(
            "service",
            _("“%(service)s” is not offered any more.") % {"service": service},
        )

    blocked = contraindications_for(client, service)
    if blocked and not override_contraindications:
        if reveal_conditions:
            message = _(
                "%(service)s is contraindicated for this client's conditions: "
                "%(conditions)s. Tick the override (and give a reason) to book it "
                "anyway."
            ) % {"service": service, "conditions": ", ".join(blocked)}
        else:
            message = _(
                "%(service)s is contraindicated for one of this client's conditions. "
                "Ask a manager, or tick the override (and give a reason) to book it "
                "anyway."
            ) % {"service": service}
        add("contraindication_override", message)
    if blocked and override_contraindications and not override_reason.strip():
        add("override_reason", _("Say why the contraindication is overridden."))

    if purchase is not None:
        _purchase_problems(purchase, client, service, start_at, exclude_pk, add)
    return problems


def _purchase_problems(purchase, client, service, start_at, exclude_pk, add) -> None:
    package = purchase.package
    if purchase.client_id != client.pk:
        add("purchase", _("This package purchase belongs to another client."))
        return
    if purchase.status != PackagePurchase.Status.ACTIVE:
        add(
            "purchase",
            _("This package purchase is %(status)s.")
            % {"status": purchase.get_status_display().lower()},
        )
        return
    if not package.services.filter(pk=service.pk).exists():
        add(
            "purchase",
            _("The package “%(package)s” does not cover %(service)s.")
            % {"package": package, "service": service},
        )
    start_day = timezone.localdate(start_at)
    if start_day > purchase.expires_on:
        add(
            "purchase",
            _("The package purchase expires on %(date)s, before this appointment.")
            % {"date": purchase.expires_on},
        )
    booked = purchase.appointments.booked()
    if exclude_pk:
        booked = booked.exclude(pk=exclude_pk)
    if booked.count() >= purchase.sessions_total:
        add(
            "purchase",
            _("Every session of this package purchase is already booked or used."),
        )
    if package.max_sessions_per_week:
        week_start, week_end = week_bounds(start_day)
        in_week = booked.between(week_start, week_end).count()
        if in_week >= package.max_sessions_per_week:
            add(
                "purchase",
                _(
                    "The package allows %(max)s sessions a week; %(count)s are already "
                    "booked in the week of %(monday)s."
                )
                % {
                    "max": package.max_sessions_per_week,
                    "count": in_week,
                    "monday": week_start.date(),
                },
            )


def session_price(purchase: PackagePurchase) -> Decimal:
    """The value of one session: what was paid, shared over the sessions."""
    return (purchase.price_paid / purchase.sessions_total).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )


def book_appointment(
    client: Client,
    *,
    service: Service,
    start_at: dt.datetime,
    staff=None,
    purchase: PackagePurchase | None = None,
    price: Decimal | None = None,
    override_contraindications: bool = False,
    override_reason: str = "",
    notes: str = "",
    by=None,
) -> Appointment:
    """Book ``client`` for ``service`` at ``start_at``.

    Raises ValidationError with the reasons, by form field.

    The purchase row is locked while its weekly limit and bookings are counted, so two
    receptionists cannot both take the last slot of a week.
    """
    with transaction.atomic():
        if purchase is not None:
            purchase = (
                PackagePurchase.objects.select_for_update()
                .select_related("package")
                .get(pk=purchase.pk)
            )
        problems = booking_problems(
            client=client,
            service=service,
            start_at=start_at,
            purchase=purchase,
            override_contraindications=override_contraindications,
            override_reason=override_reason,
            reveal_conditions=can_see_medical_info(by),
        )
        if problems:
            raise ValidationError(problems)
        if price is None:
            price = session_price(purchase) if purchase else service.price
        overridden = bool(
            override_contraindications and contraindications_for(client, service)
        )
        appointment = Appointment(
            client=client,
            service=service,
            staff=staff,
            start_at=start_at,
            end_at=start_at + dt.timedelta(minutes=service.duration_minutes),
            price=price,
            purchase=purchase,
            contraindication_override=overridden,
            override_reason=override_reason if overridden else "",
            override_by=by if overridden else None,
            notes=notes,
            booked_by=by,
        )
        note = ""
        if overridden:
            note = _("Booked with contraindication override: %(reason)s") % {
                "reason": override_reason
            }
        appointment.mark_status_change(by=by, note=note)
        appointment.save()
    return appointment


def change_status(
    appointment: Appointment, status: str, *, by=None, note: str = ""
) -> Appointment:
    """Move ``appointment`` to ``status``; a repeat call is harmless.

    Locks the row and re-reads it, so racing calls change it once: the first writes the
    history row and takes the session, the others find the status already set. Raises
    InvalidTransition for a move the lifecycle forbids, NoSessionsLeft when completing
    on a used-up purchase (nothing is changed then).
    """
    with transaction.atomic():
        locked = Appointment.objects.select_for_update().get(pk=appointment.pk)
        if locked.status == status:
            return locked
        if not locked.can_transition_to(status):
            raise InvalidTransition(locked.status, status)
        locked.status = status
        locked.mark_status_change(by=by, note=note)
        locked.save(update_fields=["status", "updated_at"])
    appointment.status = locked.status
    # The caller's instance may be saved or deleted next: it must know it holds (or
    # no longer holds) a session, or the session would never be given back.
    appointment.session_consumed = locked.session_consumed
    return locked


def update_appointment(
    appointment: Appointment,
    *,
    fields: dict,
    status: str | None = None,
    expected_status: str | None = None,
    note: str = "",
    by=None,
) -> Appointment:
    """Save edited booking ``fields``, then move to ``status`` through change_status.

    Only those fields are written, on the locked row, so a status or session flag
    changed meanwhile by someone else is never overwritten; with ``expected_status``
    (the status the editor saw) a change made meanwhile refuses the edit. End time,
    price and the override's approver follow the service, purchase and override.
    """
    with transaction.atomic():
        locked = (
            Appointment.objects.select_for_update()
            .only("status", "session_consumed")
            .get(pk=appointment.pk)
        )
        if expected_status is not None and locked.status != expected_status:
            raise ValidationError(
                _(
                    "Someone changed this appointment to %(status)s while you "
                    "were editing it; nothing was saved. Check it and try again."
                )
                % {"status": locked.get_status_display()}
            )
        target = status or locked.status
        appointment.status = locked.status
        appointment.session_consumed = locked.session_consumed
        for name, value in fields.items():
            setattr(appointment, name, value)
        update = set(fields)
        if update & {"start_at", "service"}:
            appointment.end_at = appointment.start_at + dt.timedelta(
                minutes=appointment.service.duration_minutes
            )
            update.add("end_at")
        if update & {"service", "purchase"}:
            appointment.price = (
                session_price(appointment.purchase)
                if appointment.purchase
                else appointment.service.price
            )
            update.add("price")
        if update & {"client", "service", "contraindication_override"}:
            overridden = bool(
                appointment.contraindication_override
                and contraindications_for(appointment.client, appointment.service)
            )
            appointment.override_by = by if overridden else None
            update.add("override_by")
        if update:
            appointment.save(update_fields=[*sorted(update), "updated_at"])
        if target != locked.status:
            change_status(appointment, target, by=by, note=note)
    return appointment


def confirm_appointment(
    appointment: Appointment, *, by=None, note: str = ""
) -> Appointment:
    return change_status(appointment, Status.CONFIRMED, by=by, note=note)


def check_in_appointment(
    appointment: Appointment, *, by=None, note: str = ""
) -> Appointment:
    return change_status(appointment, Status.CHECKED_IN, by=by, note=note)


def start_appointment(
    appointment: Appointment, *, by=None, note: str = ""
) -> Appointment:
    return change_status(appointment, Status.IN_PROGRESS, by=by, note=note)


def complete_appointment(
    appointment: Appointment, *, by=None, note: str = ""
) -> Appointment:
    return change_status(appointment, Status.COMPLETED, by=by, note=note)


def cancel_appointment(
    appointment: Appointment, *, by=None, note: str = ""
) -> Appointment:
    return change_status(appointment, Status.CANCELLED, by=by, note=note)


def mark_no_show(appointment: Appointment, *, by=None, note: str = "") -> Appointment:
    return change_status(appointment, Status.NO_SHOW, by=by, note=note)


def record_feedback(
    appointment: Appointment, *, rating: int, comment: str = "", by=None
) -> Appointment:
    if appointment.status != Status.COMPLETED:
        raise ValidationError(_("Only a completed appointment can be rated."))
    if not 1 <= int(rating) <= 5:
        raise ValidationError(_("A rating is from 1 to 5."))
    appointment.feedback_rating = int(rating)
    appointment.feedback_comment = comment
    appointment.save(
        update_fields=["feedback_rating", "feedback_comment", "updated_at"]
    )
    return appointment


def record_status_change(appointment: Appointment, *, created: bool) -> None:
    """After any save: history for a status change, session usage, client figures.

    Called by the post_save receiver inside the saving transaction, so a failure (no
    session left) undoes the save itself. Idempotent on the session: the appointment's
    ``session_consumed`` flag flips by a conditional update, once.
    """
    old = status_changed(appointment, created=created)
    if old is None:
        return
    with transaction.atomic():
        write_status_history(
            appointment, AppointmentStatusHistory, old=old, appointment=appointment
        )
        sync_session_usage(appointment)
        if Status.COMPLETED in (old, appointment.status):
            refresh_client_figures(appointment.client_id)


def sync_session_usage(appointment: Appointment) -> None:
    """Hold a package session while completed, give it back otherwise; once each way."""
    if appointment.purchase_id is None:
        return
    completed = appointment.status == Status.COMPLETED
    flipped = Appointment.objects.filter(
        pk=appointment.pk, session_consumed=not completed
    ).update(session_consumed=completed)
    if not flipped:
        return
    if completed:
        consume_session(appointment.purchase_id)
    else:
        release_session(appointment.purchase_id)
    appointment.session_consumed = completed


def forget_appointment(appointment: Appointment) -> None:
    """After a delete: give back its session, drop its visit from the figures."""
    with transaction.atomic():
        if appointment.session_consumed and appointment.purchase_id:
            release_session(appointment.purchase_id)
        if appointment.status == Status.COMPLETED:
            refresh_client_figures(appointment.client_id)
