"""The scheduling admin: courses, rooms, groups with occupancy badges, enrolments,
the waitlist, attendance and the room occupancy grid.

Presentation only: every change goes through scheduling.services.
"""

from . import attendance, enrollments, groups, occupancy

__all__ = ["attendance", "enrollments", "groups", "occupancy"]
