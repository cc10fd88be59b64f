"""Lead imports: formats, column matching, de-duplication, the report, revert,
round-robin, Google Sheets and concurrency."""

import csv
import datetime as dt
import http.server
import socket
import threading
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone

from leads.importing import (
    ImportFileError,
    create_import_log,
    fetch_csv,
    inspect_source,
    report_rows,
    revert_import,
    run_import,
    sheet_export_url,
    start_import,
)
from leads.importing.columns import guess_mapping
from leads.models import (
    ImportLog,
    Lead,
    LeadFollowUp,
    LeadStatus,
    LeadStatusHistory,
    RoundRobinCursor,
)
from leads.services import (
    change_lead_status,
    complete_follow_up,
    process_follow_ups,
    schedule_follow_up,
)

from . import formats
from .factories import LeadFactory, SalespersonFactory

HOUR = dt.timedelta(hours=1)

pytestmark = pytest.mark.django_db


def do_import(path, *, source="other", mapping=None, assign="none", by=None):
    log = create_import_log(
        path=path, source=source, mapping=mapping, assign=assign, by=by
    )
    return run_import(log.pk)


def report_of(log) -> list[dict]:
    rows = list(report_rows(log))
    header, body = rows[0], rows[1:]
    return [dict(zip(header, row, strict=True)) for row in body]


# --- formats ------------------------------------------------------------------------


def test_meta_utf16_tsv_with_prefixes_is_imported(tmp_path):
    path = formats.meta_leads(
        tmp_path / "meta.csv",
        [
            {
                "full_name": "Ana Pérez",
                "phone_number": "p:+56961234567",
                "email": "ANA@example.com",
                "platform": "ig",
                "id": "l:111",
            },
            {
                "full_name": "Luis Soto",
                "phone_number": "p:+56987654321",
                "email": "luis@example.com",
                "platform": "fb",
                "id": "l:222",
            },
        ],
    )
    preview = inspect_source(path=path, source="other")
    assert (preview.format, preview.encoding, preview.delimiter) == (
        "csv",
        "utf-16",
        "\t",
    )
    assert preview.mapping["phone_number"] == "phone"
    assert preview.mapping["id"] == "external_id"
    assert preview.expected["created"] == 2

    log = do_import(path)

    assert log.status == ImportLog.Status.DONE
    assert log.created_count == 2
    ana = Lead.objects.get(phone="+56961234567")
    assert ana.email == "ana@example.com"
    assert ana.external_id == "111"
    assert ana.source == "instagram"
    assert ana.campaign_name == "Spring"
    assert ana.received_at.isoformat().startswith("2024-05-01T10:15:00")
    assert ana.import_log == log
    assert Lead.objects.get(phone="+56987654321").source == "facebook"


def test_platform_does_not_override_a_specific_source(tmp_path):
    path = formats.meta_leads(
        tmp_path / "meta.csv",
        [{"phone_number": "p:+56961234567", "platform": "ig"}],
    )
    do_import(path, source="landing_page")
    assert Lead.objects.get().source == "landing_page"


def test_utf8_bom_csv(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(
        formats.csv_text(
            [["Name", "Phone", "Email"], ["Zoë", "6465550100", ""]]
        ).encode("utf-8-sig")
    )
    preview = inspect_source(path=path, source="csv")
    assert preview.encoding == "utf-8-sig"
    assert preview.headers == ["Name", "Phone", "Email"]
    do_import(path, source="csv")
    assert Lead.objects.get().full_name == "Zoë"


def test_windows_1252_semicolon_spanish_headers(tmp_path):
    path = formats.semicolon_es(
        tmp_path / "es.csv",
        [
            ["José Muñoz", "646 555 0101", "jose@example.com", "Instagram"],
            ["María Núñez", "", "maria@example.com", "referido"],
        ],
        encoding="cp1252",
    )
    preview = inspect_source(path=path, source="other")
    assert (preview.encoding, preview.delimiter) == ("cp1252", ";")
    assert preview.mapping == {
        "Nombre": "full_name",
        "Teléfono": "phone",
        "Correo": "email",
        "Fuente": "source",
    }
    do_import(path)
    jose = Lead.objects.get(email="jose@example.com")
    assert (jose.full_name, jose.phone, jose.source) == (
        "José Muñoz",
        "+16465550101",
        "instagram",
    )
    assert Lead.objects.get(email="maria@example.com").source == "referral"


@pytest.mark.parametrize("spanish", [True, False])
def test_google_forms_headers(tmp_path, spanish):
    path = formats.google_forms(
        tmp_path / "forms.csv",
        [["15/01/2024 10:20:30", "Eva Ruiz", "eva@example.com", "646-555-0102"]],
        spanish=spanish,
    )
    preview = inspect_source(path=path, source="google_sheets")
    assert sorted(v for v in preview.mapping.values() if v) == [
        "email",
        "full_name",
        "phone",
        "received_at",
    ]
    do_import(path, source="google_sheets")
    lead = Lead.objects.get()
    assert (lead.full_name, lead.phone) == ("Eva Ruiz", "+16465550102")
    assert lead.received_at.year == 2024


def test_first_and_last_name_columns_are_joined_and_utm_and_notes(tmp_path):
    path = formats.write_csv(
        tmp_path / "x.csv",
        [
            ["First name", "Apellido", "Mobile", "utm_source", "utm_campaign", "Notas"],
            ["Ana", "Gil", "6465550103", "google", "spring", "Prefers mornings"],
        ],
    )
    do_import(path)
    lead = Lead.objects.get()
    assert lead.full_name == "Ana Gil"
    assert (lead.utm_source, lead.utm_campaign) == ("google", "spring")
    assert lead.notes == "Prefers mornings"


def test_xlsx_numeric_phone_cells_have_no_decimal(tmp_path):
    path = formats.xlsx(
        tmp_path / "leads.xlsx",
        [
            ["Nombre", "Teléfono", "Correo"],
            ["Ana", 6465550104, None],
            ["Beto", 16465550105.0, "beto@example.com"],
        ],
    )
    preview = inspect_source(path=path, source="excel")
    assert preview.format == "xlsx"
    assert preview.sample[0]["phone"] == "+16465550104"
    log = do_import(path, source="excel")
    assert log.created_count == 2
    assert set(Lead.objects.values_list("phone", flat=True)) == {
        "+16465550104",
        "+16465550105",
    }


def test_header_matching_ignores_case_accents_spaces_and_underscores():
    mapping = guess_mapping(
        ["NÚMERO DE TELÉFONO", "Correo_Electronico", "nombre completo", "xyz"]
    )
    assert mapping == {
        "NÚMERO DE TELÉFONO": "phone",
        "Correo_Electronico": "email",
        "nombre completo": "full_name",
        "xyz": "",
    }


def test_staff_mapping_overrides_the_guess(tmp_path):
    path = formats.write_csv(
        tmp_path / "x.csv",
        [["A", "B", "Name"], ["6465550106", "Real name", "Not this"]],
    )
    mapping = {"A": "phone", "B": "full_name", "Name": ""}
    preview = inspect_source(path=path, source="csv", mapping=mapping)
    assert preview.mapping == mapping
    do_import(path, source="csv", mapping=mapping)
    assert Lead.objects.get().full_name == "Real name"


# --- unreadable input ---------------------------------------------------------------


def test_empty_file_is_refused(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(ImportFileError, match="empty"):
        inspect_source(path=path, source="csv")


def test_file_without_phone_or_email_column_is_refused(tmp_path):
    path = formats.write_csv(tmp_path / "x.csv", [["Name", "City"], ["Ana", "Lima"]])
    with pytest.raises(ImportFileError, match="No phone or email column"):
        inspect_source(path=path, source="csv")


def test_broken_encoding_is_refused_with_a_clear_message(tmp_path):
    path = tmp_path / "broken.csv"
    # 0x81 and 0x8d are neither UTF-8 nor Windows-1252.
    path.write_bytes(b"Name,Phone\n\x81\x8d\x8f,6465550107\n")
    with pytest.raises(ImportFileError, match="encoding"):
        inspect_source(path=path, source="csv")


def test_binary_file_is_refused(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x01")
    with pytest.raises(ImportFileError):
        inspect_source(path=path, source="csv")


def test_corrupt_xlsx_is_refused(tmp_path):
    path = tmp_path / "x.xlsx"
    path.write_bytes(b"PK\x03\x04" + b"garbage" * 20)
    with pytest.raises(ImportFileError, match="not a readable"):
        inspect_source(path=path, source="excel")


def test_oversized_file_is_refused(tmp_path, settings):
    settings.LEADS_IMPORT_MAX_BYTES = 100
    path = formats.write_csv(tmp_path / "x.csv", [["Phone"]] + [["6465550108"]] * 20)
    with pytest.raises(ImportFileError, match="too large"):
        inspect_source(path=path, source="csv")


# --- hostile and tricky cells --------------------------------------------------------


def test_formula_cells_are_inert_and_plus_phone_stays_a_phone(tmp_path):
    path = formats.write_csv(
        tmp_path / "x.csv",
        [
            ["Name", "Phone", "Email", "Notes"],
            ['=HYPERLINK("http://evil","x")', "+1 646 555 0109", "", "@SUM(A1)"],
        ],
    )
    log = do_import(path)
    lead = Lead.objects.get()
    assert lead.phone == "+16465550109"
    assert lead.full_name.startswith("'=HYPERLINK")
    assert lead.notes.startswith("'@SUM")
    assert report_of(log)[0]["outcome"] == "created"


def test_quoted_newlines_and_hostile_strings(tmp_path):
    path = formats.write_csv(
        tmp_path / "x.csv",
        [
            ["Name", "Phone", "Notes"],
            ["Ana\nSecond line", "6465550110", "line1\r\nline2"],
            ["<script>alert(1)</script>", "6465550111", "x" * 100_000],
            ["ctl\x00\x07\x1b", "6465550112", ""],
        ],
    )
    log = do_import(path)
    assert log.created_count == 3
    assert Lead.objects.get(phone="+16465550110").full_name == "Ana Second line"
    long = Lead.objects.get(phone="+16465550111")
    assert long.full_name == "<script>alert(1)</script>"
    assert len(long.notes) == 5000
    assert "\x00" not in Lead.objects.get(phone="+16465550112").full_name
    assert [r["row"] for r in report_of(log)] == ["2", "3", "4"]


# --- duplicates, bad rows, report ----------------------------------------------------


def test_duplicates_within_file_and_existing_fill_blanks(tmp_path):
    existing = LeadFactory(
        phone="+16465550120", email="", full_name="", campaign_name="Kept"
    )
    path = formats.write_csv(
        tmp_path / "x.csv",
        [
            ["Name", "Phone", "Email", "Campaign"],
            ["New One", "6465550121", "", ""],
            ["", "(646) 555-0121", "new@example.com", "Spring"],
            ["Old Person", "646.555.0120", "old@example.com", "Overwrite?"],
        ],
    )
    log = do_import(path)

    assert (
        log.created_count,
        log.duplicate_in_file_count,
        log.duplicate_existing_count,
        log.bad_row_count,
    ) == (1, 1, 1, 0)
    new = Lead.objects.get(phone="+16465550121")
    assert new.email == "new@example.com"  # filled from the in-file duplicate
    assert new.campaign_name == "Spring"
    existing.refresh_from_db()
    assert existing.full_name == "Old Person"
    assert existing.email == "old@example.com"
    assert existing.campaign_name == "Kept"  # never overwritten
    report = report_of(log)
    assert [r["outcome"] for r in report] == [
        "created",
        "duplicate_in_file",
        "duplicate_existing",
    ]
    assert report[1]["matched_lead_id"] == str(new.pk)
    assert report[2]["matched_lead_id"] == str(existing.pk)


def test_duplicate_does_not_take_an_email_another_lead_has(tmp_path):
    matched = LeadFactory(phone="+16465550122", email="")
    LeadFactory(phone="+16465550123", email="taken@example.com")
    path = formats.write_csv(
        tmp_path / "x.csv", [["Phone", "Email"], ["6465550122", "TAKEN@example.com"]]
    )
    log = do_import(path)
    assert log.duplicate_existing_count == 1
    matched.refresh_from_db()
    assert matched.email == ""


def test_bad_rows_are_reported_with_reason_and_half_valid_rows_imported(tmp_path):
    path = formats.write_csv(
        tmp_path / "x.csv",
        [
            ["Name", "Phone", "Email"],
            ["No contact", "", ""],
            ["Bad both", "12", "not-an-email"],
            ["Half", "abc", "half@example.com"],
        ],
    )
    log = do_import(path)
    assert (log.created_count, log.bad_row_count) == (1, 2)
    half = Lead.objects.get()
    assert half.invalid_contact == "phone: abc"
    report = report_of(log)
    assert report[0]["outcome"] == "bad"
    assert "no valid phone or email" in report[0]["message"]
    assert "not-an-email" in report[1]["message"]
    assert report[2]["outcome"] == "created"
    assert "phone: abc" in report[2]["message"]


def test_same_external_id_is_a_duplicate(tmp_path):
    LeadFactory(source="instagram", external_id="555", phone="+16465550124")
    path = formats.meta_leads(
        tmp_path / "m.csv",
        [{"id": "l:555", "phone_number": "p:+56961234560", "platform": "ig"}],
    )
    log = do_import(path)
    assert log.duplicate_existing_count == 1


def test_created_leads_get_history_and_a_first_contact_deadline(tmp_path, settings):
    settings.LEADS_FIRST_CONTACT_HOURS = 3
    path = formats.google_forms(
        tmp_path / "f.csv", [["2024-03-01 09:00:00", "Ana", "", "6465550125"]]
    )
    user = SalespersonFactory(group=False)
    log = do_import(path, by=user)
    lead = Lead.objects.get()
    history = LeadStatusHistory.objects.get(lead=lead)
    assert (history.from_status, history.to_status, history.changed_by) == (
        "",
        "new",
        user,
    )
    assert lead.first_contact_due_at == lead.received_at + dt.timedelta(hours=3)
    # The deadline is on the lead; a follow-up is opened only once it is missed.
    assert not LeadFollowUp.objects.exists()
    assert log.processed_rows == log.total_rows == 1
    assert log.started_at and log.finished_at


def test_reimport_creates_nothing(tmp_path):
    path = formats.semicolon_es(
        tmp_path / "x.csv",
        [["Ana", "6465550126", "ana@example.com", ""], ["Beto", "6465550127", "", ""]],
    )
    first = do_import(path)
    preview = inspect_source(path=path, source="other")
    assert preview.already_imported == first
    assert preview.expected["duplicate_existing"] == 2
    second = do_import(path)
    assert (second.created_count, second.duplicate_existing_count) == (0, 2)
    assert Lead.objects.count() == 2


def test_dry_run_preview_writes_nothing(tmp_path):
    path = formats.semicolon_es(
        tmp_path / "x.csv",
        [
            ["Ana", "6465550128", "", ""],
            ["Ana", "6465550128", "", ""],
            ["Nadie", "", "", ""],
        ],
    )
    preview = inspect_source(path=path, source="other", sample_rows=2)
    assert preview.expected == {
        "rows": 3,
        "created": 1,
        "duplicate_in_file": 1,
        "duplicate_existing": 0,
        "bad": 1,
    }
    assert [s["outcome"] for s in preview.sample] == ["created", "duplicate_in_file"]
    assert Lead.objects.count() == 0
    assert ImportLog.objects.count() == 0


def test_chunks_update_progress(tmp_path, monkeypatch):
    monkeypatch.setattr("leads.importing.pipeline.CHUNK_SIZE", 3)
    rows = [["Phone"]] + [[f"64655502{n:02d}"] for n in range(10)]
    log = do_import(formats.write_csv(tmp_path / "x.csv", rows))
    assert (log.total_rows, log.processed_rows, log.created_count) == (10, 10, 10)


# --- revert ------------------------------------------------------------------------


def test_revert_removes_only_untouched_leads(tmp_path):
    path = formats.write_csv(
        tmp_path / "x.csv",
        [["Phone"], ["6465550130"], ["6465550131"], ["6465550132"], ["6465550133"]],
    )
    old = LeadFactory(phone="+16465550134")
    log = do_import(path)
    contacted = Lead.objects.get(phone="+16465550130")
    change_lead_status(contacted, LeadStatus.CONTACTED)
    done = Lead.objects.get(phone="+16465550131")
    complete_follow_up(
        schedule_follow_up(done, due_at=timezone.now() + dt.timedelta(hours=1))
    )

    removed = revert_import(log, by=None)

    assert removed == 2
    assert set(Lead.objects.values_list("phone", flat=True)) == {
        "+16465550130",
        "+16465550131",
        old.phone,
    }
    log.refresh_from_db()
    assert (log.status, log.reverted_count) == (ImportLog.Status.REVERTED, 2)
    assert log.reverted_at is not None
    assert revert_import(log, by=None) == 0


# --- round-robin -------------------------------------------------------------------


def test_round_robin_shares_created_leads_and_continues_rotation(tmp_path):
    a, b, c = SalespersonFactory(), SalespersonFactory(), SalespersonFactory()
    RoundRobinCursor.objects.create(name="leads", last_user_id=a.pk)
    rows = [["Phone"]] + [[f"64655501{n:02d}"] for n in range(40, 45)]
    LeadFactory(phone="+16465550140")  # a duplicate: not assigned
    do_import(formats.write_csv(tmp_path / "x.csv", rows), assign="round_robin")
    created = Lead.objects.filter(import_log__isnull=False).order_by("phone")
    assert [lead.assigned_to for lead in created] == [b, c, a, b]
    assert all(lead.assigned_at for lead in created)
    # Missed first contacts go to each lead's salesperson.
    process_follow_ups(now=max(lead.first_contact_due_at for lead in created) + HOUR)
    for lead in created:
        follow_up = lead.follow_ups.get()
        assert follow_up.first_contact
        assert follow_up.assigned_to == lead.assigned_to
    assert RoundRobinCursor.objects.get(name="leads").last_user_id == b.pk


# --- the task, start_import ----------------------------------------------------------


def test_start_import_queues_the_task_after_commit(
    tmp_path, django_capture_on_commit_callbacks
):
    upload = SimpleUploadedFile(
        "leads.csv", formats.csv_text([["Phone"], ["6465550150"]]).encode()
    )
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        log = start_import(
            upload=upload, source="csv", mapping=None, assign="none", by=None
        )
    assert len(callbacks) == 1
    log.refresh_from_db()
    assert log.status == ImportLog.Status.DONE
    assert log.original_name == "leads.csv"
    assert len(log.file_sha256) == 64
    assert log.created_count == 1
    # A second run does nothing.
    assert run_import(log.pk).created_count == 1
    assert Lead.objects.count() == 1


def test_failure_ends_failed_with_the_error(tmp_path, monkeypatch):
    path = formats.write_csv(tmp_path / "x.csv", [["Phone"], ["6465550151"]])
    log = create_import_log(path=path, source="csv", mapping=None)

    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("leads.importing.pipeline.Pipeline._write_chunk", boom)
    log = run_import(log.pk)
    assert log.status == ImportLog.Status.FAILED
    assert "disk on fire" in log.error
    assert log.finished_at is not None


# --- Google Sheets -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("link", "export"),
    [
        (
            "https://docs.google.com/spreadsheets/d/1AbC_d-9/edit#gid=123",
            "https://docs.google.com/spreadsheets/d/1AbC_d-9/export?format=csv&gid=123",
        ),
        (
            "https://docs.google.com/spreadsheets/d/1AbC/edit?usp=sharing",
            "https://docs.google.com/spreadsheets/d/1AbC/export?format=csv&gid=0",
        ),
        (
            "https://docs.google.com/spreadsheets/d/1AbC/edit?gid=7#gid=7",
            "https://docs.google.com/spreadsheets/d/1AbC/export?format=csv&gid=7",
        ),
    ],
)
def test_share_link_becomes_csv_export_url(link, export):
    assert sheet_export_url(link) == export


def test_non_google_link_is_refused():
    with pytest.raises(ImportFileError, match="Google Sheets"):
        sheet_export_url("https://example.com/sheet.csv")
    with pytest.raises(ImportFileError, match="Google Sheets"):
        inspect_source(sheet_url="http://127.0.0.1:1/x.csv", source="google_sheets")


@pytest.fixture
def local_server():
    pages = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            status, content_type, body = pages.get(
                self.path, (404, "text/plain", b"no")
            )
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    yield base, pages
    server.shutdown()
    server.server_close()


def test_fetch_public_csv_from_local_server(local_server):
    base, pages = local_server
    pages["/sheet.csv"] = (200, "text/csv", b"Phone,Name\n6465550160,Ana\n")
    path = fetch_csv(base + "/sheet.csv")
    try:
        assert Path(path).read_bytes().startswith(b"Phone,Name")
    finally:
        Path(path).unlink()


@pytest.mark.parametrize(
    ("status", "content_type", "body"),
    [
        (200, "text/html; charset=utf-8", b"<!DOCTYPE html><title>Sign in</title>"),
        (401, "text/plain", b"no"),
        (403, "text/plain", b"no"),
    ],
)
def test_fetch_login_page_or_denied_is_not_public(
    local_server, status, content_type, body
):
    base, pages = local_server
    pages["/private"] = (status, content_type, body)
    with pytest.raises(ImportFileError, match="not public"):
        fetch_csv(base + "/private")


def test_fetch_closed_port_is_unreachable():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ImportFileError, match="unreachable"):
        fetch_csv(f"http://127.0.0.1:{port}/x.csv", timeout=2)


def test_sheet_import_stores_the_fetched_file(local_server, monkeypatch):
    base, pages = local_server
    pages["/export"] = (200, "text/csv", b"Phone,Name\n6465550161,Ana\n")
    monkeypatch.setattr(
        "leads.importing.api.sheet_export_url", lambda url: base + "/export"
    )
    link = "https://docs.google.com/spreadsheets/d/abc/edit#gid=0"
    preview = inspect_source(sheet_url=link, source="google_sheets")
    assert preview.format == "google_sheets"
    log = create_import_log(sheet_url=link, source="google_sheets", mapping=None)
    pages.clear()  # the task reads the stored copy, not the sheet
    log = run_import(log.pk)
    assert log.status == ImportLog.Status.DONE
    assert log.sheet_url == link
    assert Lead.objects.get().phone == "+16465550161"


# --- concurrency (PostgreSQL) ------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_overlapping_imports_create_no_duplicates(tmp_path, monkeypatch):
    monkeypatch.setattr("leads.importing.pipeline.CHUNK_SIZE", 50)
    shared = [[f"6465551{n:03d}", f"s{n}@example.com"] for n in range(300)]
    only_a = [[f"6465552{n:03d}", ""] for n in range(100)]
    only_b = [[f"6465553{n:03d}", ""] for n in range(100)]
    path_a = formats.write_csv(
        tmp_path / "a.csv", [["Phone", "Email"], *shared, *only_a]
    )
    path_b = formats.write_csv(
        tmp_path / "b.csv", [["Phone", "Email"], *reversed(shared), *only_b]
    )
    logs = [
        create_import_log(path=path_a, source="csv", mapping=None),
        create_import_log(path=path_b, source="csv", mapping=None),
    ]
    barrier = threading.Barrier(2)
    results, errors = {}, []

    def work(log):
        try:
            barrier.wait()
            results[log.pk] = run_import(log.pk)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(log,)) for log in logs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors
    done = list(results.values())
    assert all(log.status == ImportLog.Status.DONE for log in done), [
        log.error for log in done
    ]
    assert Lead.objects.count() == 500
    assert sum(log.created_count for log in done) == 500
    assert sum(log.duplicate_existing_count for log in done) == 300
    assert LeadStatusHistory.objects.count() == 500
    for log in done:
        rows = list(csv.reader(Path(log.report.path).open(encoding="utf-8-sig")))
        assert len(rows) == 401


# --- phone fast path ---------------------------------------------------------------


def test_fast_phone_agrees_with_normalize_phone():
    import random

    from crm_project.phones import normalize_phone
    from leads.importing.records import fast_phone

    rng = random.Random(7)
    texts = ["+1 212 555 0199", "1-800-555-0199", "(011) 234-5678", "+44 20 7946 0958"]
    for _ in range(3000):
        digits = f"{rng.randrange(10**9, 10**10):010d}"
        a, b, c = digits[:3], digits[3:6], digits[6:]
        texts += [digits, f"({a}) {b}-{c}", f"+1 {a}.{b}.{c}", f"1{digits}"]
    for region in ("US", "CA", "CL"):
        for text in texts:
            assert fast_phone(text, region) == normalize_phone(text, region), text


def test_tabs_and_backslashes_survive(tmp_path):
    path = formats.write_csv(
        tmp_path / "x.csv",
        [["Name", "Phone", "Notes"], ["Tab\there \\N back\\slash", "6465550170", "\\"]],
    )
    do_import(path)
    lead = Lead.objects.get()
    assert lead.full_name.replace("\t", " ") == "Tab here \\N back\\slash"
    assert lead.notes == "\\"


def test_deleting_an_import_log_keeps_its_leads_without_the_pointer(tmp_path):
    # The pointer has no database constraint (a lookup per imported row); the ORM
    # still clears it when a log goes.
    path = formats.write_csv(tmp_path / "x.csv", [["Phone"], ["6465550170"]])
    log = do_import(path)
    lead = Lead.objects.get(import_log=log)

    log.delete()

    lead.refresh_from_db()
    assert lead.import_log_id is None
