from django import forms
from django.contrib.admin.widgets import AdminFileWidget
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import Package, PackagePurchase, Payment
from .validators import validate_receipt


class PackageAdminForm(forms.ModelForm):
    class Meta:
        model = Package
        fields = [
            "name",
            "description",
            "services",
            "sessions",
            "min_sessions_per_week",
            "max_sessions_per_week",
            "validity_days",
            "price",
            "combinable_in_one_visit",
            "is_active",
        ]

    def clean(self):
        cleaned = super().clean()
        low = cleaned.get("min_sessions_per_week")
        high = cleaned.get("max_sessions_per_week")
        if low is not None and high is not None and high < low:
            self.add_error(
                "max_sessions_per_week",
                _("The most sessions a week cannot be fewer than the least (%(min)s).")
                % {"min": low},
            )
        return cleaned


class PackageSaleForm(forms.ModelForm):
    """Sell a package: the purchase and its payment, through packages.services."""

    payment_method = forms.ChoiceField(
        label=_("payment method"), choices=Payment.Method.choices
    )
    reference = forms.CharField(
        label=_("payment reference"), max_length=100, required=False
    )
    receipt = forms.FileField(
        label=_("receipt"),
        required=False,
        validators=[validate_receipt],
        help_text=_("PDF, JPEG, PNG or WebP, up to 5 MB."),
    )

    class Meta:
        model = PackagePurchase
        fields = ["client", "package", "price_paid", "purchased_on"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "package" in self.fields:
            self.fields["package"].queryset = Package.objects.filter(is_active=True)
        if "price_paid" in self.fields:
            self.fields["price_paid"].required = False
            self.fields["price_paid"].help_text = _(
                "Leave empty to charge the package's price."
            )
        if "purchased_on" in self.fields:
            self.fields["purchased_on"].initial = timezone.localdate


class PurchaseChangeForm(forms.ModelForm):
    class Meta:
        model = PackagePurchase
        fields = ["expires_on", "notes"]

    def clean_expires_on(self):
        expires_on = self.cleaned_data.get("expires_on")
        purchased_on = self.instance.purchased_on
        if expires_on and purchased_on and expires_on < purchased_on:
            raise ValidationError(
                _("A purchase cannot expire before it was bought (%(date)s)."),
                code="expires_before_purchase",
                params={"date": purchased_on},
            )
        return expires_on


class _ReceiptLink:
    """What the file widget links to: the admin's receipt view, not MEDIA_URL."""

    def __init__(self, url: str, name: str):
        self.url = url
        self.name = name

    def __str__(self) -> str:
        return self.name.rsplit("/", 1)[-1]


class PrivateReceiptWidget(AdminFileWidget):
    receipt_url = ""

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        if context["widget"]["is_initial"] and self.receipt_url:
            context["widget"]["value"] = _ReceiptLink(self.receipt_url, value.name)
        return context


class PaymentAdminForm(forms.ModelForm):
    class Meta:
        model = Payment
        fields = [
            "client",
            "purchase",
            "appointment",
            "amount",
            "method",
            "paid_at",
            "reference",
            "receipt",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        receipt = self.fields.get("receipt")
        if receipt is not None:
            widget = PrivateReceiptWidget()
            if self.instance.pk and self.instance.receipt:
                widget.receipt_url = reverse(
                    "admin:packages_payment_receipt", args=[self.instance.pk]
                )
            receipt.widget = widget

    def _get_validation_exclusions(self):
        exclude = super()._get_validation_exclusions()
        # The model's validator reads the file; a stored receipt was checked when it
        # was uploaded, and re-reading it on every edit fails (a server error) once
        # the file has gone from storage.
        if "receipt" not in self.changed_data:
            exclude.add("receipt")
        return exclude

    def clean(self):
        cleaned = super().clean()
        client = cleaned.get("client")
        purchase = cleaned.get("purchase")
        appointment = cleaned.get("appointment")
        if client and purchase and purchase.client_id != client.pk:
            self.add_error(
                "purchase", _("This package purchase belongs to another client.")
            )
        if client and appointment and appointment.client_id != client.pk:
            self.add_error("appointment", _("This appointment is another client's."))
        return cleaned
