"""What the admin index shows: the day at the front desk, and late lead follow-ups."""

from django.db.models import Q
from django.utils import timezone

from appointments.selectors import appointments_on
from leads.models import LeadFollowUp
from packages.selectors import purchases_expiring, this_week
from scheduling.selectors import recent_waitlist_promotions
from trials.selectors import trials_for_dashboard

# The dashboard lists this many overdue follow-ups; "See all" opens the rest.
OVERDUE_FOLLOW_UPS_SHOWN = 15
# ...and this many due scheduled messages and reminders.
DUE_MESSAGES_SHOWN = 15


def overdue_follow_ups(user, now=None):
    """Follow-ups past due and not done: the user's own, or everyone's for those
    who see all leads (managers, owners)."""
    now = now or timezone.now()
    queryset = LeadFollowUp.objects.filter(
        Q(status=LeadFollowUp.Status.OVERDUE)
        | Q(status=LeadFollowUp.Status.PENDING, due_at__lt=now)
    )
    if not (user.is_superuser or user.has_perm("leads.view_all_leads")):
        queryset = queryset.filter(assigned_to=user)
    return queryset.select_related("lead", "assigned_to").order_by("due_at", "pk")


def dashboard_context(request) -> dict:
    today = timezone.localdate()
    user = request.user
    context = {"today": today}
    if user.has_perm("appointments.view_appointment"):
        context["todays_appointments"] = appointments_on(today)
    if user.has_perm("packages.view_packagepurchase"):
        context["expiring_purchases"] = purchases_expiring(*this_week(today))
    if user.has_perm("leads.view_leadfollowup"):
        context["overdue_follow_ups"] = list(
            overdue_follow_ups(user)[:OVERDUE_FOLLOW_UPS_SHOWN]
        )
        context["sees_all_follow_ups"] = user.is_superuser or user.has_perm(
            "leads.view_all_leads"
        )
    if user.has_perm("scheduling.view_waitlistentry"):
        # Places freed in full groups: offers staff must follow up, and clients
        # enrolled from the waitlist lately.
        context["waitlist_promotions"] = recent_waitlist_promotions()
    if user.has_perm("trials.view_trial"):
        # Today's trial lessons, and those whose attendance or result is owed.
        context["trials_to_follow"] = trials_for_dashboard(user)
    if user.has_perm("communications.view_scheduledmessage"):
        # Scheduled messages sent and staff reminders come due: the user's own and
        # unassigned ones, until someone marks them done.
        from communications.jobs import due_for

        context["due_scheduled_messages"] = list(due_for(user)[:DUE_MESSAGES_SHOWN])
        context["may_mark_done"] = user.has_perm(
            "communications.change_scheduledmessage"
        )
    return context
