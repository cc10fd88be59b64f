"""Reading import files: CSV (encoding and delimiter detected), XLSX (python-calamine)
and Google Sheets (fetched as CSV from its export URL). Rows are streamed."""

import codecs
import csv
import hashlib
import re
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

XLSX_MAGIC = b"PK\x03\x04"
DELIMITERS = (",", ";", "\t", "|")
_SHEET_ID = re.compile(r"/spreadsheets/d/([A-Za-z0-9_-]+)")
_READ_BLOCK = 1 << 20


class ImportFileError(ValidationError):
    """The file (or sheet) cannot be imported; the message says why."""


def max_bytes() -> int:
    return settings.LEADS_IMPORT_MAX_BYTES


@dataclass
class Table:
    """An opened file: what was detected, its headers, and a way to stream rows."""

    path: Path
    format: str  # "csv" or "xlsx"
    encoding: str
    delimiter: str
    headers: list[str]
    _sheet: object = field(default=None, repr=False)

    def sheet(self):
        """The XLSX sheet, read once for the header, the count and the rows."""
        if self._sheet is None:
            self._sheet = _xlsx_sheet(self.path)
        return self._sheet

    def rows(self) -> Iterator[list]:
        """Data rows (after the header), fully blank rows skipped."""
        rows = _raw_rows(self)
        next(rows, None)
        for row in rows:
            if any(cell not in (None, "") for cell in row):
                yield row

    def count_rows(self) -> int:
        """About how many data rows, for the progress bar (blank rows may count)."""
        if self.format == "xlsx":
            return max(0, self.sheet().height - 1)
        # Rows of only delimiters count here but are skipped later; the import
        # sets the exact figure when it ends.
        rows = _csv_rows(self.path, self.encoding, self.delimiter)
        return max(0, sum(1 for row in rows if row) - 1)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(_READ_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def open_table(path: Path) -> Table:
    """Detect the format, encoding and delimiter of ``path`` and read its header."""
    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        raise ImportFileError(_("The file is empty."))
    if size > max_bytes():
        raise ImportFileError(
            _("The file is too large (%(size)s MB; the limit is %(limit)s MB).")
            % {"size": round(size / 1e6, 1), "limit": round(max_bytes() / 1e6, 1)}
        )
    with open(path, "rb") as handle:
        head = handle.read(4096)
    if head.startswith(XLSX_MAGIC):
        table = Table(path, "xlsx", "", "", [])
    else:
        encoding = detect_encoding(path, head)
        delimiter = detect_delimiter(path, encoding)
        table = Table(path, "csv", encoding, delimiter, [])
    try:
        first = next(
            (r for r in _raw_rows(table) if any(str(c or "").strip() for c in r)),
            None,
        )
    except (csv.Error, UnicodeError, ValueError) as exc:
        raise ImportFileError(
            _("The file cannot be read: %(error)s") % {"error": exc}
        ) from exc
    except Exception as exc:  # calamine raises its own error types
        raise ImportFileError(
            _("The file is not a readable CSV or Excel (XLSX) file: %(error)s")
            % {"error": exc}
        ) from exc
    if first is None:
        raise ImportFileError(_("The file has no rows."))
    table.headers = [str(cell if cell is not None else "").strip() for cell in first]
    return table


def _raw_rows(table: Table) -> Iterator[list]:
    if table.format == "xlsx":
        return iter(table.sheet().iter_rows())
    return _csv_rows(table.path, table.encoding, table.delimiter)


def detect_encoding(path: Path, head: bytes) -> str:
    """UTF-16 (Meta's lead download), UTF-8 with or without BOM, or Windows-1252."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if head.startswith(codecs.BOM_UTF8):
        candidates = ["utf-8-sig"]
    else:
        sample = head[:2000]
        if sample and sample.count(b"\x00") > len(sample) // 4:
            # UTF-16 without a byte-order mark: ASCII text has a NUL every other byte.
            return "utf-16-le" if sample[1:2] == b"\x00" else "utf-16-be"
        if b"\x00" in head:
            raise ImportFileError(_("This is not a text (CSV) or Excel (XLSX) file."))
        candidates = ["utf-8", "cp1252"]
    for encoding in candidates:
        if _decodes(path, encoding):
            return encoding
    raise ImportFileError(
        _(
            "The file's text encoding cannot be read (not UTF-8, UTF-16 or "
            "Windows-1252). Save it as “CSV UTF-8” and try again."
        )
    )


def _decodes(path: Path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with open(path, "rb") as handle:
            while block := handle.read(_READ_BLOCK):
                decoder.decode(block)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def detect_delimiter(path: Path, encoding: str) -> str:
    with open(path, encoding=encoding, newline="") as handle:
        sample = handle.read(20000)
    lines = [line for line in sample.splitlines() if line.strip()][:5]
    if not lines:
        return ","
    header = re.sub(r'"[^"]*"', "", lines[0])
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _csv_rows(path: Path, encoding: str, delimiter: str) -> Iterator[list[str]]:
    # A hostile cell may be long; the file size limit bounds it anyway.
    csv.field_size_limit(max(csv.field_size_limit(), max_bytes()))
    with open(path, encoding=encoding, newline="") as handle:
        yield from csv.reader(handle, delimiter=delimiter)


def _xlsx_sheet(path: Path):
    """The first sheet, read by calamine (Rust): its cells stay in compact Rust
    memory and rows are handed to Python one at a time."""
    from python_calamine import CalamineWorkbook

    return CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0)


# --- Google Sheets ------------------------------------------------------------------


def is_google_sheet_url(url: str) -> bool:
    parts = urlsplit(url or "")
    return (
        parts.scheme == "https"
        and parts.netloc == "docs.google.com"
        and bool(_SHEET_ID.search(parts.path))
    )


def sheet_export_url(url: str) -> str:
    """A Google Sheets share link as its CSV export URL (same sheet tab)."""
    parts = urlsplit((url or "").strip())
    match = _SHEET_ID.search(parts.path)
    if parts.netloc != "docs.google.com" or not match:
        raise ImportFileError(
            _("This is not a Google Sheets link (https://docs.google.com/...).")
        )
    gid = "0"
    for chunk in (parts.fragment, parts.query):
        found = parse_qs(chunk).get("gid")
        if found and found[0].isdigit():
            gid = found[0]
            break
    return (
        f"https://docs.google.com/spreadsheets/d/{match.group(1)}"
        f"/export?format=csv&gid={gid}"
    )


def fetch_csv(url: str, *, timeout: float | None = None) -> Path:
    """Download ``url`` (any http(s) URL) to a temporary file and return its path.

    Raises ImportFileError when it is unreachable, not public (a login page,
    401/403/404) or too large. The caller deletes the file.
    """
    if urlsplit(url).scheme not in ("http", "https"):
        raise ImportFileError(_("Only http(s) links can be imported."))
    timeout = timeout or settings.LEADS_IMPORT_FETCH_TIMEOUT
    request = urllib.request.Request(  # noqa: S310 (scheme checked above)
        url, headers={"User-Agent": "studio-crm lead import"}
    )
    not_public = _(
        "The sheet is not public. In Google Sheets choose Share → General access → "
        "“Anyone with the link”, then try again."
    )
    try:
        response = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403, 404):
            raise ImportFileError(not_public) from exc
        raise ImportFileError(
            _("The sheet could not be fetched (HTTP %(code)s).") % {"code": exc.code}
        ) from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise ImportFileError(
            _("The sheet is unreachable: %(error)s")
            % {"error": getattr(exc, "reason", exc)}
        ) from exc
    with response:
        content_type = response.headers.get("Content-Type", "")
        handle = tempfile.NamedTemporaryFile(suffix=".csv", delete=False)
        try:
            with handle:
                first = response.read(2048)
                if "html" in content_type or first.lstrip()[:15].lower().startswith(
                    (b"<!doctype html", b"<html")
                ):
                    raise ImportFileError(not_public)
                handle.write(first)
                copied = len(first)
                while block := response.read(_READ_BLOCK):
                    copied += len(block)
                    if copied > max_bytes():
                        raise ImportFileError(_("The sheet is too large to import."))
                    handle.write(block)
        except ImportFileError:
            Path(handle.name).unlink(missing_ok=True)
            raise
        except (OSError, TimeoutError) as exc:
            Path(handle.name).unlink(missing_ok=True)
            raise ImportFileError(
                _("The sheet is unreachable: %(error)s") % {"error": exc}
            ) from exc
    return Path(handle.name)


def copy_to_temp(upload) -> Path:
    """An uploaded file (Django UploadedFile or file object) as a temporary path."""
    suffix = Path(getattr(upload, "name", "") or "upload").suffix[:10]
    with tempfile.NamedTemporaryFile(suffix=suffix, delete=False) as handle:
        if hasattr(upload, "chunks"):
            if hasattr(upload, "seek"):
                upload.seek(0)
            for chunk in upload.chunks():
                handle.write(chunk)
        else:
            shutil.copyfileobj(upload, handle)
    return Path(handle.name)
