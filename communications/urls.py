from django.urls import path

from . import survey, views

app_name = "communications"

urlpatterns = [
    path("u/<str:token>/", views.unsubscribe_view, name="unsubscribe"),
    path("o/<str:token>.gif", views.open_pixel, name="open"),
    path("l/<str:token>/", views.click_redirect, name="click"),
    path("s/<str:token>/", survey.survey_view, name="survey"),
    # Twilio's delivery reports (status callbacks) for SMS and WhatsApp; also
    # without the slash, which APPEND_SLASH would answer with a redirect that loses
    # the POST's body.
    path("twilio/status/", views.twilio_status, name="twilio_status"),
    path("twilio/status", views.twilio_status),
]
