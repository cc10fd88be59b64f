"""Scheduling operations: groups, enrolment, the waitlist, attendance, occupancy.

Every decision about a group's places (enrolling, leaving, the waitlist, and the trial
lessons of the trials app) is taken holding the group's row lock (:func:`lock_group`),
so racing desks and workers decide one after the other on fresh counts.

The operations live in one module per subject; import them from here:
``from scheduling import services; services.enroll_client(...)``.
"""

from .attendance import attendance_problem, mark_attendance
from .enrolment import (
    change_enrollment_status,
    enroll_client,
    leave_enrollment,
    pause_enrollment,
    promote_waitlist,
    reactivate_enrollment,
)
from .groups import clash_message, room_clashes, save_group
from .occupancy import (
    occupancy_window,
    queue_occupancy_refresh,
    refresh_room_occupancy,
)
from .places import GroupFull, PlaceChange, lock_group
from .waitlist import (
    accept_waitlist_offer,
    add_to_waitlist,
    offer_waitlist_place,
    withdraw_waitlist_entry,
)

__all__ = [
    "GroupFull",
    "PlaceChange",
    "accept_waitlist_offer",
    "add_to_waitlist",
    "attendance_problem",
    "change_enrollment_status",
    "clash_message",
    "enroll_client",
    "leave_enrollment",
    "lock_group",
    "mark_attendance",
    "occupancy_window",
    "offer_waitlist_place",
    "pause_enrollment",
    "promote_waitlist",
    "queue_occupancy_refresh",
    "reactivate_enrollment",
    "refresh_room_occupancy",
    "room_clashes",
    "save_group",
    "withdraw_waitlist_entry",
]
