from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

# The extension a receipt may have, and the bytes its content must start with: the name
# alone is the uploader's claim, the signature is what the file is.
RECEIPT_SIGNATURES = {
    ".pdf": (b"%PDF-",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".webp": (b"RIFF",),
}


def validate_receipt(upload) -> None:
    """Check a new upload's type, size and content. A file already in storage was
    checked when it was uploaded; re-reading it on every save could fail (a file
    moved away) and would leave it open."""
    if getattr(upload, "_committed", False):
        return
    name = (getattr(upload, "name", "") or "").lower()
    extension = name[name.rfind(".") :] if "." in name else ""
    if extension not in RECEIPT_SIGNATURES:
        raise ValidationError(
            _("A receipt must be a PDF, JPEG, PNG or WebP file, not “%(name)s”."),
            code="receipt_type",
            params={"name": upload.name},
        )
    limit = settings.CRM_RECEIPT_MAX_BYTES
    if upload.size > limit:
        raise ValidationError(
            _("The receipt is %(size)s; the limit is %(limit)s."),
            code="receipt_size",
            params={
                "size": filesizeformat(upload.size),
                "limit": filesizeformat(limit),
            },
        )
    position = upload.tell() if hasattr(upload, "tell") else 0
    upload.seek(0)
    head = upload.read(12)
    upload.seek(position)
    signatures = RECEIPT_SIGNATURES[extension]
    valid = any(head.startswith(sig) for sig in signatures)
    if extension == ".webp":
        valid = valid and head[8:12] == b"WEBP"
    if not valid:
        raise ValidationError(
            _(
                "“%(name)s” does not contain what its name says; "
                "upload the original file."
            ),
            code="receipt_content",
            params={"name": upload.name},
        )
