from django.contrib import admin
from django.db.models import Count
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from .models import Contraindication, Service, ServiceCategory


@admin.register(ServiceCategory)
class ServiceCategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "service_count"]
    search_fields = ["name"]
    list_per_page = 50

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_service_count=Count("services"))

    @admin.display(description=_("services"), ordering="_service_count")
    def service_count(self, obj):
        return obj._service_count


@admin.register(Contraindication)
class ContraindicationAdmin(admin.ModelAdmin):
    list_display = ["name", "severity_badge", "service_count"]
    list_filter = ["severity"]
    search_fields = ["name", "description"]
    list_per_page = 50

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_service_count=Count("services"))

    @admin.display(description=_("severity"), ordering="severity")
    def severity_badge(self, obj):
        return format_html(
            '<span class="badge crm-severity crm-severity-{}">{}</span>',
            obj.severity,
            obj.get_severity_display(),
        )

    @admin.display(description=_("services"), ordering="_service_count")
    def service_count(self, obj):
        return obj._service_count


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "category",
        "price",
        "duration_minutes",
        "is_active",
        "contraindication_list",
    ]
    list_select_related = ["category"]
    list_filter = ["is_active", "category", "contraindications"]
    search_fields = ["name", "category__name"]
    filter_horizontal = ["contraindications"]
    list_per_page = 50
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "name",
                    "category",
                    "price",
                    "duration_minutes",
                    "is_active",
                ]
            },
        ),
        (
            _("Description"),
            {"fields": ["description", "benefits", "preparation_instructions"]},
        ),
        (_("Contraindications"), {"fields": ["contraindications"]}),
    ]

    def get_queryset(self, request):
        # One query for every row's contraindications, not one per row.
        return super().get_queryset(request).prefetch_related("contraindications")

    @admin.display(description=_("contraindications"))
    def contraindication_list(self, obj):
        names = [c.name for c in obj.contraindications.all()]
        if not names:
            return "—"
        return format_html_join(
            ", ", '<span class="crm-contraindication">{}</span>', ((n,) for n in names)
        )
