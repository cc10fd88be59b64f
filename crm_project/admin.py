"""The staff accounts' admin: Django's UserAdmin, searchable from booking forms.

Appointments and interactions pick their staff member through autocomplete, which
asks the User admin. Receptionists may book but not browse user accounts, so the
autocomplete lookup from a form they may edit is allowed on its own, and it lists
active staff only.
"""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

User = get_user_model()

# The forms ("app_label.model") whose staff field is an autocomplete.
STAFF_PICKER_SOURCES = frozenset(
    {
        "appointments.appointment",
        "clients.interaction",
        "leads.lead",
        "leads.leadfollowup",
        "scheduling.course",
        "scheduling.group",
    }
)


def is_staff_lookup(request) -> bool:
    match = getattr(request, "resolver_match", None)
    return match is not None and match.url_name == "autocomplete"


class StaffUserAdmin(UserAdmin):
    search_fields = ("username", "first_name", "last_name", "email")

    def _may_pick_staff(self, request) -> bool:
        if not is_staff_lookup(request):
            return False
        app_label = request.GET.get("app_label", "")
        model_name = request.GET.get("model_name", "")
        if f"{app_label}.{model_name}" not in STAFF_PICKER_SOURCES:
            return False
        user = request.user
        return user.has_perm(f"{app_label}.add_{model_name}") or user.has_perm(
            f"{app_label}.change_{model_name}"
        )

    def has_view_permission(self, request, obj=None):
        if super().has_view_permission(request, obj):
            return True
        return obj is None and self._may_pick_staff(request)

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(
            request, queryset, search_term
        )
        if is_staff_lookup(request):
            queryset = queryset.filter(is_staff=True, is_active=True)
        return queryset, may_have_duplicates


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, StaffUserAdmin)
