"""Accord's settings: one module, driven by the environment (see .env.example).

Defaults give a working local run: SQLite under var/, Celery on a filesystem broker.
DATABASE_URL switches to PostgreSQL, REDIS_URL to Redis for the broker and the cache.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _
from kombu import Exchange, Queue

from config.env import env_bool, env_int, env_list, env_str, env_time_zone, env_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("ACCORD_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env_str("SECRET_KEY", "" if not DEBUG else "insecure-local-development-key-only")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY is required when DEBUG is off.")
if not DEBUG and len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters when DEBUG is off.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000")
# Demo users have a known password: never in production.
ALLOW_DEMO_DATA = env_bool("ALLOW_DEMO_DATA", DEBUG)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "axes",
    "django_countries",
    "alignment",
    "leads",
    "campaigns",
    "metrics",
    # The project itself, for its composition-root commands (seed_demo).
    "config",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Wraps WhiteNoise too: static files and error pages carry the policy as well.
    "config.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After a signed-in user's write, their reads stay on the primary for a while.
    "config.replicas.ReadYourWritesMiddleware",
    # Right after authentication, before CSRF or any view reads the body: a body past its
    # limit (smaller without a signed-in user or API token) is a 413, never spooled.
    "config.upload_limits.RequestBodyLimitMiddleware",
    "config.middleware.UserPreferencesMiddleware",
    "config.middleware.PagesLoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "config.api_errors.ApiJsonErrorsMiddleware",
    "config.idempotency.IdempotencyMiddleware",
    "config.middleware.BrokerUnavailableMiddleware",
    # A page needing what is not set up yet (no active agreement) is a 503 with the reason.
    "config.middleware.NotConfiguredMiddleware",
    # Last: turns a login refused for too many failures into the lockout page (429).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.tz",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "alignment.context_processors.navigation",
                "alignment.context_processors.unread_notifications",
            ],
        },
    }
]

# Database --------------------------------------------------------------------------
DATABASE_URL = env_url("DATABASE_URL", {"postgres", "postgresql", "sqlite"})
# Every SQLite database, the default one or a sqlite:// DATABASE_URL: WAL lets the web
# server read while the worker writes; IMMEDIATE takes the write lock at BEGIN, and the
# timeout lets a writer wait for it, so two writers (two imports) queue instead of one
# failing with "database is locked".
SQLITE_OPTIONS = {
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
}
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL,
            conn_max_age=env_int("DB_CONN_MAX_AGE", 600, minimum=0),
            conn_health_checks=True,
        )
    }
    if DATABASES["default"]["ENGINE"].endswith("postgresql") and not env_bool("DB_JIT", False):
        # PostgreSQL's JIT compiles every query whose estimated cost passes jit_above_cost;
        # the metrics' correlated cohort subqueries are over-estimated, so each paid
        # ~0.3 s of compilation for ~0.4 s of work (docs/performance.md, scorecards).
        DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"
    if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        DATABASES["default"]["OPTIONS"] = {
            **SQLITE_OPTIONS,
            **DATABASES["default"].get("OPTIONS", {}),
        }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "accord.sqlite3",
            "OPTIONS": dict(SQLITE_OPTIONS),
            # A file, not memory, so a real worker process can share the test database;
            # one per test run (the worker inherits the name), so two runs on one
            # machine never write to each other's database.
            "TEST": {
                "NAME": os.environ.setdefault(
                    "ACCORD_TEST_DB", str(VAR_DIR / f"test-{os.getpid()}.sqlite3")
                )
            },
        }
    }
# Read replicas (docs/scaling.md): DATABASE_REPLICA_URLS, comma-separated PostgreSQL URLs of
# streaming replicas of DATABASE_URL. Each is an alias `replica_N`; config.replicas routes
# the read-only work there (and everything else to the primary). In tests each is a mirror
# of the test database (never created); tests/foundation/test_replicas.py points it at the
# real replica.
DATABASE_REPLICA_URLS = env_list("DATABASE_REPLICA_URLS", [])
DATABASE_REPLICAS: list[str] = []
for _number, _url in enumerate(DATABASE_REPLICA_URLS, start=1):
    if not DATABASES["default"]["ENGINE"].endswith("postgresql"):
        raise ImproperlyConfigured("DATABASE_REPLICA_URLS needs a PostgreSQL DATABASE_URL.")
    if _url.split("://", 1)[0] not in {"postgres", "postgresql"}:
        raise ImproperlyConfigured(
            f"DATABASE_REPLICA_URLS: replica {_number} is not a postgres:// URL "
            f"({_url.split('@')[-1]!r})."
        )
    _replica = dj_database_url.parse(
        _url,
        conn_max_age=env_int("DB_CONN_MAX_AGE", 600, minimum=0),
        conn_health_checks=True,
    )
    _replica["OPTIONS"] = {
        **DATABASES["default"].get("OPTIONS", {}),
        # A replica that is down must cost a page a moment, not the OS's connect timeout.
        "connect_timeout": env_int("DATABASE_REPLICA_CONNECT_TIMEOUT", 2, minimum=1),
        **_replica.get("OPTIONS", {}),
    }
    _replica["TEST"] = {"MIRROR": "default"}
    DATABASES[f"replica_{_number}"] = _replica
    DATABASE_REPLICAS.append(f"replica_{_number}")
DATABASE_ROUTERS = ["config.replicas.ReplicaRouter"] if DATABASE_REPLICAS else []
# Off: the replicas stay configured but every read goes to the primary (the test suite).
DATABASE_REPLICA_READS = env_bool("DATABASE_REPLICA_READS", True)
# After a user's write, their reads stay on the primary this long (the replica may lag).
DATABASE_REPLICA_READ_YOUR_WRITES_SECONDS = env_int(
    "DATABASE_REPLICA_READ_YOUR_WRITES_SECONDS", 10, minimum=0
)
# A replica further behind than this is left aside as if down.
DATABASE_REPLICA_MAX_LAG_SECONDS = env_int("DATABASE_REPLICA_MAX_LAG_SECONDS", 30, minimum=1)
# How often each process checks a replica's health (a failure in a page checks at once).
DATABASE_REPLICA_HEALTH_SECONDS = env_int("DATABASE_REPLICA_HEALTH_SECONDS", 5, minimum=1)

DATABASE_VENDOR = (
    "postgresql" if DATABASES["default"]["ENGINE"].endswith("postgresql") else "sqlite"
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The metrics' covering index (stage events INCLUDE lead_id) is a PostgreSQL feature;
# SQLite builds the same index without the included column, which is all it needs.
SILENCED_SYSTEM_CHECKS = ["models.W040"] if DATABASE_VENDOR == "sqlite" else []

# Cache and broker --------------------------------------------------------------------
REDIS_URL = env_url("REDIS_URL", {"redis", "rediss"})
if REDIS_URL:
    # django-redis, so that a Redis outage degrades the cache (misses) instead of failing pages.
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "IGNORE_EXCEPTIONS": True,
                "SOCKET_CONNECT_TIMEOUT": 1,
                "SOCKET_TIMEOUT": 1,
            },
        }
    }
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {
        # An unacknowledged task (acks_late; its worker died) is redelivered after this.
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=1),
        "socket_connect_timeout": 2,
        "socket_timeout": 5,
    }
    # One beat at a time: RedBeat holds a lock in Redis, so a second beat process waits.
    CELERY_BEAT_SCHEDULER = "redbeat.RedBeatScheduler"
    CELERY_REDBEAT_REDIS_URL = REDIS_URL
    CELERY_REDBEAT_LOCK_TIMEOUT = env_int("CELERY_REDBEAT_LOCK_TIMEOUT", 60, minimum=5)
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
            # Not Django's 300: past it every write culls a third of the entries at random,
            # cached generations (config.generations) and rate-limit counts with them.
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    }
    # kombu's filesystem transport: a real broker shared by web, worker and beat, no server.
    _broker_dir = VAR_DIR / "broker"
    (_broker_dir / "queue").mkdir(parents=True, exist_ok=True)
    (_broker_dir / "processed").mkdir(parents=True, exist_ok=True)
    (_broker_dir / "control").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
        "control_folder": str(_broker_dir / "control"),
    }
# Parallel test processes (pytest-xdist, and the workers each starts) keep apart in the
# shared cache, so that one's cached generations (config.generations) never move another's.
CACHES["default"]["KEY_PREFIX"] = os.environ.get("PYTEST_XDIST_WORKER", "")

CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 600, minimum=1)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 540, minimum=1)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A request that enqueues fails fast (503, see config.middleware) when the broker is down.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
# Queues per kind of work (config.celery.task_route; docs/scaling.md): a long import,
# a scorecard run or a slow webhook receiver never delays a notification. A worker
# started without -Q (make run, the tests) takes every queue; docker-compose runs one
# worker per group. The prefix keeps parallel test runs sharing one Redis apart.
CELERY_QUEUE_PREFIX = env_str("CELERY_QUEUE_PREFIX", "")
ACCORD_QUEUES = ("interactive", "imports", "metrics", "webhooks")
CELERY_TASK_DEFAULT_QUEUE = CELERY_QUEUE_PREFIX + "interactive"
# Each queue its own direct exchange and routing key: queues left to Celery's defaults
# would all bind the default queue's key, and a message would land in every one of them.
CELERY_TASK_QUEUES = [
    Queue(CELERY_QUEUE_PREFIX + name, Exchange(CELERY_QUEUE_PREFIX + name),
          routing_key=CELERY_QUEUE_PREFIX + name)
    for name in ACCORD_QUEUES
]  # fmt: skip
CELERY_TASK_ROUTES = ("config.celery.task_route",)
# Fault tests only: a pause between two scorecards, so a worker can be killed mid-run.
SCORECARD_STEP_DELAY_MS = env_int("SCORECARD_STEP_DELAY_MS", 0, minimum=0)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# Auth ------------------------------------------------------------------------------
# Argon2 for new passwords; older hashes still verify and are upgraded on login.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Login brute force: django-axes locks a username+IP pair out after AXES_FAILURE_LIMIT
# failures (page and token endpoint alike) for AXES_COOLOFF_MINUTES.
AUTHENTICATION_BACKENDS = [
    "config.auth.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# Behind N reverse proxies (load balancer, nginx) the client is the Nth X-Forwarded-For
# entry from the right; 0 (direct) ignores the header. The lockout and the API rate
# limits key on this one address (config/client_ip.py).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)
AXES_CLIENT_IP_CALLABLE = "config.client_ip.client_ip"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Internationalisation ----------------------------------------------------------------
LANGUAGES = [("en", _("English")), ("id", _("Indonesian")), ("pl", _("Polish"))]
# The deployment's language: for users who chose none and whose browser asks for none we
# offer, and for the default agreement a fresh installation writes.
LANGUAGE_CODE = env_str("LANGUAGE_CODE", "en")
if LANGUAGE_CODE not in dict(LANGUAGES):
    raise ImproperlyConfigured(f"LANGUAGE_CODE must be one of {', '.join(dict(LANGUAGES))}.")
LOCALE_PATHS = [BASE_DIR / "locale"]
# One date format per language (config/locale_formats).
FORMAT_MODULE_PATH = ["config.locale_formats"]
TIME_ZONE = env_time_zone("TIME_ZONE", "UTC")
# Beat crontabs (the Monday scorecards) run in the deployment's time zone.
CELERY_TIMEZONE = TIME_ZONE
USE_I18N = True
USE_TZ = True
ACCORD_CURRENCY = env_str("ACCORD_CURRENCY", "USD")

# Static and media ------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
# With MEDIA_STORAGE=local, a folder every web and worker container mounts (docker-compose's
# `media` volume); several machines use MEDIA_STORAGE=s3 instead (docs/scaling.md).
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
# Uploads (collateral, lead imports) are written and read through Django's storage API
# only, never served from MEDIA_URL (collateral goes through a permission-checked download
# view): MEDIA_STORAGE=local keeps them under MEDIA_ROOT, MEDIA_STORAGE=s3 in an
# S3-compatible bucket (django-storages). The S3 credentials come from the environment as
# boto3 reads them (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, or the host's role).
MEDIA_STORAGE = env_str("MEDIA_STORAGE", "local").strip().lower()
if MEDIA_STORAGE == "local":
    _MEDIA_STORAGE: dict = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
elif MEDIA_STORAGE == "s3":
    _MEDIA_STORAGE = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env_str("AWS_STORAGE_BUCKET_NAME"),
            # Another S3-compatible service (MinIO, Ceph, R2, ...): its URL; empty is AWS.
            "endpoint_url": env_str("AWS_S3_ENDPOINT_URL", "").strip() or None,
            "region_name": env_str("AWS_S3_REGION_NAME", "").strip() or None,
            "location": env_str("AWS_LOCATION", "").strip(),
            "default_acl": None,  # the bucket's own: keep it private
            "file_overwrite": False,  # a second "deck.pdf" gets a name of its own
        },
    }
else:
    raise ImproperlyConfigured("MEDIA_STORAGE must be local or s3.")
STORAGES = {
    "default": _MEDIA_STORAGE,
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 5 * 1024 * 1024, minimum=1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# Email -------------------------------------------------------------------------------
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "accord@localhost")

# REST API ----------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "config.tokens.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # DRF's three, with JSON refused past 32 levels of nesting (config/parsers.py).
    # JSON first (the default); `Accept: text/csv` or `?format=csv` gives a list as CSV.
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
        "config.renderers.CSVRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "config.parsers.DepthLimitedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": ["config.filters.FilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "config.api.StandardPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": [
        "config.throttling.TokenRateThrottle",
        "config.throttling.AnonymousRateThrottle",
    ],
}
# An API token is refused (401) this many days after it was issued; the token endpoint
# then issues a new one. A password change deletes the user's tokens (config/tokens.py).
API_TOKEN_TTL_DAYS = env_int("API_TOKEN_TTL_DAYS", 90, minimum=1)
# Per token (or session user) and, unauthenticated, per IP: "<n>/<second|minute|hour|day>".
API_THROTTLE_ENABLED = env_bool("API_THROTTLE_ENABLED", True)
API_THROTTLE_RATES = {
    "token": env_str("API_THROTTLE_RATE", "1200/minute"),
    "anon": env_str("API_THROTTLE_ANON_RATE", "60/minute"),
}
# The OpenAPI schema and docs for anyone (development), or only for signed-in users and
# API tokens (production default): config/api_docs.py.
API_DOCS_PUBLIC = env_bool("API_DOCS_PUBLIC", DEBUG)
SPECTACULAR_SETTINGS = {
    "TITLE": "Accord API",
    "DESCRIPTION": "The REST API of Accord, the CRM that aligns sales and marketing.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI's assets come from the drf-spectacular-sidecar package: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # One schema name per shared choice set (several serializers use them).
    # The error responses and headers every operation shares (config/schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.schema.common_responses",
    ],
    "ENUM_NAME_OVERRIDES": {
        "StageKeyEnum": "alignment.models.agreement.StageKey",
        "TeamEnum": "alignment.models.agreement.Team",
        "SourceChannelEnum": "leads.models.SourceChannel",
        "StageEventSourceEnum": "leads.models.StageEvent.Source",
        "WebhookEventEnum": "alignment.models.notifications.WebhookEvent",
        "WebhookDeliveryStatusEnum": "alignment.models.notifications.WebhookDelivery.Status",
        "LeadImportRowStatusEnum": "leads.imports.importer.ROW_STATUSES",
        "FollowUpKindEnum": "leads.models.FollowUpKind",
        "FollowUpOutcomeEnum": "leads.models.FollowUpOutcome",
        "DealOutcomeEnum": "leads.models.DealOutcome",
        "CampaignStatusEnum": "campaigns.models.CampaignStatus",
        "AgreementStatusEnum": "alignment.models.agreement.AgreementStatus",
        "IntelStatusEnum": "alignment.models.feedback.IntelStatus",
        "IntelKindEnum": "alignment.models.feedback.IntelKind",
        "DisputeKindEnum": "alignment.models.feedback.DisputeKind",
    },
}

# Lead imports (page and API): one with at most LEAD_IMPORT_INLINE_MAX_ROWS rows whose file
# is at most LEAD_IMPORT_INLINE_MAX_BYTES runs within the request (API: 200 with the rows'
# results); a larger one runs on the Celery worker (API: 202 and a status URL; the page
# shows its progress).
LEAD_IMPORT_INLINE_MAX_ROWS = env_int("LEAD_IMPORT_INLINE_MAX_ROWS", 2000, minimum=0)
LEAD_IMPORT_INLINE_MAX_BYTES = env_int("LEAD_IMPORT_INLINE_MAX_BYTES", 2 * 1024 * 1024, minimum=0)
# The largest file the import page and API take (bigger ones: split, or the command).
LEAD_IMPORT_MAX_BYTES = env_int("LEAD_IMPORT_MAX_BYTES", 200 * 1024 * 1024, minimum=1024)
# A running import beats after every batch of rows; one silent for this long died (worker
# killed, out of memory, hard time limit) and is marked failed, its committed rows kept.
LEAD_IMPORT_STALE_SECONDS = env_int("LEAD_IMPORT_STALE_SECONDS", 600, minimum=30)
# Uploaded files nobody imported (a page upload never mapped, a run never started) are
# deleted after this many hours by the beat job purge-import-uploads.
LEAD_IMPORT_UPLOAD_MAX_AGE_HOURS = env_int("LEAD_IMPORT_UPLOAD_MAX_AGE_HOURS", 24, minimum=1)
# The import task's own time limit (a 200 MB file is millions of rows); soft one minute
# earlier, so the run records what it committed before the hard limit kills it.
LEAD_IMPORT_TIME_LIMIT = env_int("LEAD_IMPORT_TIME_LIMIT", 4 * 3600, minimum=120)
# The largest collateral file (decks, one-pagers, short videos).
COLLATERAL_MAX_BYTES = env_int("COLLATERAL_MAX_BYTES", 50 * 1024 * 1024, minimum=1024)
# Request bodies, checked before a byte is read (config.upload_limits): without a signed-in
# user or a valid API token at most ANONYMOUS_REQUEST_MAX_BYTES (a login form is far less);
# signed in at most REQUEST_MAX_BYTES (the largest upload plus room for the form around it).
# Past either: 413, and nothing is spooled to disk.
ANONYMOUS_REQUEST_MAX_BYTES = env_int("ANONYMOUS_REQUEST_MAX_BYTES", 64 * 1024, minimum=1024)
REQUEST_MAX_BYTES = env_int(
    "REQUEST_MAX_BYTES",
    max(LEAD_IMPORT_MAX_BYTES, COLLATERAL_MAX_BYTES, DATA_UPLOAD_MAX_MEMORY_SIZE) + 1024 * 1024,
    minimum=ANONYMOUS_REQUEST_MAX_BYTES,
)

# Idempotency-Key: how long a request waits for a concurrent one with the same key.
IDEMPOTENCY_WAIT_SECONDS = env_int("IDEMPOTENCY_WAIT_SECONDS", 10, minimum=0)

# Webhooks: a failed delivery is retried WEBHOOK_MAX_ATTEMPTS times in all, waiting
# WEBHOOK_BACKOFF_SECONDS × 2^n (capped); a subscription failing WEBHOOK_DISABLE_AFTER
# attempts in a row is disabled and its owner notified. WEBHOOK_TIMEOUT_SECONDS is one
# deadline for the whole attempt (DNS, connect, TLS, send, status and headers).
WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 10, minimum=1)
# Targets must be https and resolve to public addresses only; this allows http and
# loopback/private receivers too: local development and tests only, never production.
WEBHOOK_ALLOW_PRIVATE_TARGETS = env_bool("WEBHOOK_ALLOW_PRIVATE_TARGETS", False)
WEBHOOK_MAX_SUBSCRIPTIONS_PER_USER = env_int("WEBHOOK_MAX_SUBSCRIPTIONS_PER_USER", 5, minimum=1)
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 8, minimum=1)
WEBHOOK_BACKOFF_SECONDS = env_int("WEBHOOK_BACKOFF_SECONDS", 30, minimum=1)
WEBHOOK_BACKOFF_MAX_SECONDS = env_int("WEBHOOK_BACKOFF_MAX_SECONDS", 6 * 3600, minimum=1)
WEBHOOK_DISABLE_AFTER = env_int("WEBHOOK_DISABLE_AFTER", 20, minimum=1)

# Security (production) -----------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Scripts, styles and everything else from Accord itself only: no inline script, event
# handler or style attribute in any page (config/csp.py; data: images for small icons).
CONTENT_SECURITY_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    if env_bool("BEHIND_TLS_PROXY", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
