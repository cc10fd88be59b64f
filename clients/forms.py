from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from crm_project.phones import validate_phone

from .models import Client

# Room for the formatting people type ("+1 (415) 555-0101 "); the stored E.164 value
# is at most 16 characters and is checked against the model's limit after cleaning.
PHONE_INPUT_MAX_LENGTH = 40


class ClientAdminForm(forms.ModelForm):
    """Phones to E.164, email lower-cased, and duplicates as field errors.

    The unique constraints on phone and lower(email) would otherwise surface as a
    generic "constraint violated" message (or, in a race, an IntegrityError).
    """

    class Meta:
        model = Client
        fields = [
            "first_name",
            "last_name",
            "phone",
            "email",
            "birth_date",
            "address",
            "medical_history",
            "allergies",
            "conditions",
            "emergency_contact_name",
            "emergency_contact_phone",
            "preferred_language",
            "preferred_channel",
            "referred_by",
            "tags",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("phone", "emergency_contact_phone"):
            field = self.fields.get(name)
            if field is None:
                continue
            field.max_length = PHONE_INPUT_MAX_LENGTH
            field.validators = [
                v for v in field.validators if not isinstance(v, MaxLengthValidator)
            ]
            field.widget.attrs["maxlength"] = str(PHONE_INPUT_MAX_LENGTH)

    def _other_clients(self):
        others = Client.objects.all()
        if self.instance.pk is not None:
            others = others.exclude(pk=self.instance.pk)
        return others

    def clean_phone(self):
        phone = validate_phone(self.cleaned_data.get("phone", ""))
        if phone:
            other = self._other_clients().filter(phone=phone).first()
            if other is not None:
                raise ValidationError(
                    _("%(phone)s is already the phone of another client, %(name)s."),
                    code="duplicate_phone",
                    params={"phone": phone, "name": other},
                )
        return phone

    def clean_emergency_contact_phone(self):
        return validate_phone(self.cleaned_data.get("emergency_contact_phone", ""))

    def clean_email(self):
        email = (self.cleaned_data.get("email") or "").strip().lower()
        if email:
            other = (
                self._other_clients()
                .annotate(_email_lower=Lower("email"))
                .filter(_email_lower=email)
                .first()
            )
            if other is not None:
                raise ValidationError(
                    _("%(email)s is already the email of another client, %(name)s."),
                    code="duplicate_email",
                    params={"email": email, "name": other},
                )
        return email
