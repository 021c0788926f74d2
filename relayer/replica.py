"""Public market reads on a PostgreSQL standby (DATABASE_REPLICA_URL; docs/deploying.md).

With a standby configured (settings: the `replica` database, this router and the
middleware), the public market reads (order book, ticker, chart data, tokens, markets,
and a market's trades) are read from the standby; every write, and every read of an
account's own state (orders, balances, transfers, the trades of an account or an order),
goes to the primary, so a trader always sees what they just did. Everything outside a
public read's view (the rate limiter, bans, the admin, the workers) reads the primary.

The standby's replay lag is measured at most every DATABASE_REPLICA_LAG_CHECK_SECONDS
per process; above DATABASE_REPLICA_MAX_LAG_SECONDS, or when the standby does not
answer, public reads fall back to the primary until it has caught up. The lag is in
/metrics (relayer_database_replica_lag_seconds) and on the operator dashboard.
"""

import logging
import threading
import time
from contextvars import ContextVar

from django.conf import settings
from django.db import DatabaseError, connections

from exchange.api.parsers import json_loads_bounded
from exchange.api.throttling import request_account

logger = logging.getLogger(__name__)

REPLICA = "replica"
# URL names (exchange/api/urls.py) of the public market reads.
PUBLIC_READS = frozenset({"orderbook", "ticker", "chart-data", "tokens", "markets", "get-trades"})

# Seconds of replay behind the primary: 0 when the standby has replayed all it received
# (or is a primary: promoted), else the age of the last transaction it replayed.
LAG_QUERY = """
SELECT CASE
    WHEN NOT pg_is_in_recovery() THEN 0
    WHEN pg_last_wal_receive_lsn() IS NULL THEN NULL
    WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
    ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0)
END
"""

_public_read: ContextVar[bool] = ContextVar("relayer_public_read", default=False)
_lag_guard = threading.Lock()
_lag_state: dict = {"checked": None, "lag": None}


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


def replica_lag_measure() -> float | None:
    """The standby's replay lag in seconds, asked now; None when it does not answer."""
    connection = connections[REPLICA]
    try:
        with connection.cursor() as cursor:
            cursor.execute(LAG_QUERY)
            lag = cursor.fetchone()[0]
    except DatabaseError as error:
        logger.warning("event=replica_unreachable error=%s", error)
        connection.close_if_unusable_or_obsolete()
        return None
    return None if lag is None else max(0.0, float(lag))


def replica_lag_seconds() -> float | None:
    """replica_lag_measure's answer, asked at most every DATABASE_REPLICA_LAG_CHECK_SECONDS."""
    now = time.monotonic()
    with _lag_guard:
        checked = _lag_state["checked"]
        if checked is not None and now - checked < settings.DATABASE_REPLICA_LAG_CHECK_SECONDS:
            return _lag_state["lag"]
        _lag_state["checked"] = now
    lag = replica_lag_measure()
    _lag_state["lag"] = lag
    return lag


def _within_bound(lag: float | None) -> bool:
    return lag is not None and lag <= settings.DATABASE_REPLICA_MAX_LAG_SECONDS


def replica_usable() -> bool:
    return _within_bound(replica_lag_seconds())


def replica_state() -> dict | None:
    """For the dashboard: the standby's lag and whether public reads use it; None without one."""
    if not replica_configured():
        return None
    lag = replica_lag_seconds()
    return {
        "lag": lag,
        "bound": settings.DATABASE_REPLICA_MAX_LAG_SECONDS,
        "serving": _within_bound(lag),
    }


class ReplicaRouter:
    """Reads inside a public read's view go to the standby while it is within its lag
    bound; everything else (and every write) to the primary."""

    def db_for_read(self, model, **hints) -> str:
        if _public_read.get() and replica_usable():
            return REPLICA
        return "default"

    def db_for_write(self, model, **hints) -> str:
        return "default"

    def allow_relation(self, obj1, obj2, **hints) -> bool:
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints) -> bool:
        return db == "default"


def _names_own_state(request, view_kwargs: dict) -> bool:
    """Whether a public read names an account or an order (then it is the caller's own
    state, read from the primary)."""
    if request_account(request, view_kwargs) is not None:
        return True
    if "orderHash" in request.GET:
        return True
    length = request.META.get("CONTENT_LENGTH") or "0"
    if request.method != "POST" or length == "0":
        return False
    if not length.isdigit() or int(length) > settings.API_MAX_BODY_BYTES:
        return True
    try:
        body = json_loads_bounded(request.body)
    except ValueError:
        return True
    return isinstance(body, dict) and bool(body.get("orderHash") or body.get("account"))


class PublicReadsMiddleware:
    """Marks a public read's view for ReplicaRouter (last in MIDDLEWARE)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            return self.get_response(request)
        finally:
            _public_read.set(False)

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if match is not None and match.url_name in PUBLIC_READS:
            _public_read.set(not _names_own_state(request, view_kwargs))
        return None
