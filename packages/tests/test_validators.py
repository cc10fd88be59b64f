"""Receipts: the extension is the uploader's claim, the first bytes are what it is."""

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from packages.tests.factories import PaymentFactory
from packages.validators import validate_receipt

PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01"
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 \x18\x00\x00\x00"
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00"
HTML = b"<!doctype html><html><body><script>alert(1)</script></body></html>"


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content)


def rejection(name: str, content: bytes) -> ValidationError:
    with pytest.raises(ValidationError) as error:
        validate_receipt(upload(name, content))
    return error.value


def readable(error: ValidationError) -> str:
    """The message with filesizeformat's non-breaking spaces made plain."""
    (message,) = error.messages
    return message.replace("\xa0", " ")


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("receipt.pdf", PDF),
        ("RECEIPT.PDF", PDF),
        ("photo.jpg", JPEG),
        ("photo.jpeg", JPEG),
        ("scan.png", PNG),
        ("scan.webp", WEBP),
    ],
)
def test_a_real_pdf_jpeg_png_or_webp_is_accepted(name, content):
    validate_receipt(upload(name, content))


def test_the_file_can_still_be_read_from_where_it_was_after_checking():
    receipt = upload("receipt.pdf", PDF)
    receipt.seek(5)

    validate_receipt(receipt)

    assert receipt.tell() == 5
    receipt.seek(0)
    assert receipt.read() == PDF


@pytest.mark.parametrize(
    "name", ["receipt.html", "receipt.exe", "receipt.gif", "receipt"]
)
def test_a_wrong_extension_is_rejected(name):
    error = rejection(name, PDF)

    assert error.code == "receipt_type"
    assert error.messages == [
        f"A receipt must be a PDF, JPEG, PNG or WebP file, not “{name}”."
    ]


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("receipt.pdf", HTML),
        ("receipt.pdf", PNG),
        ("photo.jpg", PDF),
        ("scan.png", JPEG),
        ("scan.webp", WAV),
        ("receipt.pdf", b""),
    ],
)
def test_content_that_does_not_match_the_extension_is_rejected(name, content):
    error = rejection(name, content)

    assert error.code == "receipt_content"
    assert error.messages == [
        f"“{name}” does not contain what its name says; upload the original file."
    ]


def test_a_file_over_the_size_limit_is_rejected(settings):
    settings.CRM_RECEIPT_MAX_BYTES = 1024

    error = rejection("receipt.pdf", b"0" * 1025)
    big = rejection("receipt.pdf", PDF + b"0" * (2048 - len(PDF)))

    assert error.code == "receipt_size"
    assert readable(big) == "The receipt is 2.0 KB; the limit is 1.0 KB."


def test_a_file_at_the_size_limit_is_accepted(settings):
    settings.CRM_RECEIPT_MAX_BYTES = 1024

    validate_receipt(upload("receipt.pdf", PDF + b"0" * (1024 - len(PDF))))


def test_the_default_limit_is_five_megabytes(settings):
    assert settings.CRM_RECEIPT_MAX_BYTES == 5 * 1024 * 1024

    error = rejection("receipt.pdf", PDF + b"0" * (6 * 1024 * 1024))

    assert readable(error) == "The receipt is 6.0 MB; the limit is 5.0 MB."


@pytest.mark.django_db
def test_a_payment_with_a_disguised_receipt_does_not_validate():
    payment = PaymentFactory.build(receipt=upload("receipt.pdf", HTML))
    payment.client.save()
    payment.client_id = payment.client.pk

    with pytest.raises(ValidationError) as error:
        payment.full_clean()

    assert list(error.value.message_dict) == ["receipt"]


@pytest.mark.django_db
def test_a_stored_receipt_is_not_read_again_when_its_payment_is_validated():
    # Given a payment whose receipt was validated on upload, then vanished from storage
    payment = PaymentFactory(receipt=upload("receipt.pdf", PDF))
    payment.receipt.storage.delete(payment.receipt.name)
    payment.refresh_from_db()

    # When the payment is validated again (e.g. another field is edited), then the
    # stored file is not opened: nothing raises
    payment.full_clean()
