"""Which lead field each column holds: headers matched in English and Spanish and in
the real export formats (Meta Leads Center, Google Forms), ignoring case, accents,
spaces and underscores."""

import functools
import re
import unicodedata

from django.utils.translation import gettext_lazy as _

from ..models import Source

# The fields a column can feed. first_name/last_name are joined into full_name;
# "source" and "platform" pick the row's source when the import's is generic.
FIELDS = [
    ("full_name", _("Full name")),
    ("first_name", _("First name")),
    ("last_name", _("Last name")),
    ("phone", _("Phone")),
    ("email", _("Email")),
    ("source", _("Source")),
    ("platform", _("Platform (fb/ig)")),
    ("external_id", _("External id")),
    ("received_at", _("Received at")),
    ("campaign_name", _("Campaign")),
    ("ad_name", _("Ad")),
    ("form_name", _("Form")),
    ("utm_source", "utm_source"),
    ("utm_medium", "utm_medium"),
    ("utm_campaign", "utm_campaign"),
    ("utm_term", "utm_term"),
    ("utm_content", "utm_content"),
    ("notes", _("Notes")),
]
FIELD_NAMES = frozenset(name for name, _label in FIELDS)

_ALIASES = {
    "full_name": [
        "full_name",
        "name",
        "fullname",
        "nombre",
        "nombre completo",
        "nombre y apellido",
        "nombre y apellidos",
        "client",
        "cliente",
        "contact",
        "contacto",
    ],
    "first_name": [
        "first_name",
        "first name",
        "given name",
        "nombres",
        "primer nombre",
    ],
    "last_name": [
        "last_name",
        "last name",
        "surname",
        "family name",
        "apellido",
        "apellidos",
    ],
    "phone": [
        "phone",
        "phone_number",
        "phone number",
        "telephone",
        "mobile",
        "cell",
        "whatsapp",
        "telefono",
        "numero de telefono",
        "celular",
        "movil",
        "telefono movil",
        "numero",
        "numero de celular",
        "tel",
    ],
    "email": [
        "email",
        "e-mail",
        "email address",
        "mail",
        "correo",
        "correo electronico",
        "direccion de correo electronico",
        "direccion de correo",
        "emailaddress",
    ],
    "source": ["source", "fuente", "origen", "canal", "channel", "lead source"],
    "platform": ["platform", "plataforma"],
    "external_id": ["id", "lead id", "lead_id", "external id", "id del lead"],
    "received_at": [
        "created_time",
        "created time",
        "created",
        "timestamp",
        "marca temporal",
        "date",
        "fecha",
        "fecha de creacion",
        "received",
        "submitted at",
    ],
    "campaign_name": ["campaign_name", "campaign", "campana", "nombre de campana"],
    "ad_name": ["ad_name", "ad", "anuncio", "nombre del anuncio"],
    "form_name": ["form_name", "form", "formulario", "nombre del formulario"],
    "utm_source": ["utm_source"],
    "utm_medium": ["utm_medium"],
    "utm_campaign": ["utm_campaign"],
    "utm_term": ["utm_term"],
    "utm_content": ["utm_content"],
    "notes": [
        "notes",
        "note",
        "notas",
        "nota",
        "comments",
        "comment",
        "comentarios",
        "comentario",
        "message",
        "mensaje",
        "observaciones",
    ],
}


def header_key(header: str) -> str:
    """Lower case, no accents, no spaces/underscores/punctuation."""
    text = unicodedata.normalize("NFKD", str(header or "")).lower()
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return re.sub(r"[^a-z0-9]", "", text)


_LOOKUP = {
    header_key(alias): field for field, aliases in _ALIASES.items() for alias in aliases
}


def guess_mapping(headers: list[str]) -> dict[str, str]:
    """{header: field or ""}; a field is taken by its first matching column."""
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for header in headers:
        field = _LOOKUP.get(header_key(header), "")
        if not field:
            key = header_key(header)
            # "Phone number (mobile)", "Teléfono de contacto", "Tu correo"...
            if "telefono" in key or "phone" in key or "celular" in key:
                field = "phone"
            elif "correo" in key or "email" in key:
                field = "email"
        if field in taken:
            field = ""
        if field:
            taken.add(field)
        mapping.setdefault(header, field)
    return mapping


def clean_mapping(headers: list[str], mapping: dict | None) -> dict[str, str]:
    """The staff's mapping checked against the headers; unknown fields ignored."""
    if mapping is None:
        return guess_mapping(headers)
    return {
        header: (mapping.get(header) or "")
        if (mapping.get(header) or "") in FIELD_NAMES
        else ""
        for header in headers
    }


def column_indexes(headers: list[str], mapping: dict[str, str]) -> dict[str, int]:
    """{field: index of its first column}."""
    indexes: dict[str, int] = {}
    for index, header in enumerate(headers):
        field = mapping.get(header, "")
        if field and field not in indexes:
            indexes[field] = index
    return indexes


# Row values of a "Fuente"/"platform" column, as Source choices.
_SOURCE_ALIASES = {
    "fb": Source.FACEBOOK,
    "facebook": Source.FACEBOOK,
    "ig": Source.INSTAGRAM,
    "instagram": Source.INSTAGRAM,
    "insta": Source.INSTAGRAM,
    "telegram": Source.TELEGRAM,
    "whatsapp": Source.WHATSAPP,
    "wa": Source.WHATSAPP,
    "referral": Source.REFERRAL,
    "referido": Source.REFERRAL,
    "recomendacion": Source.REFERRAL,
    "walkin": Source.WALK_IN,
    "presencial": Source.WALK_IN,
    "landing": Source.LANDING_PAGE,
    "landingpage": Source.LANDING_PAGE,
    "web": Source.LANDING_PAGE,
    "website": Source.LANDING_PAGE,
    "paginaweb": Source.LANDING_PAGE,
    "calltracking": Source.CALL_TRACKING,
    "llamada": Source.CALL_TRACKING,
    "googlesheets": Source.GOOGLE_SHEETS,
    "excel": Source.EXCEL,
    "csv": Source.CSV,
    "other": Source.OTHER,
    "otro": Source.OTHER,
}
# An import whose source is one of these lets the row say where the lead came from.
GENERIC_SOURCES = frozenset(
    {Source.OTHER, Source.CSV, Source.EXCEL, Source.GOOGLE_SHEETS}
)


@functools.lru_cache(maxsize=1024)
def _row_source(text: str) -> str | None:
    return _SOURCE_ALIASES.get(header_key(text))


def row_source(value) -> str | None:
    if value is None or value == "":
        return None
    return _row_source(str(value))
