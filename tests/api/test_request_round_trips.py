"""The Redis commands one create_orders request sends, counted on the real Redis with
MONITOR (no mock): the rate limiter's script before the view also reads the reference
cache's generation token (exchange/selectors/reference_cache.py), so the order's market
lookup sends no GET of its own, and its script after the view writes the market data's
new versions (exchange/market_snapshots.py) with the signer's count."""

import threading
import uuid

import pytest
import redis
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache

from exchange.cache_redis import cache_location
from tests.api.test_orders import bid
from tests.signing import signed_cancel

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres_only]


def _monitored(call) -> list[dict]:
    """The commands sent to the cache's Redis database while `call` runs, outside Lua
    scripts (each is one round trip of the client; a pipeline's are listed one by one)."""
    url = cache_location(settings.RATELIMIT_USE_CACHE)
    client = redis.Redis.from_url(url)
    db = client.connection_pool.connection_kwargs.get("db", 0)
    sentinel = f"round-trips-{uuid.uuid4().hex}"
    seen: list[dict] = []
    ready = threading.Event()

    def listen():
        with client.monitor() as monitor:
            ready.set()
            for command in monitor.listen():
                if sentinel in command["command"]:
                    return
                if command.get("db") == db and command.get("client_type") != "lua":
                    seen.append(command)

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    assert ready.wait(5)
    # MONITOR is started once its reply has come: a command now is seen.
    redis.Redis.from_url(url).ping()
    try:
        call()
    finally:
        redis.Redis.from_url(url).echo(sentinel)
        thread.join(10)
    return [c for c in seen if c["command"] != "PING"]


def test_a_create_orders_request_takes_two_redis_round_trips(
    api, network, market, fees, maker, settings
):
    if not isinstance(caches["default"], RedisCache):
        pytest.skip("needs the Redis cache (REDIS_URL)")
    settings.MARKET_DATA_CACHE_SECONDS = max(settings.MARKET_DATA_CACHE_SECONDS, 1)
    # Warm: the scripts loaded, the reference rows and the policies kept.
    assert api.post("/create_orders", bid(network, market, maker), format="json").status_code == 201
    payload = bid(network, market, maker)
    commands = _monitored(lambda: _created(api, payload))
    names = [c["command"].split()[0].strip('"').upper() for c in commands]
    # The helper's own connections select the database first; the channel layer's
    # group_send of the order's stream events (ZREMRANGEBYSCORE, ZRANGE) is not the
    # cache's.
    cache_names = [n for n in names if n not in ("SELECT", "ZREMRANGEBYSCORE", "ZRANGE")]
    # Before the view: the limiter's script (counters, ban states, generation token);
    # after the view: the signer's count and the market-data versions the commit gave,
    # one script. No GET of the generation token, no pipeline of the versions.
    assert cache_names == ["EVALSHA", "EVALSHA"], names
    round_trips = cache_names.count("EVALSHA") + cache_names.count("EXEC")
    assert round_trips == 2, names


def _created(api, payload):
    response = api.post("/create_orders", payload, format="json")
    assert response.status_code == 201, response.content


def test_a_delete_orders_request_takes_two_redis_round_trips(
    api, network, market, fees, maker, settings
):
    if not isinstance(caches["default"], RedisCache):
        pytest.skip("needs the Redis cache (REDIS_URL)")
    settings.MARKET_DATA_CACHE_SECONDS = max(settings.MARKET_DATA_CACHE_SECONDS, 1)
    warm = api.post("/create_orders", bid(network, market, maker), format="json").json()
    assert (
        api.post(
            "/delete_orders", signed_cancel(maker, order_hash=warm["orderHash"]), format="json"
        ).status_code
        == 200
    )
    placed = api.post("/create_orders", bid(network, market, maker), format="json").json()
    cancel = signed_cancel(maker, order_hash=placed["orderHash"])

    def cancelled():
        response = api.post("/delete_orders", cancel, format="json")
        assert response.status_code == 200, response.content

    names = [c["command"].split()[0].strip('"').upper() for c in _monitored(cancelled)]
    cache_names = [n for n in names if n not in ("SELECT", "ZREMRANGEBYSCORE", "ZRANGE")]
    # The limiter's script before the view; after it, the signer's count and the
    # market-data versions of the cancel's commit in one script.
    assert cache_names == ["EVALSHA", "EVALSHA"], names
