import datetime as dt

from .models import PackagePurchase


def this_week(today: dt.date) -> tuple[dt.date, dt.date]:
    """The seven days from today, both ends included: "expiring this week"."""
    return today, today + dt.timedelta(days=6)


def purchases_expiring(start: dt.date, end: dt.date, *, limit: int = 100):
    """Active purchases expiring in [start, end], soonest first, with sessions left."""
    return list(
        PackagePurchase.objects.expiring_between(start, end)
        .select_related("client", "package")
        .order_by("expires_on", "id")[:limit]
    )
