"""Package expiry warnings: a week before a purchase expires, once per purchase."""

import datetime as dt

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from packages.models import PackagePurchase

from ..models import JobRun, MessageKind
from ..services import MessageSpec, preferred_channels
from .base import SpecJob


def purchases_to_warn(now: dt.datetime):
    """Active purchases (sessions left) expiring within the coming
    ``COMMUNICATIONS_EXPIRY_WARNING_DAYS`` days, tomorrow included. A day the job
    missed is caught up the next day; a purchase already warned is a duplicate."""
    today = timezone.localdate(now)
    last = today + dt.timedelta(days=settings.COMMUNICATIONS_EXPIRY_WARNING_DAYS)
    return (
        PackagePurchase.objects.expiring_between(today + dt.timedelta(days=1), last)
        .select_related("client", "package")
        .order_by("expires_on", "pk")
    )


class PackageExpiry(SpecJob):
    name = JobRun.Job.PACKAGE_EXPIRY
    tasks = ("communications.tasks_jobs.send_package_expiry_warnings",)
    description = _(
        "Every day at 10:00: clients whose package expires within the warning "
        "period (COMMUNICATIONS_EXPIRY_WARNING_DAYS, 7 days). Once per purchase."
    )

    def specs(self, now, **options):
        purchases = list(purchases_to_warn(now))
        channels = preferred_channels({p.client for p in purchases})
        return [
            MessageSpec(
                MessageKind.PACKAGE_EXPIRY,
                channels[p.client_id],
                client=p.client,
                about=p,
            )
            for p in purchases
        ]
