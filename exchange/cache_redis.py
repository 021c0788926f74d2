"""A redis-py client of a Redis cache's server, for what Django's cache API cannot say in
one round trip (the rate limiter's Lua scripts, the commit marks' pipeline).

One client (and so one connection pool) per server per process; the keys it is used with
are the cache's own (`make_and_validate_key`), so the cache's API sees what it writes.
"""

from functools import cache as memoize

import redis
from django.conf import settings


def cache_location(alias: str) -> str:
    """The first server of cache `alias`'s LOCATION (the one RedisCache writes to)."""
    location = settings.CACHES[alias]["LOCATION"]
    servers = location.split(",") if isinstance(location, str) else list(location)
    return servers[0].strip()


def cache_redis(alias: str) -> redis.Redis:
    """The client of cache `alias`'s server (kept per server)."""
    return _client(cache_location(alias))


@memoize
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)
