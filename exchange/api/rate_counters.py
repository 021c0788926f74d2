"""Fixed-window request counters for the rate limits (exchange/api/throttling.py), in the
shared cache, through public APIs only.

A counter (group, value, limit, window) counts the requests of one client in one window
of `window` seconds. Windows are aligned to the epoch and shifted per value (crc32), so
the clients' windows do not all end at once: django-ratelimit's arithmetic, which these
counters replaced without changing what a client sees.

With the Redis cache, every counter of a request is counted (SET NX EX, then INCR), every
peek and every cache entry the request needs besides (its ban states) read, and the
entries it has to write (the market data's new versions, exchange/market_snapshots.py)
written, in ONE round trip: a small Lua script of ours, run by redis-py's public register_script on a client of
the cache's own Redis; the entries are encoded and decoded with RedisSerializer, RedisCache's own. Otherwise (the database cache of a
run without Redis) through Django's public cache API, one call at a time. Keys are the
cache's own (make_and_validate_key: its prefix and version), so cache.clear() clears them.
"""

import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache as memoize
from typing import Any

import redis
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache, RedisSerializer

from exchange.cache_redis import cache_redis

# A counter outlives its window by this much, so a late INCR never recreates it unexpired.
EXPIRY_MARGIN_SECONDS = 5

Counter = tuple[str, str, int, int]  # (group, value, limit, window seconds)

# KEYS: cache entries to read, the counters, the peeks, cache entries to write. ARGV[1]:
# how many reads; ARGV[2]: how many counters; ARGV[3]: how many writes; then each
# counter's TTL, then each write's value (kept without expiry). Returns each read's raw
# value (nil if none), each counter's count after this request, each peek's count (0 if
# none).
_COUNT_SCRIPT = """
local reads, counted, writes = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local peeked = #KEYS - writes
local answers = {}
for i = 1, reads do
  answers[i] = redis.call('GET', KEYS[i])
end
for i = reads + 1, reads + counted do
  redis.call('SET', KEYS[i], 0, 'EX', ARGV[i - reads + 3], 'NX')
  answers[i] = redis.call('INCR', KEYS[i])
end
for i = reads + counted + 1, peeked do
  answers[i] = tonumber(redis.call('GET', KEYS[i]) or '0')
end
for i = peeked + 1, #KEYS do
  redis.call('SET', KEYS[i], ARGV[i - peeked + counted + 3])
end
return answers
"""
_UNCOUNT_SCRIPT = """
for i = 1, #KEYS do
  redis.call('DECR', KEYS[i])
end
return #KEYS
"""
# How RedisCache stores values (its default serializer): read entries are decoded with it.
_serializer = RedisSerializer()


@dataclass(frozen=True)
class Usage:
    limit: int
    count: int
    time_left: int

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.count)

    @property
    def exceeded(self) -> bool:
        return self.count > self.limit


def clock() -> int:
    """The counters' clock (tests freeze it)."""
    return int(time.time())


def window_end(value: str, window: int, now: int) -> int:
    """When the current window of `value` ends."""
    if window == 1:
        return now
    end = now - (now % window) + (zlib.crc32(value.encode()) % window)
    return end + window if end < now else end


def count(
    counters: Sequence[Counter],
    peeks: Sequence[Counter] = (),
    reads: Sequence[str] = (),
    writes: Mapping[str, Any] | None = None,
) -> tuple[dict, list[Usage]]:
    """One more request on each counter, and what each peek would say with this request
    counted (nothing written there), in that order; with the cache entries `reads` (cache
    keys: the ban states the request needs too) read in the same round trip, as
    {key: value} for those present, and the cache entries `writes` ({cache key: value})
    written there without expiry. Raises if the cache is down."""
    writes = writes or {}
    now = clock()
    store = caches[settings.RATELIMIT_USE_CACHE]
    everything = [*counters, *peeks]
    ends = [window_end(value, window, now) for _, value, _, window in everything]
    keys = [_key(store, counter, end) for counter, end in zip(everything, ends, strict=True)]
    ttls = [window + EXPIRY_MARGIN_SECONDS for _, _, _, window in counters]
    if isinstance(store, RedisCache):
        read_keys = [store.make_and_validate_key(key) for key in reads]
        write_keys = [store.make_and_validate_key(key) for key in writes]
        values = [_serializer.dumps(value) for value in writes.values()]
        answers = _scripts()[0](
            keys=[*read_keys, *keys, *write_keys],
            args=[len(read_keys), len(counters), len(write_keys), *ttls, *values],
        )
        found = {
            key: _serializer.loads(raw)
            for key, raw in zip(reads, answers[: len(reads)], strict=True)
            if raw is not None
        }
        counts = answers[len(reads) :]
    else:
        found = store.get_many(list(reads))
        counts = [_count_one(store, key, ttl) for key, ttl in zip(keys, ttls, strict=False)]
        counts += [store.get(key, 0) for key in keys[len(counters) :]]
        if writes:
            store.set_many(dict(writes), timeout=None)
    peeked = [0] * len(counters) + [1] * len(peeks)
    return found, [
        Usage(limit=limit, count=int(n) + peek, time_left=max(0, end - now))
        for (_, _, limit, _), end, n, peek in zip(everything, ends, counts, peeked, strict=True)
    ]


def uncount(counters: list[Counter]) -> None:
    """Takes back the request count() just counted on `counters` (in the same window)."""
    now = clock()
    store = caches[settings.RATELIMIT_USE_CACHE]
    keys = [_key(store, counter, window_end(counter[1], counter[3], now)) for counter in counters]
    if isinstance(store, RedisCache):
        _scripts()[1](keys=keys)
    else:
        for key in keys:
            store.decr(key)


def _key(store, counter: Counter, end: int) -> str:
    group, value, limit, window = counter
    return store.make_and_validate_key(f"ratelimit:{group}:{limit}/{window}s:{value}:{end}")


def _count_one(store, key: str, ttl: int) -> int:
    store.add(key, 0, ttl)
    try:
        return store.incr(key)
    except ValueError:  # expired between the two calls
        store.add(key, 1, ttl)
        return 1


def _scripts():
    """(count, uncount) on the client of the counters' cache's Redis."""
    return _registered(cache_redis(settings.RATELIMIT_USE_CACHE))


@memoize
def _registered(client: redis.Redis):
    return client.register_script(_COUNT_SCRIPT), client.register_script(_UNCOUNT_SCRIPT)
