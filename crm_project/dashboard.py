"""What the admin index shows: the day at the front desk."""

from django.utils import timezone

from appointments.selectors import appointments_on
from packages.selectors import purchases_expiring, this_week


def dashboard_context(request) -> dict:
    today = timezone.localdate()
    user = request.user
    context = {"today": today}
    if user.has_perm("appointments.view_appointment"):
        context["todays_appointments"] = appointments_on(today)
    if user.has_perm("packages.view_packagepurchase"):
        context["expiring_purchases"] = purchases_expiring(*this_week(today))
    return context
