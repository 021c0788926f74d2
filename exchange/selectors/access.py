"""Reads for API access control: keys, bans and the rate-limit policy.

Keys and bans are read on every API request, so they are kept in the shared cache
(cache-aside; the database stays the record). Every write goes through
exchange/services/{api_keys,bans}.py, which drop the cached entry through
exchange/services/access_cache.py (access_forget): at once and again after commit, so
no replica serves a stale one. This module only reads (and fills the cache it reads).
"""

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict

from django.conf import settings
from django.core.cache import cache

from exchange.models import ApiKey, Ban, CostClass, RateLimitPolicy
from exchange.models.operations import DEFAULT_LIMITS, DEFAULT_WINDOW_SECONDS, api_key_hash

logger = logging.getLogger(__name__)

_API_KEY_CACHE_SECONDS = 60
_BAN_CACHE_SECONDS = 300


def api_key_cache_key(key_hash: str) -> str:
    return f"access:apikey:{key_hash}"


def ban_cache_key(client: str) -> str:
    return f"access:ban:{client}"


def cache_call(method: str, *args: object, default: object = None) -> Any:
    """A cache call that degrades to the database when the cache is down (`default`); the
    cache's own methods answer Any: whatever was stored."""
    try:
        return getattr(cache, method)(*args)
    except Exception:
        logger.warning("event=access_cache_error method=%s", method, exc_info=True)
        return default


def api_key_find(*, raw_key: str) -> ApiKey | None:
    """The active key with this raw value, or None for an unknown or revoked one."""
    key_hash = api_key_hash(raw_key)
    api_key: ApiKey | None = cache_call("get", api_key_cache_key(key_hash))
    if api_key is None:
        api_key = ApiKey.objects.filter(key_hash=key_hash, revoked_at__isnull=True).first()
        if api_key is not None:
            cache_call("set", api_key_cache_key(key_hash), api_key, _API_KEY_CACHE_SECONDS)
    return api_key


@dataclass(frozen=True)
class ActiveBan:
    client: str
    until: datetime
    reason: str


def ban_cache_keys(clients: list[str]) -> dict[str, str]:
    """client -> the cache key of its ban state (for a caller that batches the read)."""
    return {client: ban_cache_key(client) for client in clients}


def ban_active(*, clients: list[str], now: datetime) -> ActiveBan | None:
    """The longest ban in force on any of `clients`, or None."""
    keys = ban_cache_keys(clients)
    cached = cache_call("get_many", list(keys.values()), default={})
    found = {client: cached[key] for client, key in keys.items() if key in cached}
    return ban_from_cached(clients=clients, cached=found, now=now)


# A client's cached ban: (until, reason); (None, "") when it has none.
BanState = tuple[datetime | None, str]


def ban_from_cached(
    *, clients: list[str], cached: dict[str, BanState], now: datetime
) -> ActiveBan | None:
    """ban_active given the cached states already read (client -> state): the clients
    missing from the cache are read from the database and cached."""
    states = dict(cached)
    missing = [client for client in clients if client not in states]
    if missing:
        rows = {
            client: (until, reason)
            for client, until, reason in Ban.objects.filter(client__in=missing).values_list(
                "client", "until", "reason"
            )
        }
        fresh = {client: rows.get(client, (None, "")) for client in missing}
        states.update(fresh)
        cache_call(
            "set_many",
            {ban_cache_key(client): state for client, state in fresh.items()},
            _BAN_CACHE_SECONDS,
        )
    in_force = [
        ActiveBan(client, until, reason)
        for client, (until, reason) in states.items()
        if until is not None and until > now
    ]
    return max(in_force, key=lambda ban: ban.until, default=None)


@dataclass(frozen=True)
class Limits:
    window_seconds: int
    ip_limit: int
    account_limit: int
    api_key_limit: int


class _PolicyMemo(TypedDict):
    at: float
    limits: dict[str, Limits]


_policy_memo: _PolicyMemo = {"at": float("-inf"), "limits": {}}


def rate_limits_get(*, cost_class: CostClass) -> Limits:
    """The cost class's limits: the operator's policy row, else the built-in default.

    Kept in memory for RATELIMIT_POLICY_TTL seconds, so an edit in the admin takes
    effect on every web process within that time without a query per request.
    """
    if time.monotonic() - _policy_memo["at"] >= settings.RATELIMIT_POLICY_TTL:
        _policy_memo["limits"] = {
            policy.cost_class: Limits(
                policy.window_seconds, policy.ip_limit, policy.account_limit, policy.api_key_limit
            )
            for policy in RateLimitPolicy.objects.all()
        }
        _policy_memo["at"] = time.monotonic()
    limits = _policy_memo["limits"].get(cost_class)
    if limits is None:
        ip_limit, account_limit, key_limit = DEFAULT_LIMITS[cost_class]
        limits = Limits(DEFAULT_WINDOW_SECONDS, ip_limit, account_limit, key_limit)
    return limits


def rate_limits_forget() -> None:
    _policy_memo["at"] = float("-inf")
