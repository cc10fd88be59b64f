"""Admin forms for leads: the lead page, the bulk actions' questions, the import steps.

Forms validate what the user must see; the changes themselves go through
leads.services (and leads.importing for files)."""

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from crm_project.phones import normalize_phone

from .models import ImportLog, Lead, LeadStatus, Source
from .normalize import normalize_email, phone_text
from .services import active_salespeople

User = get_user_model()

MAX_IMPORT_BYTES = 20 * 1024 * 1024
IMPORT_EXTENSIONS = (".csv", ".txt", ".xlsx")


class LeadAdminForm(forms.ModelForm):
    status_note = forms.CharField(
        label=_("note on the status change"),
        max_length=255,
        required=False,
        help_text=_("Kept in the status history."),
    )

    class Meta:
        model = Lead
        fields = "__all__"  # noqa: DJ007  the admin's fieldsets choose

    def clean_phone(self):
        raw = self.cleaned_data.get("phone", "")
        if not raw:
            return ""
        phone = normalize_phone(phone_text(raw))
        if not phone:
            raise ValidationError(_("Enter a valid phone number."))
        return phone

    def clean_email(self):
        raw = self.cleaned_data.get("email", "")
        if not raw:
            return ""
        email = normalize_email(raw)
        if not email:
            raise ValidationError(_("Enter a valid email address."))
        return email

    def clean(self):
        cleaned = super().clean()
        phone, email = cleaned.get("phone"), cleaned.get("email")
        if (
            "phone" in self.fields
            and not phone
            and not email
            and not self.has_error("phone")
            and not self.has_error("email")
        ):
            raise ValidationError(_("Enter a phone number or an email address."))
        if self.instance.pk is None and (phone or email):
            existing = Lead.objects.matching(phone=phone or "", email=email or "")
            existing = existing.order_by("pk").first()
            if existing is not None:
                url = reverse("admin:leads_lead_change", args=[existing.pk])
                raise ValidationError(
                    format_html(
                        '{} <a href="{}">{}</a>',
                        _("A lead with this phone or email already exists:"),
                        url,
                        existing,
                    ),
                    code="duplicate",
                )
        status = cleaned.get("status")
        if (
            status == LeadStatus.LOST
            and not cleaned.get("lost_reason")
            and "lost_reason" in self.fields
        ):
            self.add_error("lost_reason", _("Say why the lead was lost."))
        return cleaned

    def _post_clean(self):
        # The duplicate check above names the lead with a link; the unique
        # constraints' generic message would repeat it.
        if self.instance.pk is None and self.has_error(NON_FIELD_ERRORS):
            return
        super()._post_clean()


class SalespersonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.get_full_name() or obj.get_username()


class AssignForm(forms.Form):
    salesperson = SalespersonChoiceField(
        label=_("salesperson"), queryset=User.objects.none(), required=True
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["salesperson"].queryset = active_salespeople()


class LostForm(forms.Form):
    lost_reason = forms.CharField(label=_("lost reason"), max_length=255)


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label=_("file"),
        required=False,
        help_text=_("CSV or Excel (XLSX), with a header row."),
    )
    sheet_url = forms.URLField(
        label=_("Google Sheets link"),
        required=False,
        max_length=500,
        assume_scheme="https",
        help_text=_("A sheet shared as 'anyone with the link can view'."),
    )
    source = forms.ChoiceField(label=_("source"), choices=Source.choices)
    assign = forms.ChoiceField(
        label=_("assignment"),
        choices=ImportLog.Assign.choices,
        initial=ImportLog.Assign.NONE,
    )

    def clean_file(self):
        upload = self.cleaned_data.get("file")
        if upload is None:
            return None
        if not upload.name.lower().endswith(IMPORT_EXTENSIONS):
            raise ValidationError(_("Upload a CSV or an Excel (XLSX) file."))
        if upload.size > MAX_IMPORT_BYTES:
            raise ValidationError(_("The file is larger than 20 MB."))
        return upload

    def clean(self):
        cleaned = super().clean()
        has_file = bool(cleaned.get("file"))
        has_url = bool(cleaned.get("sheet_url"))
        if has_file == has_url and not self.errors:
            raise ValidationError(_("Upload a file or give a Google Sheets link."))
        return cleaned


class ImportMappingForm(forms.Form):
    """The column mapping of the dry run: one select per header."""

    def __init__(self, *args, headers=(), fields=(), mapping=None, **kwargs):
        super().__init__(*args, **kwargs)
        mapping = mapping or {}
        choices = [("", _("(ignore)")), *[(v, lbl) for v, lbl in fields if v]]
        self.headers = list(headers)
        for index, header in enumerate(self.headers):
            self.fields[f"col_{index}"] = forms.ChoiceField(
                label=header,
                choices=choices,
                required=False,
                initial=mapping.get(header, ""),
            )

    def mapping(self) -> dict:
        return {
            header: self.cleaned_data.get(f"col_{index}", "")
            for index, header in enumerate(self.headers)
        }
