"""One settings module, configured from the environment (see .env.example)."""

import ipaddress
import re
from datetime import timedelta
from pathlib import Path

import dj_database_url
import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured

from relayer.env import env_bool, env_choice, env_int, env_list, env_str

# Django's generic classes (ModelAdmin[Model], QuerySet[Model]) subscriptable at runtime,
# as django-stubs types them for mypy (`make lint`).
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
# The embedded mode's files (SQLite database, Celery's filesystem queue, beat's schedule,
# collected static files): var/ in the checkout unless VAR_DIR names another folder.
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var"))).resolve()

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off (for the `make run` demo's database, DEBUG=1)"
        )
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "exchange",
    "chain",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_prometheus",
    # Admin login throttle: failed logins and lockouts in the admin (docs/edge.md).
    "axes",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "exchange.api.observability.RequestIdMiddleware",
    # Outside the rate limiter, so that its own refusals (a request too big to read
    # for the account) are JSON too; it keeps the rate-limit headers of what it replaces.
    "exchange.api.middleware.JsonErrorMiddleware",
    "exchange.api.throttling.RateLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Serves collected static files (admin, the /docs page) under gunicorn.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # The next four: Django's, skipped on the JSON API's POST endpoints (relayer/middleware.py).
    "relayer.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "relayer.middleware.CsrfViewMiddleware",
    "relayer.middleware.AuthenticationMiddleware",
    "relayer.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
    # Last, as django-axes asks: answers a locked-out admin login.
    "axes.middleware.AxesMiddleware",
]

# The admin login throttle (django-axes, docs/edge.md): ADMIN_LOGIN_FAILURE_LIMIT wrong
# passwords for one username from one client address (the rate limiter's, behind
# RATELIMIT_TRUSTED_PROXIES) lock that pair out for ADMIN_LOGIN_LOCKOUT_MINUTES; the
# failures and lockouts are listed in the admin (Axes), where deleting one lifts it.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("ADMIN_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("ADMIN_LOGIN_LOCKOUT_MINUTES", 60, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "exchange.api.throttling.admin_login_client_ip"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False

ROOT_URLCONF = "relayer.urls"
WSGI_APPLICATION = "relayer.wsgi.application"
ASGI_APPLICATION = "relayer.asgi.application"

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

# PostgreSQL in production and CI; a local SQLite file is the embedded default.
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'relayer.sqlite3'}")
# Seconds a connection is kept between requests. relayer/serve.py (uvicorn) sets 0: under
# ASGI each request runs in a thread of its own, and a kept connection would outlive it
# unused (the server runs out of connections under load).
DATABASE_CONN_MAX_AGE = env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0)
try:
    # Health checks: a kept connection the server dropped (a restart, a failover, an idle
    # timeout) is replaced at the start of the next request instead of failing it.
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL, conn_max_age=DATABASE_CONN_MAX_AGE, conn_health_checks=True
        )
    }
except ValueError as error:
    raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {error}") from None
if DATABASES["default"].get("OPTIONS", {}).get("host"):
    # Hosts listed in the query string (libpq's multi-host failover, docs/deploying.md:
    # `?host=a,b&port=5432,5432&target_session_attrs=read-write`) win over the URL's own.
    DATABASES["default"]["HOST"] = DATABASES["default"]["PORT"] = ""
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's, with a health check that needs no round trip while the connection
    # is sound (relayer/postgres/base.py).
    DATABASES["default"]["ENGINE"] = "relayer.postgres"
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # Django's SQLite backend, with exact DecimalFields (amounts beyond 2^63, prices).
    DATABASES["default"]["ENGINE"] = "relayer.sqlite_exact"
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # The web process, the Celery worker and beat share the file: WAL lets readers run
    # beside the one writer, and a writer waits (timeout) instead of failing at once.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# A PostgreSQL standby for the public market reads (relayer/replica.py, docs/deploying.md):
# unset, everything reads the primary. Above DATABASE_REPLICA_MAX_LAG_SECONDS of replay lag
# (measured at most every DATABASE_REPLICA_LAG_CHECK_SECONDS per process) or while the
# standby does not answer, those reads fall back to the primary.
DATABASE_REPLICA_URL = env_str("DATABASE_REPLICA_URL", "")
DATABASE_REPLICA_MAX_LAG_SECONDS = env_int("DATABASE_REPLICA_MAX_LAG_SECONDS", 5, minimum=0)
DATABASE_REPLICA_LAG_CHECK_SECONDS = env_int("DATABASE_REPLICA_LAG_CHECK_SECONDS", 1, minimum=0)
if DATABASE_REPLICA_URL:
    if DATABASES["default"]["ENGINE"] != "relayer.postgres":
        raise ImproperlyConfigured("DATABASE_REPLICA_URL needs PostgreSQL as DATABASE_URL")
    try:
        DATABASES["replica"] = dj_database_url.parse(
            DATABASE_REPLICA_URL, conn_max_age=DATABASE_CONN_MAX_AGE, conn_health_checks=True
        )
    except ValueError as error:
        raise ImproperlyConfigured(f"DATABASE_REPLICA_URL is not a database URL: {error}") from None
    DATABASES["replica"]["ENGINE"] = "relayer.postgres"
    # Tests read the replica alias from the test database itself.
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    DATABASE_ROUTERS = ["relayer.replica.ReplicaRouter"]
    # Before django-axes's, which stays last.
    MIDDLEWARE.insert(len(MIDDLEWARE) - 1, "relayer.replica.PublicReadsMiddleware")

# Redis for the cache and the Celery broker, in production and in `make run` (which starts
# its own Redis on a unix socket in VAR_DIR: docs/runtime.md). Without REDIS_URL the web
# app and management commands still run (a database cache), but there is no broker: a
# Celery worker needs REDIS_URL.
REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL and not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured("REDIS_URL must start with redis://, rediss:// or unix://")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "relayer.redis_cache.KeptClientRedisCache",
            "LOCATION": REDIS_URL,
        }
    }
    # kombu names a unix socket redis+socket:// (redis-py, for the cache, unix://).
    CELERY_BROKER_URL = re.sub(r"^unix://", "redis+socket://", REDIS_URL)
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "relayer_cache",
        }
    }
    CELERY_BROKER_URL = "memory://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {}
CELERY_IMPORTS = ["chain.tick_schedule"]
# Queues per network (chain/tasks.py network_queue): each network's chain jobs go to the
# queue `chain-<network id>`, served by the workers started with `-Q celery,chain-<id>`
# (docs/deploying.md); off, every job is on the default queue `celery`.
CELERY_NETWORK_QUEUES = env_bool("CELERY_NETWORK_QUEUES", False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Time limits (seconds) of every task without its own (chain/tasks.py sets tighter ones
# for its bounded runs, never above these): at the soft one SoftTimeLimitExceeded ends the
# run (its transaction rolled back, its lock released), at the hard one the pool child is
# killed. The hard limit stays below the chain locks' TTL (300 s, chain/tasks.py).
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 240, minimum=1)
CELERY_TASK_TIME_LIMIT = CELERY_TASK_SOFT_TIME_LIMIT + 30
ORDER_EXPIRY_SWEEP_SECONDS = env_int("ORDER_EXPIRY_SWEEP_SECONDS", 10, minimum=1)
# How often the operator lane of the chain tick (withdrawals dispatched and confirmed,
# trades settled) runs per enabled network with an RPC URL and an exchange contract
# (chain/tick_schedule.py); a per-network lock keeps one runner at a time.
CHAIN_TICK_SECONDS = env_int("CHAIN_TICK_SECONDS", 3, minimum=1)
# The deposit watcher's own tick: a deposit is credited within about one tick of its last
# confirmation (target 2 s). A run with nothing new is two node calls and two queries.
DEPOSITS_WATCH_SECONDS = env_int("DEPOSITS_WATCH_SECONDS", 1, minimum=1)
# Settlement: how long the settler waits for a sent batch's receipts before it leaves the
# rest of the queue to the next tick (the next batch is signed only once this one is mined).
SETTLEMENT_RECEIPT_WAIT_SECONDS = env_int("SETTLEMENT_RECEIPT_WAIT_SECONDS", 5, minimum=0)
# How often (seconds) beat reconciles the ledger with the contract (ReconciliationRun).
RECONCILE_SECONDS = env_int("RECONCILE_SECONDS", 300, minimum=10)
# How often (seconds) beat books accrued trade fees to FEE_ACCOUNT (exchange/services/fees.py).
FEES_ROLL_UP_SECONDS = env_int("FEES_ROLL_UP_SECONDS", 2, minimum=1)
# The escape hatch: an account within this many blocks of being able to call the
# contract's withdraw() (or past it) has its orders and fills checked against what the
# contract can still pay it. It must cover the time from booking a trade to settling it,
# plus ESCAPE_HATCH_REFRESH_SECONDS.
ESCAPE_HATCH_MARGIN_BLOCKS = env_int("ESCAPE_HATCH_MARGIN_BLOCKS", 300, minimum=0)
ESCAPE_HATCH_REFRESH_SECONDS = env_int("ESCAPE_HATCH_REFRESH_SECONDS", 60, minimum=1)
CELERY_BEAT_SCHEDULE = {
    # Reads already hide expired orders; the sweep releases their holds.
    "orders-expire": {
        "task": "exchange.orders_expire",
        "schedule": float(ORDER_EXPIRY_SWEEP_SECONDS),
    },
    # One tick for the chain jobs (chain/tick_schedule.py): at most one network tick
    # waits per network and lane, so nothing expires and nothing piles up.
    "chain-tick": {
        "task": "chain.tick",
        "schedule": float(DEPOSITS_WATCH_SECONDS),
    },
    "escape-hatch-exposure": {
        "task": "chain.tasks.escape_exposure_refresh_all",
        "schedule": float(ESCAPE_HATCH_REFRESH_SECONDS),
    },
    "reconcile": {
        "task": "chain.tasks.reconcile_all",
        "schedule": float(RECONCILE_SECONDS),
    },
    # Trade fees accrue without a shared row lock; this books them to FEE_ACCOUNT.
    "fees-roll-up": {
        "task": "exchange.fees_roll_up",
        "schedule": float(FEES_ROLL_UP_SECONDS),
    },
}

# Where withdrawal, trade and settlement gas fees are credited (default: anvil's first
# account, the local operator).
FEE_ACCOUNT = env_str("FEE_ACCOUNT", "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266").lower()
if not re.fullmatch(r"0x[0-9a-f]{40}", FEE_ACCOUNT):
    raise ImproperlyConfigured(f"FEE_ACCOUNT must be an address, got {FEE_ACCOUNT!r}")
# Deposit watcher: blocks per eth_getLogs call, and ranges per run (a run must end well
# within its lock's TTL; a watcher that was down catches up over several runs).
WATCHER_MAX_BLOCK_RANGE = env_int("WATCHER_MAX_BLOCK_RANGE", 2000, minimum=1)
WATCHER_MAX_RANGES_PER_RUN = env_int("WATCHER_MAX_RANGES_PER_RUN", 20, minimum=1)
# Deep reorgs: the watcher re-checks the blocks of deposits credited within this many
# blocks past the confirmations; one that left the chain freezes its account.
DEEP_REORG_RECHECK_BLOCKS = env_int("DEEP_REORG_RECHECK_BLOCKS", 64, minimum=0)

# The networkId used when a request names none (the spec's default is Mainnet).
DEFAULT_NETWORK_ID = env_int("DEFAULT_NETWORK_ID", 1, minimum=1)
API_DEFAULT_PER_PAGE = 100
API_MAX_PER_PAGE = env_int("API_MAX_PER_PAGE", 500, minimum=1)
if API_MAX_PER_PAGE < API_DEFAULT_PER_PAGE:
    raise ImproperlyConfigured(f"API_MAX_PER_PAGE must be at least {API_DEFAULT_PER_PAGE}")

# The operator's key signs settlement and withdrawal transactions (chain/client.py): the
# key itself, or (preferred) the path of a file holding it. Never logged.
OPERATOR_PRIVATE_KEY = env_str("OPERATOR_PRIVATE_KEY", "")
OPERATOR_PRIVATE_KEY_FILE = env_str("OPERATOR_PRIVATE_KEY_FILE", "")
# Seconds before a request to an Ethereum node counts as unanswered (outcome unknown).
CHAIN_RPC_TIMEOUT = env_int("CHAIN_RPC_TIMEOUT", 10, minimum=1)

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "exchange.api.parsers.StrictJSONParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "exchange.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Relayer API",
    "DESCRIPTION": (
        "The relayer's REST API. Every response carries X-RateLimit-Limit, "
        "X-RateLimit-Remaining and X-RateLimit-Reset; errors have the body "
        '{"code", "reason", "validationErrors"?}. See README.md.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "exchange.api.schema.add_common_responses",
    ],
}

# Rate limits (exchange/api/throttling.py): counters in the shared cache
# (exchange/api/rate_counters.py); the limits per cost class are RateLimitPolicy rows.
RATELIMIT_USE_CACHE = "default"
# Paths outside the API: never counted, never carry the headers.
RATELIMIT_EXEMPT_PATHS = ["/admin/", "/static/", "/healthz", "/metrics"]
# Behind N reverse proxies, the client is the N-th address from the right of X-Forwarded-For,
# but only for a request whose connecting peer is one of RATELIMIT_TRUSTED_PROXY_ADDRESSES
# (addresses or networks, comma-separated): anyone else's X-Forwarded-For is ignored and the
# client is the socket's address (docs/deploying.md). The default covers loopback and the
# private ranges a container network uses; name your proxies' addresses in production.
RATELIMIT_TRUSTED_PROXIES = env_int("RATELIMIT_TRUSTED_PROXIES", 0, minimum=0)
RATELIMIT_TRUSTED_PROXY_ADDRESSES = env_list(
    "RATELIMIT_TRUSTED_PROXY_ADDRESSES",
    ["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"],
)
for _proxy in RATELIMIT_TRUSTED_PROXY_ADDRESSES:
    try:
        ipaddress.ip_network(_proxy.strip(), strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"RATELIMIT_TRUSTED_PROXY_ADDRESSES: {_proxy!r} is not an address or network"
        ) from None
# A client throttled more than BAN_AFTER times within BAN_WINDOW seconds is banned (418)
# for BAN_BASE_SECONDS, doubling with each ban in a row up to BAN_MAX_SECONDS.
RATELIMIT_BAN_AFTER = env_int("RATELIMIT_BAN_AFTER", 20, minimum=1)
RATELIMIT_BAN_WINDOW = env_int("RATELIMIT_BAN_WINDOW", 300, minimum=1)
RATELIMIT_BAN_BASE_SECONDS = env_int("RATELIMIT_BAN_BASE_SECONDS", 300, minimum=1)
RATELIMIT_BAN_MAX_SECONDS = env_int("RATELIMIT_BAN_MAX_SECONDS", 3 * 24 * 3600, minimum=1)
# How long a web process keeps the RateLimitPolicy rows before reading them again.
RATELIMIT_POLICY_TTL = env_int("RATELIMIT_POLICY_TTL", 10, minimum=0)
# The HTTP edge (docs/edge.md): the largest request body the API reads; a larger one is a
# 400 with code 101 (also Django's limit for any body it reads, the admin's included).
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 1024 * 1024, minimum=1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES
# Seconds a web process keeps a networkId -> Network lookup (exchange/api/networks.py).
NETWORK_CACHE_SECONDS = env_int("NETWORK_CACHE_SECONDS", 5, minimum=0)
# Longest life of a get_orderbook / get_ticker / get_chart_data snapshot in the Redis
# cache (exchange/market_snapshots.py); 0 turns them off (the default without Redis).
MARKET_DATA_CACHE_SECONDS = env_int("MARKET_DATA_CACHE_SECONDS", 1 if REDIS_URL else 0, minimum=0)
# /healthz: how long to wait for each node's eth_blockNumber (the whole question), and how
# long a node's answer is kept before one process asks again (docs/edge.md).
HEALTH_NODE_TIMEOUT = env_int("HEALTH_NODE_TIMEOUT", 1, minimum=1)
HEALTH_CACHE_SECONDS = env_int("HEALTH_CACHE_SECONDS", 2, minimum=0)
# Operator dashboard: seconds to wait for a node's head, seconds the head (or "node
# unreachable") is kept in the cache, and the age after which a queued withdrawal is stuck.
DASHBOARD_NODE_TIMEOUT = env_int("DASHBOARD_NODE_TIMEOUT", 2, minimum=1)
DASHBOARD_HEAD_CACHE_SECONDS = env_int("DASHBOARD_HEAD_CACHE_SECONDS", 10, minimum=0)
DASHBOARD_STUCK_SECONDS = env_int("DASHBOARD_STUCK_SECONDS", 600, minimum=1)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "exchange.api.observability.RequestIdFilter"}},
    "formatters": {
        "keyvalue": {
            "format": (
                "%(asctime)s level=%(levelname)s logger=%(name)s "
                "request_id=%(request_id)s %(message)s"
            )
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "keyvalue",
            "filters": ["request_id"],
        }
    },
    "root": {
        "handlers": ["console"],
        "level": env_choice("LOG_LEVEL", "INFO", ["DEBUG", "INFO", "WARNING", "ERROR"]),
    },
}

# Streams (docs/streams.md): the WebSocket API at /ws on the same port (relayer/serve.py).
INSTALLED_APPS.append("channels")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "capacity": 10_000, "expiry": 30},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
# Commits are sent to the other processes' hubs through the layer only with Redis.
STREAMS_LAYER_PUBLISH = bool(REDIS_URL)
# Milliseconds between the hub's sweeps of the outbox (without Redis: how the Celery
# worker's events reach the web process).
STREAMS_SWEEP_MS = env_int("STREAMS_SWEEP_MS", 1000 if REDIS_URL else 200, minimum=10)
# Bytes of frames waiting for one WebSocket client (its socket's write buffer) before it
# is closed with 1008 (a client that stopped reading).
STREAMS_SEND_BUFFER_BYTES = env_int("STREAMS_SEND_BUFFER_BYTES", 1024 * 1024, minimum=1024)
# The outbox (exchange/streams/pruning.py): events older than this are deleted (every
# hub has delivered them long before); beat prunes every STREAMS_PRUNE_SECONDS, at most
# STREAMS_PRUNE_BATCHES batches of STREAMS_PRUNE_BATCH_SIZE rows a run.
STREAMS_OUTBOX_KEEP_SECONDS = env_int("STREAMS_OUTBOX_KEEP_SECONDS", 3600, minimum=60)
STREAMS_PRUNE_SECONDS = env_int("STREAMS_PRUNE_SECONDS", 60, minimum=1)
STREAMS_PRUNE_BATCH_SIZE = env_int("STREAMS_PRUNE_BATCH_SIZE", 5000, minimum=1)
STREAMS_PRUNE_BATCHES = env_int("STREAMS_PRUNE_BATCHES", 20, minimum=1)
CELERY_BEAT_SCHEDULE["streams-outbox-prune"] = {
    "task": "exchange.streams_outbox_prune",
    "schedule": float(STREAMS_PRUNE_SECONDS),
}
