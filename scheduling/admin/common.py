"""Badges and messages the scheduling admins share."""

from django.contrib import messages
from django.utils.html import format_html
from django.utils.translation import gettext

from ..models import WaitlistStatus

# Background classes, one per status value: Bootstrap's, or admin.css's crm-bg-*.
STATUS_COLOURS = {
    "planned": "bg-info",
    "active": "crm-bg-green",
    "finished": "bg-secondary",
    "cancelled": "bg-dark",
    "paused": "crm-bg-orange",
    "left": "bg-secondary",
    "waiting": "bg-info",
    "offered": "crm-bg-orange",
    "enrolled": "crm-bg-green",
    "withdrawn": "bg-secondary",
    "present": "crm-bg-green",
    "absent": "crm-bg-red",
    "excused": "bg-info",
}
# Occupancy colours (scheduling.models.occupancy_colour) as admin.css classes.
OCCUPANCY_CLASSES = {
    "green": "crm-bg-green",
    "orange": "crm-bg-orange",
    "red": "crm-bg-red",
}


def scheduling_badge(value: str, label) -> str:
    return format_html(
        '<span class="badge crm-status {}">{}</span>',
        STATUS_COLOURS.get(value, "bg-secondary"),
        label,
    )


def occupancy_badge(percent: float, colour: str, text=None) -> str:
    """A badge coloured green below 50 %, orange to 80 %, red from 80 % or full."""
    return format_html(
        '<span class="badge crm-occupancy {}" data-colour="{}">{}</span>',
        OCCUPANCY_CLASSES[colour],
        colour,
        text if text is not None else f"{percent:g} %",
    )


def report_promotions(model_admin, request, promoted) -> None:
    """Tell staff which waitlisted clients got the place that came free."""
    for entry in promoted:
        if entry.status == WaitlistStatus.ENROLLED:
            text = gettext(
                "A place came free in %(group)s: %(client)s was enrolled from the "
                "waitlist."
            )
        else:
            text = gettext(
                "A place came free in %(group)s: it is offered to %(client)s, first "
                "on the waitlist. Call them, then accept or withdraw the offer."
            )
        model_admin.message_user(
            request,
            text % {"group": entry.group, "client": entry.client},
            messages.INFO,
        )
