"""Builders for the real import formats, written by the tests themselves."""

import csv
import io
from pathlib import Path

META_HEADERS = [
    "id",
    "created_time",
    "ad_id",
    "ad_name",
    "adset_id",
    "adset_name",
    "campaign_id",
    "campaign_name",
    "form_id",
    "form_name",
    "is_organic",
    "platform",
    "full_name",
    "phone_number",
    "email",
]


def csv_text(rows: list[list], *, delimiter: str = ",") -> str:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


def write_csv(
    path: Path, rows: list[list], *, encoding: str = "utf-8", delimiter: str = ","
) -> Path:
    path.write_bytes(csv_text(rows, delimiter=delimiter).encode(encoding))
    return path


def meta_leads(path: Path, leads: list[dict]) -> Path:
    """Meta Leads Center download: UTF-16 (with BOM), tab-separated, l:/p: prefixes."""
    rows = [META_HEADERS]
    for number, lead in enumerate(leads, start=1):
        rows.append(
            [
                lead.get("id", f"l:{900000 + number}"),
                lead.get("created_time", "2024-05-01T10:15:00+0000"),
                "ag:120201",
                lead.get("ad_name", "Cryo promo"),
                "as:1",
                "Adset A",
                "c:1",
                lead.get("campaign_name", "Spring"),
                "f:1",
                lead.get("form_name", "Trial form"),
                "false",
                lead.get("platform", "ig"),
                lead.get("full_name", ""),
                lead.get("phone_number", ""),
                lead.get("email", ""),
            ]
        )
    return write_csv(path, rows, encoding="utf-16", delimiter="\t")


GOOGLE_FORMS_ES = [
    "Marca temporal",
    "Nombre completo",
    "Dirección de correo electrónico",
    "Número de teléfono",
]
GOOGLE_FORMS_EN = ["Timestamp", "Full name", "Email address", "Phone number"]


def google_forms(path: Path, rows: list[list], *, spanish: bool = True) -> Path:
    headers = GOOGLE_FORMS_ES if spanish else GOOGLE_FORMS_EN
    return write_csv(path, [headers, *rows])


def semicolon_es(path: Path, rows: list[list], *, encoding: str = "utf-8") -> Path:
    """Nombre;Teléfono;Correo;Fuente as Spanish Excel saves it."""
    return write_csv(
        path,
        [["Nombre", "Teléfono", "Correo", "Fuente"], *rows],
        encoding=encoding,
        delimiter=";",
    )


def xlsx(path: Path, rows: list[list]) -> Path:
    """An XLSX written with openpyxl; numbers stay numeric cells."""
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path
