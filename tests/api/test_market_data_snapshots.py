"""The market-data snapshots (exchange/market_snapshots.py) never show what a user
would notice is stale: a committed placement, cancel or fill shows on the next read,
and an order never shows past its expiry, though the snapshots here could otherwise
live for ten minutes. The writes commit for real (transactional tests), so their
on-commit version bumps run as in production."""

import time

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from exchange import market_snapshots
from exchange.models import Order
from tests.api.test_orders import ask, bid
from tests.factories import MarketFactory, TokenFactory
from tests.signing import signed_cancel
from tests.trading import fill_payload, place

pytestmark = pytest.mark.django_db(transaction=True)

ETH = 10**18


@pytest.fixture(autouse=True)
def _long_snapshots(settings):
    settings.MARKET_DATA_CACHE_SECONDS = 600


def book(api) -> dict:
    response = api.post("/get_orderbook", {"market": "ETH_TST"}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def book_hashes(api) -> dict[str, list[str]]:
    found = book(api)
    return {
        side: [order["orderHash"] for order in found[side]["records"]] for side in ("bids", "asks")
    }


def ticker(api) -> dict:
    response = api.post("/get_ticker", {"market": "ETH_TST"}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["records"][0]


def chart(api, order: Order) -> list:
    at_ms = int(order.created_at.timestamp() * 1000)
    body = {
        "market": "ETH_TST",
        "periodInSeconds": "300",
        "startingTimestampInMilliseconds": str(at_ms - 3_600_000),
        "endingTimestampInMilliseconds": str(at_ms + 3_600_000),
    }
    response = api.post("/get_chart_data", body, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def test_a_placed_order_shows_on_the_next_read(api, network, market, trader):
    assert book_hashes(api) == {"bids": [], "asks": []}
    assert ticker(api)["highestBid"] == "N/A"

    placed = api.post("/create_orders", bid(network, market, trader), format="json")
    assert placed.status_code == 201

    assert book_hashes(api) == {"bids": [placed.json()["orderHash"]], "asks": []}
    assert ticker(api)["highestBid"] == "0.5"


def test_a_cancelled_order_leaves_the_next_read(api, network, market, trader):
    placed = api.post("/create_orders", ask(network, market, trader), format="json").json()
    assert book_hashes(api)["asks"] == [placed["orderHash"]]
    assert ticker(api)["lowestAsk"] == "0.5"

    cancel = signed_cancel(trader, order_hash=placed["orderHash"])
    assert api.post("/delete_orders", cancel, format="json").status_code == 200

    assert book_hashes(api)["asks"] == []
    assert ticker(api)["lowestAsk"] == "N/A"


def test_a_fill_shows_on_the_next_read(api, network, market, fees, maker, taker):
    order = place(
        maker, give_token=market.base, give_amount=2 * ETH, take_token=market.quote,
        take_amount=4000 * ETH,
    )  # fmt: skip
    assert book(api)["bids"]["records"][0]["filled"] == "0"
    assert ticker(api)["last"] == "N/A"
    assert chart(api, order) == []

    traded = api.post("/create_trades", fill_payload(taker, order, 1000 * ETH), format="json")
    assert traded.status_code == 201, traded.json()

    assert book(api)["bids"]["records"][0]["filled"] == str(1000 * ETH)
    assert ticker(api)["last"] == "0.0005"
    assert [candle["volume"] for candle in chart(api, order)] == ["0.5"]


def test_an_order_never_shows_past_its_expiry(api, network, market, trader):
    expiry_ms = int(time.time() * 1000) + 1500
    placed = api.post(
        "/create_orders", bid(network, market, trader, expiry_ms=expiry_ms), format="json"
    )
    assert placed.status_code == 201
    assert book_hashes(api)["bids"] == [placed.json()["orderHash"]]
    assert ticker(api)["highestBid"] == "0.5"

    time.sleep(max(0, expiry_ms / 1000 - time.time()) + 0.05)

    # Not swept yet: the order is still OPEN in the database, and no write bumped a version.
    assert Order.objects.get(hash=placed.json()["orderHash"]).status == "OPEN"
    assert book_hashes(api)["bids"] == []
    assert ticker(api)["highestBid"] == "N/A"


def test_a_new_market_shows_in_every_markets_ticker_at_once(api, network, market):
    assert api.post("/get_ticker", {}, format="json").json()["total"] == 1

    MarketFactory(network=network, base=market.base, quote=TokenFactory(network=network))

    assert api.post("/get_ticker", {}, format="json").json()["total"] == 2


def test_reads_come_from_the_database_while_the_cache_is_down(
    api, network, market, trader, settings, caplog
):
    placed = api.post("/create_orders", bid(network, market, trader), format="json").json()
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }

    assert book_hashes(api)["bids"] == [placed["orderHash"]]
    assert ticker(api)["highestBid"] == "0.5"
    assert "event=market_snapshot_cache_error op=read" in caplog.text


@pytest.mark.real_clock  # the snapshot expires on Redis's clock
def test_the_book_totals_lag_at_most_the_snapshot_life(api, network, market, trader, settings):
    settings.MARKET_DATA_CACHE_SECONDS = 1
    counted_at = time.time()
    assert book(api)["bids"]["total"] == 0
    placed = api.post("/create_orders", bid(network, market, trader), format="json").json()
    time.sleep(0.3)

    after = book(api)
    assert [order["orderHash"] for order in after["bids"]["records"]] == [placed["orderHash"]]
    assert after["bids"]["total"] == 0  # counted before the order, under a second ago

    time.sleep(max(0, counted_at + 1.05 - time.time()))
    assert book(api)["bids"]["total"] == 1


def test_near_its_end_one_reader_refreshes_a_snapshot_while_the_others_are_served_it(
    api, network, market, settings, monkeypatch
):
    settings.MARKET_DATA_CACHE_SECONDS = 10
    clock = [int(time.time() * 1000)]
    monkeypatch.setattr(market_snapshots, "_now_ms", lambda: clock[0])
    start = clock[0]

    def ticker_queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert api.post("/get_ticker", {"market": "ETH_TST"}, format="json").status_code == 200
        return len(captured)

    assert ticker_queries() > 0
    assert ticker_queries() == 0
    clock[0] = start + 7_600  # past REFRESH_FROM of its 10 seconds
    key = next(key for key in cache_keys("md:s:*ticker*"))
    refreshing = cache.get(key)
    assert market_snapshots._refresh_claimed(key, refreshing)  # another reader's refresh
    assert ticker_queries() == 0
    clock[0] = start + 10_000  # its end: nobody may be served it any more
    assert ticker_queries() > 0
    assert ticker_queries() == 0


def cache_keys(pattern: str) -> list[str]:
    """The Django cache's keys matching `pattern`, without its key prefix and version."""
    # Django's Redis cache keeps its client private; KEYS is for this test only.
    client = cache._cache.get_client()  # type: ignore[attr-defined]
    return [key.decode().split(":", 2)[2] for key in client.keys(f":1:{pattern}")]
