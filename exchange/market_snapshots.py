"""Short-lived snapshots of the public market-data reads (get_orderbook, get_ticker,
get_chart_data) in the Django cache (Redis).

Each snapshot is stored with the version of what it was read from: its market's, or
for every market's ticker its network's. Every change to a market's book, trades or
candles gives the market and its network a new version once it commits
(`market_data_changed`), so a read that starts after a write has returned never gets
a snapshot from before it. A snapshot also carries its own end: at most
MARKET_DATA_CACHE_SECONDS after it was read (the ticker's rolling 24 hours, and a
writer that died between its commit and the new version), and never past the
earliest expiry of an order it shows. One cache round trip reads the version and the
snapshot together. Near its end (REFRESH_FROM), one request reads it again while the
others are still served it, so a crowd of readers does not hit the database at once.
The cache failing only costs the snapshot: the read goes to the database.

Inside a request the API's rate limiter opens `bumps_deferred()`: the new versions
committed meanwhile are collected instead of sent, and the limiter writes them
(`bumps_taken()`) in the Redis round trip that counts the request's signers after the
view, before the response leaves; whatever it has not taken is sent when the deferral
closes (the view raised, nothing to count). Everywhere else (Celery workers, commands,
a request the limiter does not see) they are sent at the commit.

`recent` keeps a figure MARKET_DATA_CACHE_SECONDS whatever changes: the order book's
totals (a count over every open order of a side), which may lag that long.
"""

import logging
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

logger = logging.getLogger(__name__)

# (version, refresh from, ends at (both Unix ms), value)
Snapshot = tuple[str, int, int, Any]
# A snapshot is read again by one request once this part of its life has passed, while
# the others are still served it: they only wait for the database at its end.
REFRESH_FROM = 0.75


def _market_key(market_id: int) -> str:
    return f"md:v:market:{market_id}"


def _network_key(network_id: int) -> str:
    return f"md:v:network:{network_id}"


def _new_version() -> str:
    return secrets.token_hex(8)


# The version keys committed while a request's deferral is open (None: no deferral).
_deferred: ContextVar[dict[str, None] | None] = ContextVar("market_data_deferred", default=None)


def _versions(keys: Iterable[str]) -> dict[str, str]:
    # A random version is never reused, so a lost or evicted key cannot revive a snapshot.
    return {key: _new_version() for key in keys}


def _bump(keys: Iterable[str]) -> None:
    try:
        cache.set_many(_versions(keys), timeout=None)
    except Exception:
        bump_failed()


def bump_failed() -> None:
    """Logs a failed write of new versions (call it inside the `except`)."""
    logger.warning("event=market_snapshot_cache_error op=bump", exc_info=True)


def _committed(keys: list[str]) -> None:
    deferred = _deferred.get()
    if deferred is None:
        _bump(keys)
    else:
        deferred.update(dict.fromkeys(keys))


def market_data_changed(*, network_id: int, market_ids: Iterable[int]) -> None:
    """New versions for these markets and their network once the current transaction
    commits (at once outside one); inside `bumps_deferred()`, collected at the commit
    instead. Nothing without snapshots (no Redis)."""
    if not _enabled():
        return
    keys = [_market_key(market_id) for market_id in set(market_ids)]
    keys.append(_network_key(network_id))
    transaction.on_commit(lambda: _committed(keys), robust=True)


@contextmanager
def bumps_deferred() -> Iterator[None]:
    """While open (in this thread or task), the new versions that commit are collected,
    not sent: `bumps_taken()` hands them to the caller, and the exit sends whatever was
    not taken (one cache round trip, as at a commit), also when the block raises. The
    caller must write what it takes before a reader can be told of the change (before
    the request's response leaves)."""
    collected: dict[str, None] = {}
    token = _deferred.set(collected)
    try:
        yield
    finally:
        _deferred.reset(token)
        if collected:
            _bump(collected)


def bumps_taken() -> dict[str, str]:
    """The new versions collected so far by the open deferral, as the cache entries to
    write ({cache key: version}, no expiry); {} when none or no deferral is open. The
    caller now owes their write (call bump_failed() if it fails)."""
    deferred = _deferred.get()
    if not deferred:
        return {}
    versions = _versions(deferred)
    deferred.clear()
    return versions


def _enabled() -> bool:
    return settings.MARKET_DATA_CACHE_SECONDS > 0


def _now_ms() -> int:
    return int(time.time() * 1000)


def _store(key: str, value: tuple, ends: int, now: int) -> None:
    try:
        cache.set(key, value, timeout=-(-(ends - now) // 1000))
    except Exception:
        logger.warning("event=market_snapshot_cache_error op=write", exc_info=True)


def recent(key: str, read: Callable[[], Any]) -> tuple[Any, int | None]:
    """read()'s value, read again once MARKET_DATA_CACHE_SECONDS have passed; with it
    the moment (Unix ms) it is due to be read again, None when not kept."""
    if not _enabled():
        return read(), None
    key = f"md:r:{key}"
    now = _now_ms()
    try:
        stored = cache.get(key)
    except Exception:
        logger.warning("event=market_snapshot_cache_error op=read", exc_info=True)
        return read(), None
    if stored is not None and now < stored[0]:
        return stored[1], stored[0]
    value = read()
    ends = now + settings.MARKET_DATA_CACHE_SECONDS * 1000
    _store(key, (ends, value), ends, now)
    return value, ends


def _refresh_claimed(snapshot_key: str, stored: Snapshot) -> bool:
    """True for the first request to ask after the snapshot's refresh time."""
    try:
        return cache.add(f"{snapshot_key}:refresh:{stored[2]}", 1, timeout=1)
    except Exception:
        logger.warning("event=market_snapshot_cache_error op=claim", exc_info=True)
        return False


def _read(version_key: str, snapshot_key: str) -> tuple[str | None, Snapshot | None]:
    found = cache.get_many([version_key, snapshot_key])
    return found.get(version_key), found.get(snapshot_key)


def snapshot(
    *,
    market_id: int | None = None,
    network_id: int,
    key: str,
    read: Callable[[], tuple[Any, int | None]],
) -> Any:
    """The value `read()` returns, from the cache when a snapshot of the current
    version is still valid. `read` returns (value, the moment in Unix ms it must not be
    shown from, or None): the earliest expiry of an order it shows, or the end of a
    `recent` figure in it. Keyed by `key` (the request's normalised
    parameters) within the market, or the network when market_id is None."""
    if not _enabled():
        return read()[0]
    version_key = _network_key(network_id) if market_id is None else _market_key(market_id)
    snapshot_key = f"md:s:{version_key}:{key}"
    try:
        version, stored = _read(version_key, snapshot_key)
        if version is None:
            cache.add(version_key, _new_version(), timeout=None)
            version = cache.get(version_key)
    except Exception:
        logger.warning("event=market_snapshot_cache_error op=read", exc_info=True)
        return read()[0]
    now = _now_ms()
    if (
        stored is not None
        and stored[0] == version
        and now < stored[2]
        and (now < stored[1] or not _refresh_claimed(snapshot_key, stored))
    ):
        return stored[3]
    value, valid_until = read()
    ends = now + settings.MARKET_DATA_CACHE_SECONDS * 1000
    if valid_until is not None:
        ends = min(ends, valid_until)
    if version is not None and ends > now:
        refresh_from = now + int((ends - now) * REFRESH_FROM)
        _store(snapshot_key, (version, refresh_from, ends, value), ends, now)
    return value
