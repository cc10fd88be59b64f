from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/leads/", include("leads.urls")),
    # Public links in messages: unsubscribe, open pixel, click redirect.
    path("c/", include("communications.urls")),
]
