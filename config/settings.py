"""Settings for the agencies back-office: one file, configured through the environment.

Every variable is listed in `.env.example`. A local `.env` file (made from `.env.example` by
`make`) is read when present; production sets real environment variables instead.
"""

import warnings
from pathlib import Path

import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from clients.limits import CLIENT_FORM_MAX_FIELDS

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env("SECRET_KEY", default="")
if not SECRET_KEY or SECRET_KEY.startswith("dev-insecure"):
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set to a real secret when DEBUG is false.")
    SECRET_KEY = SECRET_KEY or "dev-insecure-secret-key-do-not-use-in-production"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is false.")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "axes",
    "auditlog",
    "django_tasks",
    "django_tasks_db",
    "agencies",
    "clients",
    "fakturoid",
    "dashboard",
    "fakturoid_sandbox",
    "registries",
    "registries_sandbox",
    "demo",
    "audit",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "audit.middleware.ActivityMiddleware",
    "agencies.middleware.CurrentAgencyMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"

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
                "agencies.context_processors.current_agency",
            ],
            # {{ amount|money:currency }} in every template: one format for money.
            "builtins": ["clients.templatetags.money"],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several threads (runserver calling its own sandbox, concurrent clicks) and processes (the
    # workers) share the file: wait for the write lock instead of failing at once, and take it
    # at BEGIN. Write-ahead logging lets pages read while a worker writes, and makes a commit
    # one sync of the log instead of several of the file (still durable: synchronous=FULL).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL",
        }
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The biggest client form the caps allow must fit in one POST (Django's default of 1,000 fields
# refused clients with about 95 billing items); a little room for the browser's extra fields.
DATA_UPLOAD_MAX_NUMBER_FIELDS = CLIENT_FORM_MAX_FIELDS + 100

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "clients:list"
LOGOUT_REDIRECT_URL = "login"

# Failed logins are throttled per user name and client address together (django-axes), so
# that wrong passwords typed elsewhere never lock the owner of the name out. Behind reverse
# proxies (a TLS proxy) the client address is read from X-Forwarded-For, trusting exactly
# TRUSTED_PROXY_COUNT proxies (django-ipware); with 0 the header is ignored.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured("TRUSTED_PROXY_COUNT must be 0 or more.")
AXES_CLIENT_IP_CALLABLE = "agencies.client_address.client_address"
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False

# Mail (invitations, password reset) through Django's mail framework, configured by one URL:
# e.g. smtp+tls://user:password@smtp.example.com:587 in production; in development the
# console backend prints every mail to the terminal (.env.example).
# (Lower case: Django's debug page would show an EMAIL_URL setting with its password.)
_email_url = env("EMAIL_URL", default="")
if not DEBUG and not _email_url:
    raise ImproperlyConfigured(
        "EMAIL_URL must be set when DEBUG is false, e.g. smtp+tls://user:pass@host:587."
    )
vars().update(env.email_url_config(_email_url or "consolemail://"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Agency back-office <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_TIMEOUT = env.float("EMAIL_TIMEOUT", default=10.0)
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24  # seconds: a reset link works for a day

# Audit trail (django-auditlog): who changed what, before and after, per agency and client.
AUDITLOG_LOGENTRY_MODEL = "audit.ActivityEntry"
# auditlog's own migrations create its default table (with a key to users) although our model
# replaces it; that unused table made test databases impossible to flush on PostgreSQL.
MIGRATION_MODULES = {"auditlog": None}
AUDITLOG_USE_FK_STRING_REPRESENTATION = True  # "member", not the user's id
# No correlation id from a request header: any browser could write into the log with it.
AUDITLOG_CID_HEADER = None

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("cs", _("Czech"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Our date formats per language (2 Dec 2026, 2. 12. 2026); everything else is Django's.
FORMAT_MODULE_PATH = ["config.formats"]
TIME_ZONE = "Europe/Prague"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Security: secure cookies and HTTPS unless explicitly served over plain HTTP in development.
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_HTTPS_PROXY", default=False) else None
)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

# Encryption at rest of the Fakturoid secret and token. The first key encrypts; every key
# decrypts, so a new key can be put first and the old ones kept until re-encryption.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEY", default=[])
for _key in FIELD_ENCRYPTION_KEYS:
    try:
        Fernet(_key)
    except ValueError as _error:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEY must be comma-separated Fernet keys "
            "(32 url-safe base64-encoded bytes each)."
        ) from _error
if not FIELD_ENCRYPTION_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY must be set when DEBUG is false.")
    warnings.warn(
        "FIELD_ENCRYPTION_KEY is not set: secrets are encrypted with a key derived from "
        "SECRET_KEY. Set FIELD_ENCRYPTION_KEY in production.",
        stacklevel=1,
    )

# Fakturoid API v3. With the sandbox on and no explicit URL, the app talks to its own sandbox.
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
FAKTUROID_SANDBOX = env.bool("FAKTUROID_SANDBOX", default=False)
# The sandbox has no login and a switchboard that can block any of its accounts: a production
# server must not serve it because someone copied the development .env. Only this loudly named
# setting lets it run with DEBUG off (a shared demo server, say).
FAKTUROID_SANDBOX_IN_PRODUCTION_I_KNOW_WHAT_I_AM_DOING = env.bool(
    "FAKTUROID_SANDBOX_IN_PRODUCTION_I_KNOW_WHAT_I_AM_DOING", default=False
)
if FAKTUROID_SANDBOX and not DEBUG and not FAKTUROID_SANDBOX_IN_PRODUCTION_I_KNOW_WHAT_I_AM_DOING:
    raise ImproperlyConfigured(
        "FAKTUROID_SANDBOX is true while DEBUG is false: the Fakturoid sandbox must not run in "
        "production. Set FAKTUROID_SANDBOX=false, or, for a deliberate demo server, "
        "FAKTUROID_SANDBOX_IN_PRODUCTION_I_KNOW_WHAT_I_AM_DOING=true."
    )
FAKTUROID_API_URL = env("FAKTUROID_API_URL", default="").rstrip("/") or (
    f"{SITE_URL}/sandbox/fakturoid/api/v3"
    if FAKTUROID_SANDBOX
    else "https://app.fakturoid.cz/api/v3"
)
FAKTUROID_APP_NAME = env("FAKTUROID_APP_NAME", default="AgencyBackoffice")
FAKTUROID_CONTACT_EMAIL = env("FAKTUROID_CONTACT_EMAIL", default="")
FAKTUROID_CONNECT_TIMEOUT = env.float("FAKTUROID_CONNECT_TIMEOUT", default=5.0)
FAKTUROID_READ_TIMEOUT = env.float("FAKTUROID_READ_TIMEOUT", default=20.0)
FAKTUROID_MAX_RATE_LIMIT_WAIT = env.float("FAKTUROID_MAX_RATE_LIMIT_WAIT", default=5.0)
# Background workers wait for the account's request budget up to this long (then the task is
# deferred) and leave this many requests of every rate-limit window to people in the browser.
FAKTUROID_BACKGROUND_MAX_WAIT = env.float("FAKTUROID_BACKGROUND_MAX_WAIT", default=30.0)
FAKTUROID_RATE_LIMIT_RESERVE = env.int("FAKTUROID_RATE_LIMIT_RESERVE", default=5)
# How long after giving up on an invoice POST we wait before that invoice may be POSTed again
# (Fakturoid may still carry the first one out). Empty: derived from the timeouts above, see
# fakturoid/timeouts.py; gunicorn.conf.py derives the worker timeout from them too.
FAKTUROID_SETTLE_SECONDS = env.float("FAKTUROID_SETTLE_SECONDS", default=None)

# Public registers: ARES (Czech business register), VIES (EU VAT numbers), ČNB daily exchange
# rates. Like Fakturoid, each falls back to its local stand-in when the sandbox is on and no
# explicit URL is set; production reaches the real services.
ARES_API_URL = env("ARES_API_URL", default="").rstrip("/") or (
    f"{SITE_URL}/sandbox/ares/ekonomicke-subjekty-v-be/rest"
    if FAKTUROID_SANDBOX
    else "https://ares.gov.cz/ekonomicke-subjekty-v-be/rest"
)
VIES_API_URL = env("VIES_API_URL", default="").rstrip("/") or (
    f"{SITE_URL}/sandbox/vies/rest-api"
    if FAKTUROID_SANDBOX
    else "https://ec.europa.eu/taxation_customs/vies/rest-api"
)
CNB_RATES_URL = env("CNB_RATES_URL", default="") or (
    f"{SITE_URL}/sandbox/cnb/denni_kurz.txt"
    if FAKTUROID_SANDBOX
    else "https://www.cnb.cz/cs/financni-trhy/devizovy-trh/kurzy-devizoveho-trhu/"
    "kurzy-devizoveho-trhu/denni_kurz.txt"
)
# Short: a register is asked while the user waits on the client form.
REGISTRIES_CONNECT_TIMEOUT = env.float("REGISTRIES_CONNECT_TIMEOUT", default=3.0)
REGISTRIES_READ_TIMEOUT = env.float("REGISTRIES_READ_TIMEOUT", default=8.0)

# Background work (month-end runs, status sync, sending) on Django's tasks API. The database
# backend needs nothing but our database (`python manage.py db_worker`); on Redis, RQ workers
# (`python manage.py rqworker --job-class django_tasks_rq.Job`) scale out. The code is the same.
TASKS_BACKEND = env("TASKS_BACKEND", default="db")
REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
_TASK_BACKENDS = {
    "db": "django_tasks_db.DatabaseBackend",
    "rq": "django_tasks_rq.RQBackend",
    "immediate": "django_tasks.backends.immediate.ImmediateBackend",
}
if TASKS_BACKEND not in _TASK_BACKENDS:
    raise ImproperlyConfigured(f"TASKS_BACKEND must be one of {', '.join(_TASK_BACKENDS)}.")
TASKS = {"default": {"BACKEND": _TASK_BACKENDS[TASKS_BACKEND], "QUEUES": ["default"]}}
if TASKS_BACKEND == "rq":
    INSTALLED_APPS += ["django_rq", "django_tasks_rq"]  # the rqworker command
RQ_QUEUES = {"default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 3600}}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
