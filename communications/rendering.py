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

Not available, however reached: a client's medical and private data, as
``communications.privacy`` says. Saving a template that names it is refused
(``check_parts``), and at render time it reads as empty, whatever a template stored
earlier says (every context value goes through ``privacy.guard``).
"""

from dataclasses import dataclass, field
from functools import cache

from django.conf import settings
from django.core.exceptions import ValidationError
from django.template import Context, Engine, TemplateSyntaxError
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from .privacy import guard, private_lookups

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


def check_parts(subject: str, body_text: str, body_html: str) -> Compiled:
    """Compile a template about to be saved. Raises ``ValidationError`` naming, per
    part, what does not compile and the private data it uses
    (``privacy.PRIVATE_FIELDS``)."""
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
