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
        "django_celery_beat.PeriodicTask": "fas fa-clock",
        "django_celery_beat.CrontabSchedule": "fas fa-calendar-alt",
        "django_celery_beat.IntervalSchedule": "fas fa-stopwatch",
        "django_celery_beat.ClockedSchedule": "fas fa-bell",
        "django_celery_beat.SolarSchedule": "fas fa-sun",
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
