"""Helpers for the admin tests: URLs, the filters of a changelist, and the POST data
that resubmits a rendered admin form. Imported by the apps' ``tests/test_admin.py``.
"""

import datetime as dt

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
