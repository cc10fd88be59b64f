"""The trial funnel report: a date range, then the funnel by source and by
salesperson (trials.selectors), with KPI-coloured percents."""

from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .. import selectors
from ..forms import FunnelForm
from .common import sees_all_trials


class FunnelViewMixin:
    """The funnel page of the trial admin (``admin:trials_trial_funnel``)."""

    def funnel_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        start, end = FunnelForm.default_range()
        form = FunnelForm(request.GET or None, initial={"start": start, "end": end})
        if form.is_bound and form.is_valid():
            start, end = form.cleaned_data["start"], form.cleaned_data["end"]
        own = None if sees_all_trials(request.user) else request.user
        tables = []
        if not form.is_bound or form.is_valid():
            tables = [
                (
                    _("By source"),
                    selectors.funnel_by_source(start, end, salesperson=own),
                ),
                (
                    _("By salesperson"),
                    selectors.funnel_by_salesperson(start, end, salesperson=own),
                ),
            ]
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Trial funnel"),
            "opts": self.model._meta,
            "form": form,
            "start": start,
            "end": end,
            "tables": tables,
            "percent_labels": selectors.PERCENT_LABELS,
            "own_only": own is not None,
            "changelist_url": reverse("admin:trials_trial_changelist"),
        }
        return TemplateResponse(request, "admin/trials/funnel.html", context)
