"""What message templates never see: medical and private client data.

Not available, however reached (``client.allergies``,
``appointment.client.medical_history``, ``{% for c in client.conditions.all %}``):
a client's medical fields (``clients.selectors.MEDICAL_FIELDS``), emergency contact
and notes, an appointment's contraindication override and its reason, and a staff
member's password hash (see ``PRIVATE_FIELDS``). Saving a template that names them
is refused (``private_lookups``, which ``rendering.check_parts`` calls), and at
render time they read as empty, whatever a template stored earlier says (``guard``,
which ``rendering.Compiled`` applies to every context value).
"""

import datetime as dt
import inspect
import re
import uuid
from decimal import Decimal
from functools import cache

from django.apps import apps
from django.db.models import Model, QuerySet
from django.db.models.manager import BaseManager
from django.db.models.query import ModelIterable
from django.template.base import Lexer, TokenType
from django.utils.functional import Promise

from clients.selectors import MEDICAL_FIELDS

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
