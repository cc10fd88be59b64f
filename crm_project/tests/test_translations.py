"""Spanish ships with English: the catalogue is complete, compiled, and in use."""

import gettext
import shutil
import subprocess
from pathlib import Path

import pytest
from django.utils import translation

from appointments.models import Appointment
from clients.models import Client
from packages.models import PackagePurchase

LOCALE_ES = Path(__file__).resolve().parents[2] / "locale" / "es" / "LC_MESSAGES"
PO = LOCALE_ES / "django.po"
MO = LOCALE_ES / "django.mo"

MSGFMT = shutil.which("msgfmt")
needs_msgfmt = pytest.mark.skipif(MSGFMT is None, reason="needs GNU gettext's msgfmt")


def msgfmt(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 (our own file, no shell)
        [MSGFMT, *args], capture_output=True, text=True, check=False
    )


def test_model_names_and_labels_are_in_spanish():
    with translation.override("es"):
        assert str(Client._meta.verbose_name) == "cliente"
        assert str(Client._meta.verbose_name_plural) == "clientes"
        assert str(Appointment._meta.verbose_name) == "cita"
        assert str(Appointment.Status.COMPLETED.label) == "Completada"
        assert str(Appointment.Status.NO_SHOW.label) == "No se presentó"
        assert str(Client.Stage.AT_RISK.label) == "En riesgo"


def test_a_purchase_status_agrees_with_its_feminine_noun():
    with translation.override("es"):
        assert str(PackagePurchase.Status.ACTIVE.label) == "Activa"
        assert str(PackagePurchase.Status.EXPIRED.label) == "Caducada"
        assert str(Client.Stage.ACTIVE.label) == "Activo"


def test_english_stays_the_default():
    with translation.override("en"):
        assert str(Client._meta.verbose_name) == "client"
        assert str(Appointment.Status.COMPLETED.label) == "Completed"


@pytest.mark.django_db
def test_the_dashboard_speaks_the_browsers_language(admin_client):
    response = admin_client.get("/admin/", headers={"accept-language": "es"})

    assert response.status_code == 200
    assert response.headers["Content-Language"] == "es"
    content = response.content.decode()
    assert "Citas de hoy" in content
    assert "Today&#x27;s appointments" not in content


@needs_msgfmt
def test_every_message_is_translated():
    result = msgfmt("--check", "--statistics", "-o", "/dev/null", str(PO))

    assert result.returncode == 0, result.stderr
    assert "fuzzy" not in result.stderr, result.stderr
    assert "untranslated" not in result.stderr, result.stderr


@needs_msgfmt
def test_the_compiled_catalogue_matches_the_po_file(tmp_path):
    fresh = tmp_path / "django.mo"
    assert msgfmt("-o", str(fresh), str(PO)).returncode == 0

    with MO.open("rb") as shipped, fresh.open("rb") as compiled:
        assert (
            gettext.GNUTranslations(shipped)._catalog
            == gettext.GNUTranslations(compiled)._catalog
        ), "run `make messages` and commit locale/es/LC_MESSAGES/django.mo"
