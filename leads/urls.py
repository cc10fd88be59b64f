from django.urls import re_path

from . import views

app_name = "leads"

urlpatterns = [
    # The trailing slash is optional: a redirect would lose a POST's body.
    re_path(
        r"^webhooks/(?P<source>[A-Za-z0-9_-]{1,40})/?$",
        views.webhook,
        name="webhook",
    ),
]
