"""Contact normalisation: E.164 phones, lower-case emails, Meta and sheet quirks."""

import pytest

from leads.normalize import (
    clean_text,
    normalize_contact,
    normalize_email,
    phone_text,
)

US = "+14155550123"


@pytest.fixture(autouse=True)
def us_studio(settings):
    settings.PHONENUMBER_DEFAULT_REGION = "US"


@pytest.mark.parametrize(
    "raw",
    [
        "4155550123",
        "(415) 555-0123",
        "415.555.0123",
        "+1 415 555 0123",
        "+1-415-555-0123",
        " 415 555 0123 ",
        "p:+14155550123",
        "p:4155550123",
        4155550123.0,
        4155550123,
        '="4155550123"',
        "=4155550123",
        "'4155550123",
        "'+1 415 555 0123",
    ],
)
def test_phones_in_any_format_become_one_e164_number(raw):
    assert normalize_contact(raw, "").phone == US


def test_numeric_cells_lose_their_decimal_part():
    assert phone_text(4155550123.0) == "4155550123"
    assert phone_text(56961234567.0) == "56961234567"


def test_a_number_without_country_code_is_read_in_the_default_region(settings):
    settings.PHONENUMBER_DEFAULT_REGION = "CL"

    assert normalize_contact("9 6123 4567", "").phone == "+56961234567"
    assert normalize_contact("+56 9 6123 4567", "").phone == "+56961234567"
    assert normalize_contact("p:+56961234567", "").phone == "+56961234567"
    # A number with its country code keeps it, whatever the studio's region.
    assert normalize_contact("+1 415 555 0123", "").phone == US


def test_an_unallocated_chilean_range_is_refused_not_guessed(settings):
    # +56 9 1234 5678 has the right shape but libphonenumber knows the 91 range
    # as unallocated: it is kept aside as invalid rather than stored.
    settings.PHONENUMBER_DEFAULT_REGION = "CL"

    for raw in ("9 1234 5678", "+56 9 1234 5678"):
        contact = normalize_contact(raw, "")
        assert contact.phone == ""
        assert contact.invalid == [f"phone: {raw}"]


def test_the_same_local_number_means_different_people_in_different_regions(settings):
    settings.PHONENUMBER_DEFAULT_REGION = "CL"
    chile = normalize_contact("9 6123 4567", "").phone
    settings.PHONENUMBER_DEFAULT_REGION = "US"

    assert chile == "+56961234567"
    assert normalize_contact("9 6123 4567", "").phone == ""


@pytest.mark.parametrize(
    "raw", ["12345", "555-CALL-NOW", "+1 000 000 0000", "phone", "0"]
)
def test_an_invalid_phone_is_noted_not_stored(raw):
    contact = normalize_contact(raw, "")

    assert contact.phone == ""
    assert not contact.is_usable
    assert contact.invalid == [f"phone: {raw}"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Ana@Example.COM", "ana@example.com"),
        ("  ana@example.com  ", "ana@example.com"),
        ("e:Ana@Example.com", "ana@example.com"),
        ("ANA.PEREZ+trial@Studio.Example.org", "ana.perez+trial@studio.example.org"),
    ],
)
def test_emails_are_lower_cased_and_kept(raw, expected):
    assert normalize_email(raw) == expected
    assert normalize_contact("", raw).email == expected


@pytest.mark.parametrize(
    "raw",
    ["ana", "ana@", "@example.com", "ana@example", "ana @example.com", "a@b@c.com"],
)
def test_an_invalid_email_is_refused(raw):
    assert normalize_email(raw) is None
    contact = normalize_contact("", raw)
    assert contact.email == ""
    assert contact.invalid == [f"email: {clean_text(raw)}"]


def test_nothing_received_is_neither_valid_nor_invalid():
    contact = normalize_contact(None, None)

    assert (contact.phone, contact.email, contact.invalid) == ("", "", [])
    assert not contact.is_usable
    assert contact.invalid_note == ""


def test_a_valid_phone_is_kept_when_the_email_is_invalid():
    contact = normalize_contact("(415) 555-0123", "ana(at)example.com")

    assert contact.is_usable
    assert (contact.phone, contact.email) == (US, "")
    assert contact.invalid_note == "email: ana(at)example.com"


def test_a_valid_email_is_kept_when_the_phone_is_invalid():
    contact = normalize_contact("12", "Ana@Example.com")

    assert contact.is_usable
    assert (contact.phone, contact.email) == ("", "ana@example.com")
    assert contact.invalid_note == "phone: 12"


def test_both_invalid_identifiers_are_noted():
    contact = normalize_contact("12", "nope")

    assert not contact.is_usable
    assert contact.invalid_note == "phone: 12; email: nope"


def test_an_invalid_value_is_noted_inert_and_on_one_line():
    contact = normalize_contact('=HYPERLINK("http://x")\n', "=cmd|' /C calc'!A0")

    assert not contact.is_usable
    assert len(contact.invalid) == 2
    for note in contact.invalid:
        value = note.split(": ", 1)[1]
        assert value[:1] not in ("=", "+", "-", "@"), value
        assert "\n" not in value


@pytest.mark.parametrize(
    "raw",
    [
        "=1+2",
        '=HYPERLINK("http://evil.example","click")',
        "+SUM(A1:A2)",
        "-2+3+cmd|' /C calc'!A0",
        "@SUM(A1)",
        "=cmd|' /C calc'!A0",
    ],
)
def test_clean_text_makes_formula_looking_text_inert(raw):
    text = clean_text(raw)

    assert text == "'" + raw


@pytest.mark.parametrize("raw", ["+1 (415) 555-0123", "+56 9 6123 4567"])
def test_clean_text_leaves_a_phone_number_as_it_is(raw):
    assert clean_text(raw) == raw


def test_clean_text_keeps_ordinary_text():
    assert clean_text("  Ana María O'Neil  ") == "Ana María O'Neil"
    assert clean_text("Spring promo - 20% off") == "Spring promo - 20% off"


def test_clean_text_puts_text_on_one_line_without_control_characters():
    text = clean_text("Ana\r\nPérez\nvia\tform\x00\x07\x1b[31m\x0b\x0c\x7fend")

    assert "\n" not in text and "\r" not in text
    assert not any(ord(char) < 32 or ord(char) == 127 for char in text)
    assert text.startswith("Ana  Pérez via form")
    assert text.endswith("[31m  end")


def test_clean_text_spots_a_formula_behind_leading_whitespace_or_newlines():
    assert clean_text("\n\t =1+2") == "'=1+2"


def test_clean_text_cuts_to_the_limit_and_reads_non_strings():
    assert clean_text("x" * 300) == "x" * 255
    assert clean_text("abcdef", limit=3) == "abc"
    assert clean_text(None) == ""
    assert clean_text(12) == "12"
    assert clean_text(12.5) == "12.5"
