"""Helpers for the admin tests: URLs, the filters of a changelist, and the POST data
that resubmits a rendered admin form. Imported by the apps' ``tests/test_admin.py``.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib.admin.widgets import RelatedFieldWidgetWrapper
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.urls import reverse

from clients.tests.factories import UserFactory


def changelist_url(model) -> str:
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")


def add_url(model) -> str:
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_add")


def change_url(obj) -> str:
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])


def filter_urls(response) -> list[str]:
    """Every choice of every list filter on a rendered changelist, as a URL."""
    changelist = response.context["cl"]
    base = response.wsgi_request.path
    urls = []
    for spec in changelist.filter_specs:
        for choice in spec.choices(changelist):
            query = choice.get("query_string")
            if query and query != "?":
                urls.append(f"{base}{query}")
    return urls


def result_pks(response) -> set:
    return {obj.pk for obj in response.context["cl"].result_list}


def staff_user(*perms: str, **fields):
    """A staff user holding ``perms`` ("app_label.codename")."""
    user = UserFactory(**fields)
    for dotted in perms:
        app_label, codename = dotted.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user


def _field_data(form, name, field) -> dict:
    bound = form[name]
    key = bound.html_name
    value = bound.value()
    widget = field.widget
    if isinstance(widget, RelatedFieldWidgetWrapper):
        widget = widget.widget
    if field.disabled or isinstance(field, forms.FileField):
        return {}
    if isinstance(widget, forms.MultiWidget):
        parts = value if isinstance(value, list | tuple) else widget.decompress(value)
        return {f"{key}_{i}": _text(part) for i, part in enumerate(parts)}
    if isinstance(field, forms.BooleanField):
        return {key: "on"} if value else {}
    if isinstance(field, forms.ModelMultipleChoiceField):
        return {key: [str(getattr(v, "pk", v)) for v in value or []]}
    return {key: _text(value)}


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.time):
        return value.strftime("%H:%M:%S")
    if hasattr(value, "pk"):
        return str(value.pk)
    return str(value)


def form_data(response, **overrides) -> dict:
    """POST data that submits the admin change/add form as it was rendered.

    ``overrides`` replace single fields (``status="completed"``,
    ``start_at_0="2030-01-02"``); a value of None drops the key.
    """
    data: dict = {}
    form = response.context["adminform"].form
    for name, field in form.fields.items():
        data.update(_field_data(form, name, field))
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = _text(management[name].value())
        for inline_form in formset.initial_forms:
            for name, field in inline_form.fields.items():
                data.update(_field_data(inline_form, name, field))
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def messages_of(response) -> list[str]:
    """The messages the request queued (message_user), whatever the response."""
    return [str(m) for m in get_messages(response.wsgi_request)]


@dataclass(frozen=True)
class ChangelistCase:
    """One ModelAdmin's smoke test: how to make its rows and what a search finds.

    ``make(i)`` creates row i; searching ``term`` must find exactly row ``found``;
    ``budget`` is the page's query budget (on PostgreSQL; SQLite runs one fewer on the
    big lists, whose paginator first reads PostgreSQL's row estimate). ``others_listed``
    allows rows the makers create besides their own (a client's referrer, say).
    """

    model: type
    make: Callable[[int], Any]
    term: str
    found: int
    budget: int
    has_add_page: bool = True
    others_listed: bool = False


def check_changelist_pages(admin_client, case: ChangelistCase) -> None:
    """The changelist, a search, every filter choice, the add and change pages."""
    rows = [case.make(i) for i in range(5)]

    response = admin_client.get(changelist_url(case.model))
    assert response.status_code == 200
    listed = result_pks(response)
    wanted = {row.pk for row in rows}
    assert wanted <= listed if case.others_listed else wanted == listed

    found = admin_client.get(changelist_url(case.model), {"q": case.term})
    assert found.status_code == 200
    assert result_pks(found) == {rows[case.found].pk}

    for url in filter_urls(response):
        assert admin_client.get(url).status_code == 200, url
    if case.has_add_page:
        assert admin_client.get(add_url(case.model)).status_code == 200
    assert admin_client.get(change_url(rows[0])).status_code == 200


def check_query_budget(
    admin_client, assert_max_num_queries, case: ChangelistCase, rows: int
) -> None:
    """The changelist stays within the case's budget with ``rows`` rows."""
    for i in range(rows):
        case.make(i)

    with assert_max_num_queries(case.budget):
        response = admin_client.get(changelist_url(case.model))

    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == min(rows, 50)
