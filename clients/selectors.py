MEDICAL_PERMISSION = "clients.view_medical_info"
MEDICAL_FIELDS = ("medical_history", "allergies", "conditions")


def can_see_medical_info(user) -> bool:
    """Whether ``user`` may read clients' medical data (history, allergies,
    conditions). None is the system itself (a task, the shell): it may."""
    return user is None or user.has_perm(MEDICAL_PERMISSION)
