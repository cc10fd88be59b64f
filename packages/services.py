import datetime as dt
import logging
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from clients.models import Client

from .models import Package, PackagePurchase, Payment

logger = logging.getLogger(__name__)


class NoSessionsLeft(ValidationError):
    pass


def sell_package(
    client: Client,
    package: Package,
    *,
    payment_method: str,
    price: Decimal | None = None,
    purchased_on: dt.date | None = None,
    reference: str = "",
    receipt=None,
    by=None,
) -> PackagePurchase:
    """Sell ``package`` to ``client``: the purchase and its payment, in one transaction.

    ``price`` defaults to the package price (a later issue prices it through discounts).
    The purchase expires ``validity_days`` after ``purchased_on`` (today by default).
    """
    if not package.is_active:
        raise ValidationError(
            _("The package “%(name)s” is not on sale.") % {"name": package}
        )
    if price is not None:
        try:
            parsed = Decimal(price)
        except (InvalidOperation, TypeError, ValueError):
            parsed = None
        if parsed is None or not parsed.is_finite():
            raise ValidationError(_("“%(price)s” is not a price.") % {"price": price})
    price = package.price if price is None else parsed
    if price < 0:
        raise ValidationError(_("A price cannot be negative."))
    if payment_method not in Payment.Method.values:
        raise ValidationError(
            _("Unknown payment method “%(m)s”.") % {"m": payment_method}
        )
    purchased_on = purchased_on or timezone.localdate()
    with transaction.atomic():
        purchase = PackagePurchase.objects.create(
            client=client,
            package=package,
            price_paid=price,
            purchased_on=purchased_on,
            expires_on=purchased_on + dt.timedelta(days=package.validity_days),
            sessions_total=package.sessions,
            sold_by=by,
        )
        if price > 0:
            record_payment(
                client,
                amount=price,
                method=payment_method,
                purchase=purchase,
                reference=reference,
                receipt=receipt,
                by=by,
            )
    return purchase


def record_payment(
    client: Client,
    *,
    amount: Decimal,
    method: str,
    purchase: PackagePurchase | None = None,
    appointment=None,
    paid_at: dt.datetime | None = None,
    reference: str = "",
    receipt=None,
    by=None,
) -> Payment:
    """Record money taken from ``client``; the signal refreshes their figures."""
    payment = Payment(
        client=client,
        purchase=purchase,
        appointment=appointment,
        amount=Decimal(amount),
        method=method,
        paid_at=paid_at or timezone.now(),
        reference=reference,
        received_by=by,
    )
    if receipt is not None:
        payment.receipt = receipt
    payment.full_clean()
    with transaction.atomic():
        payment.save()
    return payment


def consume_session(purchase_id: int) -> None:
    """Take one session from an active purchase, in one conditional UPDATE.

    Never passes the total, however many transactions race; turns the purchase exhausted
    when the last session goes. Raises NoSessionsLeft when nothing could be taken.
    """
    updated = PackagePurchase.objects.filter(
        pk=purchase_id,
        status=PackagePurchase.Status.ACTIVE,
        sessions_used__lt=F("sessions_total"),
    ).update(
        sessions_used=F("sessions_used") + 1,
        status=Case(
            When(
                sessions_used=F("sessions_total") - 1,
                then=Value(PackagePurchase.Status.EXHAUSTED),
            ),
            default=F("status"),
        ),
        updated_at=timezone.now(),
    )
    if updated != 1:
        raise NoSessionsLeft(
            _(
                "This package purchase has no session left to use "
                "(it is used up, expired or cancelled)."
            )
        )


def release_session(purchase_id: int) -> None:
    """Give one session back (a completed visit was reopened or cancelled).

    An exhausted purchase becomes active again, or expired if its validity has passed.
    """
    today = timezone.localdate()
    PackagePurchase.objects.filter(pk=purchase_id, sessions_used__gt=0).update(
        sessions_used=F("sessions_used") - 1,
        status=Case(
            When(
                status=PackagePurchase.Status.EXHAUSTED,
                expires_on__lt=today,
                then=Value(PackagePurchase.Status.EXPIRED),
            ),
            When(
                status=PackagePurchase.Status.EXHAUSTED,
                then=Value(PackagePurchase.Status.ACTIVE),
            ),
            default=F("status"),
        ),
        updated_at=timezone.now(),
    )


def expire_purchases(*, today: dt.date | None = None) -> int:
    """Mark active purchases past their validity as expired; returns how many.

    One conditional UPDATE: idempotent, and no signal or counter depends on the status.
    """
    today = today or timezone.localdate()
    count = PackagePurchase.objects.filter(
        status=PackagePurchase.Status.ACTIVE, expires_on__lt=today
    ).update(status=PackagePurchase.Status.EXPIRED, updated_at=timezone.now())
    logger.info("Package purchases expired: %s", count)
    return count


def cancel_purchase(
    purchase: PackagePurchase, *, by=None, note: str = ""
) -> PackagePurchase:
    """Cancel a purchase so no more sessions can be booked or used on it."""
    with transaction.atomic():
        purchase = PackagePurchase.objects.select_for_update().get(pk=purchase.pk)
        if purchase.status == PackagePurchase.Status.CANCELLED:
            return purchase
        purchase.status = PackagePurchase.Status.CANCELLED
        if note:
            purchase.notes = f"{purchase.notes}\n{note}".strip()
        purchase.save(update_fields=["status", "notes", "updated_at"])
    logger.info("Purchase %s cancelled by %s", purchase.pk, by)
    return purchase
