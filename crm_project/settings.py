"""One settings module for every run mode; the environment chooses.

With no environment at all the CRM runs on SQLite (WAL) with kombu's filesystem broker,
which is what ``make run`` uses. ``DATABASE_URL`` switches to PostgreSQL and
``REDIS_URL`` to Redis for the Celery broker and the cache. README.md lists every
variable.
"""

import sys
from decimal import Decimal
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# pytest imports itself before it loads settings, so this tells a test run apart from a
# server start without any environment variable.
TESTING = "pytest" in sys.modules

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not (DEBUG or TESTING):
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set the SECRET_KEY environment variable to 50+ "
            "random characters (python -c 'import secrets; "
            "print(secrets.token_urlsafe(50))'), or DEBUG=true for local development."
        )
    SECRET_KEY = "insecure-dev-key-only-for-debug-and-tests-" + "x" * 20  # noqa: S105

ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if (DEBUG or TESTING) else []
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "jazzmin",
    "crm_project.apps.CrmAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_celery_beat",
    "crm_project.apps.CrmProjectConfig",
    "services",
    "clients",
    "packages",
    "appointments",
    "leads",
    "scheduling",
    "trials",
    "communications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "crm_project.urls"
WSGI_APPLICATION = "crm_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server and the worker read while the other writes; IMMEDIATE
    # transactions take the write lock up front instead of failing on upgrade.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"].setdefault("TEST", {})["NAME"] = env.str(
        "TEST_DATABASE_NAME", default="test_" + DATABASES["default"]["NAME"]
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and Celery -----------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
VAR_DIR = Path(env.str("CRM_VAR_DIR", default=str(BASE_DIR / "var")))

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # kombu's filesystem transport needs no server; every folder is explicit, because
    # control_folder otherwise defaults to the working directory.
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }

CELERY_TIMEZONE = env.str("TIME_ZONE", default="America/New_York")
CELERY_ENABLE_UTC = True
CELERY_TASK_IGNORE_RESULT = True
# No result backend, so nothing to clean: without this, every beat start adds a
# celery.backend_cleanup periodic task that does nothing.
CELERY_RESULT_EXPIRES = None
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=600)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=900)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- Auth, i18n, time -----------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation."
        "UserAttributeSimilarityValidator"
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"
LOGIN_REDIRECT_URL = "admin:index"

LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="en")
LANGUAGES = [("en", _("English")), ("es", _("Spanish"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = CELERY_TIMEZONE
USE_I18N = True
USE_TZ = True

# --- Static and media -----------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Not a manifest storage: Jazzmin 3.0.5 500s on every admin page with one (#684).
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "whitenoise.storage.CompressedStaticFilesStorage"
        )
    },
}
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# --- Security (production) ------------------------------------------------------------
if not DEBUG and not TESTING:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

# --- Email ----------------------------------------------------------------------------
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
# Seconds before a silent SMTP server counts as down (the outbox then retries).
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=20)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="studio@example.com")

# --- Logging --------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Business -------------------------------------------------------------------------
CRM_BUSINESS_NAME = env.str("CRM_BUSINESS_NAME", default="Wellness Studio")
CRM_BUSINESS_ADDRESS = env.str("CRM_BUSINESS_ADDRESS", default="")
CRM_BUSINESS_PHONE = env.str("CRM_BUSINESS_PHONE", default="")
CRM_CURRENCY = env.str("CRM_CURRENCY", default="USD")
# Where staff open the CRM: links in emails to staff point here.
CRM_SITE_URL = env.str("CRM_SITE_URL", default="http://127.0.0.1:8000")
PHONENUMBER_DEFAULT_REGION = env.str("PHONENUMBER_DEFAULT_REGION", default="US")

# Lifecycle stage thresholds (see clients.figures). Days count from the last visit.
CRM_LIFECYCLE = {
    "NEW_MAX_VISITS": env.int("CRM_NEW_MAX_VISITS", default=2),
    "VIP_MIN_SPENT": Decimal(env.str("CRM_VIP_MIN_SPENT", default="1500")),
    "VIP_MIN_VISITS": env.int("CRM_VIP_MIN_VISITS", default=25),
    "AT_RISK_DAYS": env.int("CRM_AT_RISK_DAYS", default=60),
    "CHURNED_DAYS": env.int("CRM_CHURNED_DAYS", default=180),
}
# Lifetime value projects the client's average monthly spend over this horizon.
CRM_LTV_HORIZON_MONTHS = env.int("CRM_LTV_HORIZON_MONTHS", default=12)

# Receipts attached to payments.
CRM_RECEIPT_MAX_BYTES = env.int("CRM_RECEIPT_MAX_BYTES", default=5 * 1024 * 1024)

# Leads: the first-contact deadline of a new lead, follow-up reminders and escalation.
LEADS_FIRST_CONTACT_HOURS = env.int("LEADS_FIRST_CONTACT_HOURS", default=2)
LEADS_REMINDER_INTERVAL_HOURS = env.int("LEADS_REMINDER_INTERVAL_HOURS", default=4)
LEADS_ESCALATE_AFTER_REMINDERS = env.int("LEADS_ESCALATE_AFTER_REMINDERS", default=3)
# Lead imports: the largest file accepted, the Google Sheets fetch timeout, and when a
# queued or running import counts as lost (see leads.importing.sweep_stale_imports).
LEADS_IMPORT_MAX_BYTES = env.int("LEADS_IMPORT_MAX_BYTES", default=50 * 1024 * 1024)
LEADS_IMPORT_FETCH_TIMEOUT = env.int("LEADS_IMPORT_FETCH_TIMEOUT", default=20)
LEADS_IMPORT_STALE_MINUTES = env.int("LEADS_IMPORT_STALE_MINUTES", default=30)
LEADS_SALESPERSON_GROUP = "salesperson"
LEADS_MANAGER_GROUP = "manager"

# Lead webhooks (leads.webhooks): credentials per source. An active WebhookSecret row
# set in the admin wins over these; a source with no secret anywhere answers 503.
LEADS_WEBHOOKS = {
    "meta": {
        "secret": env.str("LEADS_META_APP_SECRET", default=""),
        "verify_token": env.str("LEADS_META_VERIFY_TOKEN", default=""),
        # Lead Ads webhooks carry only an id: the fields are read from the Graph API.
        "access_token": env.str("LEADS_META_ACCESS_TOKEN", default=""),
    },
    "telegram": {"secret": env.str("LEADS_TELEGRAM_SECRET", default="")},
    "whatsapp": {
        "secret": env.str("LEADS_WHATSAPP_APP_SECRET", default=""),
        "verify_token": env.str("LEADS_WHATSAPP_VERIFY_TOKEN", default=""),
    },
    "landing_page": {"secret": env.str("LEADS_LANDING_API_KEY", default="")},
    "call_tracking": {"secret": env.str("LEADS_CALL_TRACKING_API_KEY", default="")},
}
LEADS_WEBHOOK_MAX_BYTES = env.int("LEADS_WEBHOOK_MAX_BYTES", default=64 * 1024)
LEADS_META_GRAPH_URL = env.str(
    "LEADS_META_GRAPH_URL", default="https://graph.facebook.com/v19.0"
)

# Scheduling: how many weeks ahead the room occupancy rows are kept (the beat job
# refreshes them hourly), and whether a freed place enrols the first waitlisted
# client at once (true) or offers them the place to accept (false).
SCHEDULING_OCCUPANCY_WEEKS = env.int("SCHEDULING_OCCUPANCY_WEEKS", default=4)
SCHEDULING_WAITLIST_AUTO_ENROLL = env.bool(
    "SCHEDULING_WAITLIST_AUTO_ENROLL", default=True
)

# Trials: reminders this many hours before a trial lesson (to the lead and the
# salesperson) and this many minutes after it ends (to the salesperson, to record
# attendance and result). The outbox delivers them (communications).
TRIALS_REMINDER_HOURS_BEFORE = env.int("TRIALS_REMINDER_HOURS_BEFORE", default=2)
TRIALS_FOLLOW_UP_MINUTES_AFTER = env.int("TRIALS_FOLLOW_UP_MINUTES_AFTER", default=3)

# Communications (communications app): the outbox. Caps limit MARKETING messages per
# client and channel ("day=2,month=8": at most 2 in any 24 hours and 8 in any 30
# days; "week" is any 7 days); transactional messages are never capped. Quiet hours
# (business time zone) defer messages to clients and leads, not to staff.
COMMUNICATIONS_CAPS = {
    "email": env.str("COMMUNICATIONS_CAPS_EMAIL", default="week=1,month=4"),
    "sms": env.str("COMMUNICATIONS_CAPS_SMS", default="day=2,month=8"),
    "whatsapp": env.str("COMMUNICATIONS_CAPS_WHATSAPP", default="day=2,month=8"),
}
COMMUNICATIONS_QUIET_HOURS_START = env.str(
    "COMMUNICATIONS_QUIET_HOURS_START", default="21:00"
)
COMMUNICATIONS_QUIET_HOURS_END = env.str(
    "COMMUNICATIONS_QUIET_HOURS_END", default="09:00"
)
# A transient failure is retried after base, 2 x base, 4 x base ... seconds, and the
# message fails after this many attempts in all.
COMMUNICATIONS_RETRY_BASE_SECONDS = env.int(
    "COMMUNICATIONS_RETRY_BASE_SECONDS", default=60
)
COMMUNICATIONS_MAX_ATTEMPTS = env.int("COMMUNICATIONS_MAX_ATTEMPTS", default=5)
# A message "sending" for longer than this (its worker died) is queued again.
COMMUNICATIONS_SENDING_TIMEOUT_MINUTES = env.int(
    "COMMUNICATIONS_SENDING_TIMEOUT_MINUTES", default=10
)
COMMUNICATIONS_SEND_BATCH_SIZE = env.int("COMMUNICATIONS_SEND_BATCH_SIZE", default=500)
# A job run still "running" after this long (its worker died) is marked abandoned;
# longer than any job may run (the jobs' tasks stop at 11 minutes).
COMMUNICATIONS_JOB_RUN_TIMEOUT_MINUTES = env.int(
    "COMMUNICATIONS_JOB_RUN_TIMEOUT_MINUTES", default=30
)
# Channel backends (dotted paths). Email goes through Django's EMAIL_BACKEND.
COMMUNICATIONS_EMAIL_BACKEND = env.str(
    "COMMUNICATIONS_EMAIL_BACKEND",
    default="communications.channels.email.DjangoEmailBackend",
)
COMMUNICATIONS_SMS_BACKEND = env.str(
    "COMMUNICATIONS_SMS_BACKEND", default="communications.channels.file.FileBackend"
)
COMMUNICATIONS_WHATSAPP_BACKEND = env.str(
    "COMMUNICATIONS_WHATSAPP_BACKEND",
    default="communications.channels.file.FileBackend",
)
# Where the file backend writes (one JSON line per message: var/outbox/sms.jsonl).
COMMUNICATIONS_FILE_DIR = env.str(
    "COMMUNICATIONS_FILE_DIR", default=str(VAR_DIR / "outbox")
)
# Links in messages to clients (unsubscribe, tracking) point here.
COMMUNICATIONS_PUBLIC_URL = env.str("COMMUNICATIONS_PUBLIC_URL", default=CRM_SITE_URL)
# The mailto: half of List-Unsubscribe; empty leaves only the one-click link.
COMMUNICATIONS_UNSUBSCRIBE_EMAIL = env.str(
    "COMMUNICATIONS_UNSUBSCRIBE_EMAIL", default=""
)
# Automated jobs (communications.jobs): package expiry warnings this many days ahead;
# reactivation of clients not seen for this many days (at most once a quarter);
# post-visit survey links work for this many days.
COMMUNICATIONS_EXPIRY_WARNING_DAYS = env.int(
    "COMMUNICATIONS_EXPIRY_WARNING_DAYS", default=7
)
COMMUNICATIONS_REACTIVATION_DAYS = env.int(
    "COMMUNICATIONS_REACTIVATION_DAYS", default=90
)
COMMUNICATIONS_SURVEY_LINK_DAYS = env.int("COMMUNICATIONS_SURVEY_LINK_DAYS", default=30)
# Campaigns fan out in chunks of this many clients: one task each (so 50,000 clients
# are 25 broker messages plus their senders).
COMMUNICATIONS_CAMPAIGN_CHUNK_SIZE = env.int(
    "COMMUNICATIONS_CAMPAIGN_CHUNK_SIZE", default=2000
)
# Twilio (communications.channels.twilio.TwilioBackend): credentials, senders, and
# the API's base URL (tests point it at a local server).
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM_NUMBER = env.str("TWILIO_FROM_NUMBER", default="")
TWILIO_WHATSAPP_FROM = env.str("TWILIO_WHATSAPP_FROM", default="")
TWILIO_API_BASE_URL = env.str("TWILIO_API_BASE_URL", default="https://api.twilio.com")

# --- Admin (Jazzmin) ------------------------------------------------------------------
JAZZMIN_SETTINGS = {
    "site_title": CRM_BUSINESS_NAME,
    "site_header": CRM_BUSINESS_NAME,
    "site_brand": CRM_BUSINESS_NAME,
    "welcome_sign": _("Welcome to the studio CRM"),
    "copyright": CRM_BUSINESS_NAME,
    "search_model": ["clients.Client"],
    "user_avatar": None,
    "topmenu_links": [
        {"name": _("Dashboard"), "url": "admin:index"},
        {"model": "clients.Client"},
        {"model": "appointments.Appointment"},
    ],
    "show_sidebar": True,
    "navigation_expanded": True,
    "order_with_respect_to": [
        "appointments",
        "clients",
        "leads",
        "leads.Lead",
        "leads.LeadFollowUp",
        "leads.ImportLog",
        "leads.LeadStatusHistory",
        "leads.WebhookDelivery",
        "leads.WebhookSecret",
        "packages",
        "scheduling",
        "scheduling.Group",
        "scheduling.Enrollment",
        "scheduling.WaitlistEntry",
        "scheduling.Attendance",
        "scheduling.RoomOccupancy",
        "scheduling.Course",
        "scheduling.Room",
        "trials",
        "trials.Trial",
        "trials.TrialReminder",
        "trials.TrialStatusHistory",
        "communications",
        "communications.Message",
        "communications.MessageTemplate",
        "communications.ContactPreferences",
        "communications.OptOut",
        "communications.ScheduledMessage",
        "communications.JobRun",
        "communications.Segment",
        "communications.Campaign",
        "services",
        "auth",
        "django_celery_beat",
    ],
    "icons": {
        "auth": "fas fa-users-cog",
        "auth.user": "fas fa-user",
        "auth.Group": "fas fa-user-shield",
        "clients.Client": "fas fa-address-card",
        "clients.Tag": "fas fa-tags",
        "clients.ClientNote": "fas fa-sticky-note",
        "clients.Interaction": "fas fa-comments",
        "services.ServiceCategory": "fas fa-folder-open",
        "services.Service": "fas fa-spa",
        "services.Contraindication": "fas fa-notes-medical",
        "packages.Package": "fas fa-box-open",
        "packages.PackagePurchase": "fas fa-receipt",
        "packages.Payment": "fas fa-cash-register",
        "appointments.Appointment": "fas fa-calendar-check",
        "appointments.AppointmentStatusHistory": "fas fa-history",
        "leads.Lead": "fas fa-user-plus",
        "leads.LeadFollowUp": "fas fa-phone-volume",
        "leads.LeadStatusHistory": "fas fa-stream",
        "leads.ImportLog": "fas fa-file-import",
        "leads.WebhookSecret": "fas fa-key",
        "leads.WebhookDelivery": "fas fa-satellite-dish",
        "scheduling.Course": "fas fa-graduation-cap",
        "scheduling.Room": "fas fa-door-open",
        "scheduling.Group": "fas fa-users",
        "scheduling.Enrollment": "fas fa-user-check",
        "scheduling.WaitlistEntry": "fas fa-user-clock",
        "scheduling.Attendance": "fas fa-clipboard-check",
        "scheduling.RoomOccupancy": "fas fa-th",
        "trials.Trial": "fas fa-chalkboard-teacher",
        "trials.TrialReminder": "fas fa-bell",
        "trials.TrialStatusHistory": "fas fa-stream",
        "communications.Message": "fas fa-paper-plane",
        "communications.MessageTemplate": "fas fa-file-alt",
        "communications.ContactPreferences": "fas fa-user-check",
        "communications.OptOut": "fas fa-user-slash",
        "communications.ScheduledMessage": "fas fa-calendar-plus",
        "communications.JobRun": "fas fa-robot",
        "communications.Segment": "fas fa-filter",
        "communications.Campaign": "fas fa-bullhorn",
        "django_celery_beat.PeriodicTask": "fas fa-clock",
        "django_celery_beat.CrontabSchedule": "fas fa-calendar-alt",
        "django_celery_beat.IntervalSchedule": "fas fa-stopwatch",
        "django_celery_beat.ClockedSchedule": "fas fa-bell",
        "django_celery_beat.SolarSchedule": "fas fa-sun",
    },
    "custom_links": {
        "communications": [
            {
                "name": _("Automated jobs"),
                "url": "admin:communications_jobrun_jobs",
                "icon": "fas fa-cogs",
                "permissions": ["communications.view_jobrun"],
            }
        ],
        "scheduling": [
            {
                "name": _("Room occupancy grid"),
                "url": "admin:scheduling_roomoccupancy_grid",
                "icon": "fas fa-th-large",
                "permissions": ["scheduling.view_roomoccupancy"],
            }
        ],
        "trials": [
            {
                "name": _("Trial funnel"),
                "url": "admin:trials_trial_funnel",
                "icon": "fas fa-filter",
                "permissions": ["trials.view_trial"],
            }
        ],
    },
    "default_icon_parents": "fas fa-chevron-circle-right",
    "default_icon_children": "fas fa-circle",
    "related_modal_active": False,
    "custom_css": "crm/admin.css",
    "use_google_fonts_cdn": False,
    "show_ui_builder": False,
    "changeform_format": "horizontal_tabs",
    "changeform_format_overrides": {
        "auth.user": "collapsible",
        "auth.group": "vertical_tabs",
    },
    "language_chooser": False,
}
JAZZMIN_UI_TWEAKS = {
    "theme": "default",
    "dark_mode_theme": None,
    "default_theme_mode": "auto",
    "navbar": "navbar-white navbar-light",
    "sidebar": "sidebar-dark-primary",
    "accent": "accent-primary",
    "navbar_small_text": False,
    "sidebar_nav_child_indent": True,
    "sidebar_nav_compact_style": True,
    "button_classes": {
        "primary": "btn-primary",
        "secondary": "btn-secondary",
        "info": "btn-info",
        "warning": "btn-warning",
        "danger": "btn-danger",
        "success": "btn-success",
    },
}
