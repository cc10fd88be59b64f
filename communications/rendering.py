"""Rendering message templates in a sandbox.

Templates are Django template syntax, compiled by a private ``Engine`` with no
loaders (``{% include %}`` and ``{% extends %}`` of files fail) and only the built-in
tags and filters. HTML bodies autoescape; subjects and text bodies do not (an
apostrophe in a name must stay an apostrophe in an SMS).

The variables a template can use:

``recipient_name``  the client's first name, the lead's name, the staff member's name
``client``          the Client (clients.Client), when the recipient is a client
``lead``            the Lead (leads.Lead), when the recipient is a lead
``user``            the staff User, when the recipient is staff
``appointment``     the Appointment the message is about (``about=`` an appointment)
``purchase``, ``package``  the PackagePurchase it is about and its Package
``trial``           the Trial it is about
``about``           whatever object the message is about, under its own name too
``business``        ``name``, ``address``, ``phone``, ``site_url`` (settings CRM_*)
``unsubscribe_url`` the signed link that records an opt-out for this kind of message
...plus every key of the ``context`` the caller passes (e.g. ``body`` for one-off
messages and campaigns, ``follow_up`` for staff reminders).

Not available, however reached (``client.allergies``,
``appointment.client.medical_history``, ``{% for c in client.conditions.all %}``):
a client's medical fields (``clients.selectors.MEDICAL_FIELDS``), emergency contact
and notes, and an appointment's contraindication override and its reason (see
``PRIVATE_FIELDS``). Saving a template that names them is refused
(``check_parts``), and at render time they read as empty, whatever a template
stored earlier says (``guard``).
"""

import datetime as dt
import inspect
import re
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from django.db.models.manager import BaseManager
from django.db.models.query import ModelIterable
from django.template import Context, Engine, TemplateSyntaxError
from django.template.base import Lexer, TokenType
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from clients.selectors import MEDICAL_FIELDS

# Names the ``about`` object is known by in templates, besides its model name.
ABOUT_NAMES = {
    "packagepurchase": "purchase",
}


@cache
def _engine(autoescape: bool) -> Engine:
    return Engine(autoescape=autoescape, debug=False, loaders=[], libraries={})


@dataclass
class Compiled:
    """A template's three parts, compiled once and rendered for many recipients.

    The two ``Context`` objects (plain, autoescaped) are made once and reused for
    every recipient, each render on a fresh layer popped afterwards, so nothing one
    render sets is seen by the next. So one ``Compiled`` serves one thread: make
    one per batch (``compile_template``), never share it between threads.
    """

    subject: object
    body_text: object
    body_html: object | None
    _plain: Context = field(
        default_factory=lambda: Context(autoescape=False), repr=False, compare=False
    )
    _escaped: Context = field(
        default_factory=lambda: Context(autoescape=True), repr=False, compare=False
    )

    def render(self, context: dict, *, language: str) -> tuple[str, str, str]:
        if translation.get_language() == language:
            return self._render(context)
        with translation.override(language):
            return self._render(context)

    def _render(self, context: dict) -> tuple[str, str, str]:
        context = {name: guard(value) for name, value in context.items()}
        with self._plain.update(context):
            subject = self.subject.render(self._plain)
        with self._plain.update(context):
            text = self.body_text.render(self._plain)
        html = ""
        if self.body_html is not None:
            with self._escaped.update(context):
                html = self.body_html.render(self._escaped)
        # A subject is one line, whatever the template's line breaks.
        return " ".join(subject.split())[:255], text.strip(), html.strip()


def compile_parts(subject: str, body_text: str, body_html: str) -> Compiled:
    """Compile; raises ``ValidationError`` naming the part that does not compile."""
    parts, errors = {}, {}
    for name, source, autoescape in (
        ("subject", subject, False),
        ("body_text", body_text, False),
        ("body_html", body_html, True),
    ):
        if name == "body_html" and not source.strip():
            parts[name] = None
            continue
        try:
            parts[name] = _engine(autoescape).from_string(source)
        except TemplateSyntaxError as exc:
            errors[name] = _("This template does not compile: %(error)s") % {
                "error": exc
            }
    if errors:
        raise ValidationError(errors)
    return Compiled(**parts)


def compile_template(template) -> Compiled:
    return compile_parts(template.subject, template.body_text, template.body_html)


# --- what templates never see -------------------------------------------------------

# DESIGN: medical fields and private notes are visible only to those allowed. A
# message has no such reader (it goes to a client, a lead or any staff member, and
# marketers preview it), so templates read none of them. Nor, by the same reasoning:
# the emergency contact, a third person's details kept for a medical emergency; the
# client's notes, public ones included (staff's own notes, never a message's
# business); and an appointment's contraindication override and its reason, which
# say that the client has a condition, and often which.
PRIVATE_FIELDS = {
    "clients.client": (
        *MEDICAL_FIELDS,
        "emergency_contact_name",
        "emergency_contact_phone",
        "client_notes",
    ),
    "appointments.appointment": ("contraindication_override", "override_reason"),
    "auth.user": ("password",),  # the staff member's password hash
}
# Models a template may not see at all.
PRIVATE_MODELS = ("clients.clientnote",)
# The names a template may not use inside {{ }} or {% %}, in any part of a lookup.
PRIVATE_NAMES = frozenset(name for names in PRIVATE_FIELDS.values() for name in names)

_STRING = re.compile(r""""(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'""")
_LOOKUP = re.compile(r"[A-Za-z_]\w*(?:\.\w+)*")


def private_lookups(source: str) -> list[str]:
    """The lookups inside the ``{{ }}`` and ``{% %}`` tags of ``source`` that name
    private data (``client.allergies``, ``appointment.client.medical_history``), in
    order, once each. A quoted string counts when it is a lookup itself
    (``dictsort:"client.allergies"``); the text between tags never counts."""
    found = []
    for token in Lexer(source).tokenize():
        if token.token_type not in (TokenType.VAR, TokenType.BLOCK):
            continue
        lookups = [
            literal[1:-1]
            for literal in _STRING.findall(token.contents)
            if _LOOKUP.fullmatch(literal[1:-1])
        ]
        lookups += _LOOKUP.findall(_STRING.sub(" ", token.contents))
        for lookup in lookups:
            if PRIVATE_NAMES.intersection(lookup.split(".")) and lookup not in found:
                found.append(lookup)
    return found


def check_parts(subject: str, body_text: str, body_html: str) -> Compiled:
    """Compile a template about to be saved. Raises ``ValidationError`` naming, per
    part, what does not compile and the private data it uses (``PRIVATE_FIELDS``)."""
    errors: dict[str, list] = {}
    compiled = None
    try:
        compiled = compile_parts(subject, body_text, body_html)
    except ValidationError as error:
        errors = {name: list(messages) for name, messages in error.message_dict.items()}
    for name, source in (
        ("subject", subject),
        ("body_text", body_text),
        ("body_html", body_html),
    ):
        lookups = private_lookups(source)
        if lookups:
            errors.setdefault(name, []).append(
                _(
                    "Medical and private client data is not available to message "
                    "templates: %(lookups)s."
                )
                % {"lookups": ", ".join(lookups)}
            )
    if errors:
        raise ValidationError(errors)
    return compiled


@cache
def _private() -> tuple[dict[type, frozenset[str]], frozenset[type]]:
    """(private attribute names by concrete model, models private as a whole)."""
    names: dict[type, set[str]] = {}
    models = {apps.get_model(label) for label in PRIVATE_MODELS}
    for label, fields in PRIVATE_FIELDS.items():
        model = apps.get_model(label)
        names.setdefault(model, set()).update(fields)
        for name in fields:
            rel = model._meta.get_field(name)
            if not rel.is_relation or rel.auto_created:
                continue
            # The way back is private too: a condition's clients say who has it.
            if not rel.remote_field.hidden:
                accessor = rel.remote_field.get_accessor_name()
                names.setdefault(rel.related_model, set()).add(accessor)
            if getattr(rel.remote_field, "through", None) is not None:
                models.add(rel.remote_field.through)
    return {m: frozenset(n) for m, n in names.items()}, frozenset(models)


# Plain data, shown as it is: nothing in it leads to a model.
_LEAVES = (str, int, float, Decimal, dt.date, dt.time, dt.timedelta, bytes, uuid.UUID)
_LEAVES += (Promise, type(None))


def _model_of(value) -> type | None:
    if isinstance(value, Model) or (
        isinstance(value, type) and issubclass(value, Model)
    ):
        return value._meta.concrete_model
    if isinstance(value, QuerySet | BaseManager):
        return value.model._meta.concrete_model if value.model else None
    return None


def guard(value):
    """``value`` as a template may see it. Plain data as it is; lists, tuples and
    dicts copied with their items guarded; anything else (a model instance or class,
    a manager, a queryset, a method) behind a proxy that guards whatever is read
    from it in turn, on which the private attributes (``PRIVATE_FIELDS``) read as "".
    A private model (a client note), or a queryset of its rows, is "" itself; so is
    ``.values()`` / ``.values_list()`` of a model with private fields."""
    if isinstance(value, _LEAVES):
        return value
    if isinstance(value, list):
        return [guard(item) for item in value]
    if type(value) is tuple:
        return tuple(guard(item) for item in value)
    if isinstance(value, dict):
        return {key: guard(item) for key, item in value.items()}
    model = _model_of(value)
    if model is not None:
        names, models = _private()
        if model in models:
            return ""
        if (
            isinstance(value, QuerySet)
            and value._iterable_class is not ModelIterable
            and model in names
        ):
            return ""
    return _proxy_class(type(value))(value)


def _unwrap(value):
    return value._obj if isinstance(value, _Proxy) else value


class _Proxy:
    """Stands in for one object in a template; see ``guard``."""

    __slots__ = ("_obj",)

    def __init__(self, obj):
        object.__setattr__(self, "_obj", obj)

    def __getattr__(self, name: str):
        obj = object.__getattribute__(self, "_obj")
        if name in _private()[0].get(_model_of(obj), ()):
            return ""
        return guard(getattr(obj, name))

    def __dir__(self):
        # The template engine asks dir() whether a failed lookup was a property's.
        return dir(self._obj)

    def __str__(self) -> str:
        return str(self._obj)

    def __repr__(self) -> str:
        return repr(self._obj)

    def __format__(self, spec: str) -> str:
        return format(self._obj, spec)

    def __bool__(self) -> bool:
        return bool(self._obj)

    def __eq__(self, other) -> bool:
        return self._obj == _unwrap(other)

    def __hash__(self) -> int:
        return hash(self._obj)

    def __lt__(self, other) -> bool:
        return self._obj < _unwrap(other)

    def __le__(self, other) -> bool:
        return self._obj <= _unwrap(other)

    def __gt__(self, other) -> bool:
        return self._obj > _unwrap(other)

    def __ge__(self, other) -> bool:
        return self._obj >= _unwrap(other)


# What a proxy may do besides, only when its object's type can: the template engine
# tells sequences and callables apart by these methods' presence.
class _Len:
    __slots__ = ()

    def __len__(self) -> int:
        return len(self._obj)


class _Iter:
    __slots__ = ()

    def __iter__(self):
        return (guard(item) for item in self._obj)


class _Contains:
    __slots__ = ()

    def __contains__(self, item) -> bool:
        return _unwrap(item) in self._obj


class _GetItem:
    __slots__ = ()

    def __getitem__(self, key):
        return guard(self._obj[_unwrap(key)])


class _Call:
    __slots__ = ()

    def __call__(self, *args, **kwargs):
        return guard(self._obj(*args, **kwargs))

    @property
    def __signature__(self):
        # The engine binds no arguments to tell "needs arguments" from a real error.
        return inspect.signature(self._obj)


_ABILITIES = (
    ("__len__", _Len),
    ("__iter__", _Iter),
    ("__contains__", _Contains),
    ("__getitem__", _GetItem),
    ("__call__", _Call),
)


@cache
def _proxy_class(kind: type) -> type:
    # Defined by the type itself, not found on it through its metaclass (every class
    # has ``__call__`` that way).
    defined = {name for klass in kind.__mro__ for name in vars(klass)}
    bases = tuple(mixin for name, mixin in _ABILITIES if name in defined)
    return type("Guarded", (*bases, _Proxy), {"__slots__": ()})


def business() -> dict:
    return {
        "name": settings.CRM_BUSINESS_NAME,
        "address": settings.CRM_BUSINESS_ADDRESS,
        "phone": settings.CRM_BUSINESS_PHONE,
        "site_url": settings.CRM_SITE_URL,
    }


def recipient_name(*, client=None, lead=None, user=None) -> str:
    if client is not None:
        return client.first_name
    if lead is not None:
        return (lead.full_name or "").split(" ")[0] if lead.full_name else ""
    if user is not None:
        return user.first_name or user.get_username()
    return ""


def build_context(
    *,
    client=None,
    lead=None,
    user=None,
    about=None,
    unsubscribe_url: str = "",
    extra: dict | None = None,
    business_info: dict | None = None,
) -> dict:
    context = {
        "client": client,
        "lead": lead,
        "user": user,
        "recipient_name": recipient_name(client=client, lead=lead, user=user),
        "business": business_info or business(),
        "unsubscribe_url": unsubscribe_url,
        "about": about,
    }
    if about is not None:
        model_name = about._meta.model_name
        context[model_name] = about
        if model_name in ABOUT_NAMES:
            context[ABOUT_NAMES[model_name]] = about
        if model_name == "packagepurchase":
            context["package"] = getattr(about, "package", None)
    context.update(extra or {})
    return context
