"""Pieces the app admins share: badges, client search, links, service errors.

Presentation only: nothing here changes data. The rules live in each app's services.
"""

import re
from collections import Counter
from collections.abc import Iterable

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.db.models import Q, QuerySet
from django.db.models.functions import Lower
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from crm_project.phones import normalize_phone

# Digits with the punctuation people type in phone numbers; six digits at least, so
# that a short number or a year is not mistaken for a phone.
PHONE_LIKE = re.compile(r"^\+?[\d\s().\-]+$")
MIN_PHONE_DIGITS = 6
# A name search through a relation looks the clients up first when they are at most
# this many (see search_clients).
MAX_NAME_MATCHES = 500


def looks_like_phone(term: str) -> bool:
    term = term.strip()
    digits = sum(ch.isdigit() for ch in term)
    return bool(PHONE_LIKE.match(term)) and digits >= MIN_PHONE_DIGITS


def search_by_contact(
    queryset: QuerySet, term: str, *, prefix: str = ""
) -> QuerySet | None:
    """The phone and email part of a search, for any model with ``phone`` (E.164)
    and ``email`` fields behind unique indexes (clients, leads).

    - a valid phone in any format: ``phone = <E.164>``, an exact index match;
    - an email: ``lower(email) = <term>``, the expression of the functional unique
      index (``iexact`` would compile to ``UPPER()`` and miss it); ``email <> ''``
      repeats the index's condition so PostgreSQL may use the partial index.

    None when ``term`` is neither (a phone-like term that is not a valid number
    included): the caller decides what else the term may be.
    """
    term = (term or "").strip()
    if looks_like_phone(term):
        phone = normalize_phone(term)
        if phone:
            return queryset.filter(**{f"{prefix}phone": phone})
        return None
    if "@" in term:
        return (
            queryset.annotate(_search_email=Lower(f"{prefix}email"))
            .filter(_search_email=term.lower())
            .exclude(**{f"{prefix}email": ""})
        )
    return None


def search_clients(
    queryset: QuerySet,
    term: str,
    *,
    prefix: str = "",
    text_fields: Iterable[str] = (),
) -> QuerySet:
    """Filter ``queryset`` by a client search term, in a way the indexes can serve.

    ``prefix`` reaches the client from the queryset's model (``"client__"``).

    - a phone (``(415) 555-0101``, ``+1 415 555 0101``): ``phone = <E.164>``, an exact
      match on the unique index; a phone-like term that is not a valid number can only
      be a referral code;
    - an email: ``lower(email) = <term>``, the expression of the functional unique
      index (``iexact`` would compile to ``UPPER()`` and miss it); ``email <> ''``
      repeats the index's condition so PostgreSQL may use the partial index;
    - otherwise every word must be in the first or last name (or ``text_fields``),
      or be a referral code.
    """
    term = (term or "").strip()
    if not term:
        return queryset
    found = search_by_contact(queryset, term, prefix=prefix)
    if found is not None:
        return found
    if looks_like_phone(term):
        code = re.sub(r"\D", "", term)
        return queryset.filter(**{f"{prefix}referral_code": code})
    words = term.split()
    if prefix and not text_fields:
        # A name matches a handful of clients: find them once, then the list's
        # count, page and date queries each take the client index instead of
        # repeating the name scan through a join.
        from clients.models import Client

        ids = list(
            Client.objects.filter(_name_condition(words, ""))
            .order_by()
            .values_list("pk", flat=True)[: MAX_NAME_MATCHES + 1]
        )
        if len(ids) <= MAX_NAME_MATCHES:
            return queryset.filter(**{f"{prefix}pk__in": ids})
    return queryset.filter(_name_condition(words, prefix, text_fields))


def _name_condition(words, prefix: str, text_fields: Iterable[str] = ()) -> Q:
    """Every word in the first or last name, a text field, or the referral code."""
    condition = Q()
    for word in words:
        either = (
            Q(**{f"{prefix}first_name__icontains": word})
            | Q(**{f"{prefix}last_name__icontains": word})
            | Q(**{f"{prefix}referral_code": word.upper()})
        )
        for field in text_fields:
            either |= Q(**{f"{field}__icontains": word})
        condition &= either
    return condition


class ClientSearchMixin:
    """``get_search_results`` through :func:`search_clients`.

    ``search_fields`` stays set (the changelist shows the search box only with it, and
    autocomplete needs it) but only documents what the search looks at.
    """

    client_search_prefix = ""
    client_search_text_fields: tuple[str, ...] = ()

    def get_search_results(self, request, queryset, search_term):
        queryset = search_clients(
            queryset,
            search_term,
            prefix=self.client_search_prefix,
            text_fields=self.client_search_text_fields,
        )
        return queryset, False


def status_badge(value: str, label) -> str:
    """A coloured badge for an appointment or purchase status (admin.css)."""
    return format_html(
        '<span class="badge crm-status crm-status-{}">{}</span>', value, label
    )


def stage_badge(value: str, label) -> str:
    """A coloured badge for a client's lifecycle stage (admin.css)."""
    return format_html(
        '<span class="badge crm-status crm-stage-{}">{}</span>', value, label
    )


def admin_link(obj, text=None) -> str:
    """A link to ``obj``'s admin change page, or an em dash for None."""
    if obj is None:
        return "—"
    opts = obj._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, obj if text is None else text)


def copy_saved(source, target) -> None:
    """Make ``target`` (the admin form's unsaved instance) the row a service saved.

    The admin goes on with the instance it passed to ``save_model``: it logs it,
    saves its relations and redirects to its page, so it must carry the new row.
    """
    for field in source._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))
    target._state.adding = False
    target._state.db = source._state.db


class RecentRowsFormSet(BaseInlineFormSet):
    """An inline formset over the first ``max_rows`` rows of the inline's ordering.

    A regular client has hundreds of appointments; the tab shows the latest and a
    link leads to the full, filtered list.
    """

    max_rows: int | None = 20

    def get_queryset(self):
        if not hasattr(self, "_queryset"):
            queryset = super().get_queryset()
            if self.max_rows is not None:
                queryset = queryset[: self.max_rows]
            self._queryset = queryset
        return self._queryset


class ReadOnlyInlineMixin:
    """An inline that only shows rows; they change on their own pages."""

    extra = 0
    max_num = 0
    can_delete = False
    formset = RecentRowsFormSet
    max_rows: int | None = 20

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.max_rows = self.max_rows  # a new class per call: safe to set
        return formset

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def report_skipped(model_admin, request, skipped: Counter) -> None:
    """One warning per reason: "2 skipped: cannot go from Cancelled to Completed"."""
    for reason, count in skipped.most_common():
        model_admin.message_user(
            request,
            ngettext(
                "%(count)d skipped: %(reason)s",
                "%(count)d skipped: %(reason)s",
                count,
            )
            % {"count": count, "reason": reason},
            messages.WARNING,
        )


def error_messages(exc: Exception) -> list[str]:
    if isinstance(exc, ValidationError):
        return list(exc.messages)
    return [str(exc)]


class ServiceErrorsAsMessagesMixin:
    """Turn an error a service raises while the admin saves into a message.

    The form validates what it can; what it cannot see (another receptionist took the
    last session a moment ago) surfaces as one of ``service_errors`` from inside the
    admin's transaction. The transaction has rolled back by the time it reaches here,
    so the user gets the reason and the page again instead of a server error.
    """

    service_errors: tuple[type[Exception], ...] = (ValidationError,)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except self.service_errors as exc:
            if isinstance(exc, IntegrityError):
                reasons = [
                    _(
                        "The change conflicts with a record saved a moment ago "
                        "(for example the same phone or email). Nothing was saved; "
                        "check and try again."
                    )
                ]
            else:
                reasons = error_messages(exc)
            for reason in reasons:
                self.message_user(request, reason, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


class StaffFilter(admin.RelatedFieldListFilter):
    """A user filter listing staff members only, not every user account."""

    def field_choices(self, field, request, model_admin):
        ordering = self.field_admin_ordering(field, request, model_admin)
        return field.get_choices(
            include_blank=False,
            ordering=ordering,
            limit_choices_to={"is_staff": True},
        )


class StatusHistoryInline(ReadOnlyInlineMixin, admin.TabularInline):
    """The read-only trail of a StatusHistory model, newest first, every row."""

    verbose_name_plural = gettext_lazy("status history")
    fields = ["changed_at", "from_badge", "to_badge", "changed_by", "note"]
    readonly_fields = fields
    max_rows = None

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("changed_by")
            .order_by("-changed_at", "-id")
        )

    def render_badge(self, value: str, label) -> str:
        return status_badge(value, label)

    @admin.display(description=gettext_lazy("from"))
    def from_badge(self, obj):
        if not obj.from_status:
            return "—"
        return self.render_badge(obj.from_status, obj.get_from_status_display())

    @admin.display(description=gettext_lazy("to"))
    def to_badge(self, obj):
        return self.render_badge(obj.to_status, obj.get_to_status_display())
