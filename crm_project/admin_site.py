from django.contrib import admin
from django.utils.translation import gettext_lazy as _


class CrmAdminSite(admin.AdminSite):
    """The admin, with the front desk's day on its index page."""

    site_header = _("Studio CRM")
    site_title = _("Studio CRM")
    index_template = "admin/crm_index.html"

    def index(self, request, extra_context=None):
        from .dashboard import dashboard_context

        context = {**dashboard_context(request), **(extra_context or {})}
        return super().index(request, extra_context=context)
