"""The ticker and the candles, against figures computed by hand."""

from datetime import UTC, datetime

import pytest

from exchange.models import Candle, Market, OrderStatus
from exchange.paging import PageRequest
from exchange.selectors.market_data import candles_get, ticker_get, ticker_list
from tests.factories import MarketFactory, TokenFactory
from tests.signing import new_signer
from tests.trading import execute, fill, place

pytestmark = pytest.mark.django_db

ETH, USDC = 10**18, 10**6
NOW = datetime(2026, 11, 21, 0, 2, 30, tzinfo=UTC)  # the window starts 2026-11-20 00:02:30


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def eth_usdc(network, ether):
    eth = ether
    usdc = TokenFactory(network=network, symbol="USDC", decimals=6)
    return MarketFactory(network=network, base=eth, quote=usdc)


@pytest.fixture
def book(eth_usdc, fund):
    """A maker's live orders (asks at 0.0005, 0.0006, 0.00055; a bid at 0.0004) and a
    taker, both funded; plus a better bid that has expired and a better ask cancelled."""
    eth, usdc = eth_usdc.base, eth_usdc.quote
    maker, taker = new_signer(), new_signer()
    for signer in (maker, taker):
        fund(signer, eth, 100 * ETH)
        fund(signer, usdc, 100_000 * USDC)
    orders = {
        "a1": place(
            maker, give_token=usdc, give_amount=1000 * USDC, take_token=eth, take_amount=ETH // 2
        ),
        "a2": place(
            maker,
            give_token=usdc,
            give_amount=1000 * USDC,
            take_token=eth,
            take_amount=6 * ETH // 10,
        ),
        "a3": place(
            maker,
            give_token=usdc,
            give_amount=1000 * USDC,
            take_token=eth,
            take_amount=55 * ETH // 100,
        ),
        "b1": place(
            maker,
            give_token=eth,
            give_amount=4 * ETH // 10,
            take_token=usdc,
            take_amount=1000 * USDC,
        ),
    }
    expired = place(
        maker, give_token=eth, give_amount=ETH, take_token=usdc, take_amount=2000 * USDC
    )
    expired.expiry_ms = int(NOW.timestamp() * 1000)  # expires exactly at NOW: no longer live
    expired.save()
    cancelled = place(
        maker, give_token=usdc, give_amount=1000 * USDC, take_token=eth, take_amount=ETH // 10
    )
    cancelled.status = OrderStatus.CANCELLED
    cancelled.save()
    return maker, taker, orders


@pytest.fixture
def traded(network, eth_usdc, book):
    """t0 before the window (in the same 5-minute bucket as its start), t1 in that bucket
    but inside the window, t2 mid-window, t3 a minute before NOW."""
    _, taker, o = book
    plan = [
        ("2026-11-20 00:02:00", o["a1"], ETH // 10),  # 200 USDC at 0.0005
        ("2026-11-20 00:03:00", o["a2"], 6 * ETH // 100),  # 100 USDC at 0.0006
        ("2026-11-20 12:00:00", o["b1"], 250 * USDC),  # 0.1 ETH at 0.0004
        ("2026-11-21 00:01:00", o["a3"], 55 * ETH // 1000),  # 100 USDC at 0.00055
    ]
    return [
        execute(network, [fill(taker, order, amount)], at=at(when))[0]
        for when, order, amount in plan
    ]


def test_the_ticker_of_a_market_traded_around_its_window(eth_usdc, traded):
    assert ticker_get(market=eth_usdc, now=NOW) == {
        "baseTokenAddress": eth_usdc.base.address,
        "quoteTokenAddress": eth_usdc.quote.address,
        "last": "0.00055",
        # t1..t3 only: t0 shares t1's 5-minute candle but is outside the window.
        "high": "0.0006",
        "low": "0.0004",
        "lowestAsk": "0.0005",
        "highestBid": "0.0004",
        # Against t0, the last price before the window: 0.00055 / 0.0005 - 1 = +10%.
        "percentChange": "10",
        "baseVolume": "0.215",  # 0.06 + 0.1 + 0.055 ETH
        "quoteVolume": "450",  # 100 + 250 + 100 USDC
    }


def test_without_a_price_before_the_window_the_change_is_against_its_first(eth_usdc, traded):
    traded[0].delete()
    ticker = ticker_get(market=eth_usdc, now=NOW)
    # 0.00055 / 0.0006 - 1 = -8.333...%, to 8 places.
    assert ticker["percentChange"] == "-8.33333333"


def test_a_market_without_trades_or_orders_shows_na_and_zeros(network, eth_usdc):
    assert ticker_get(market=eth_usdc, now=NOW) == {
        "baseTokenAddress": eth_usdc.base.address,
        "quoteTokenAddress": eth_usdc.quote.address,
        "last": "N/A",
        "high": "N/A",
        "low": "N/A",
        "lowestAsk": "N/A",
        "highestBid": "N/A",
        "percentChange": "0",
        "baseVolume": "0",
        "quoteVolume": "0",
    }


def test_a_market_traded_only_before_the_window_has_a_last_price_but_no_range(eth_usdc, traded):
    later = at("2026-11-22 06:00:00")
    ticker = ticker_get(market=eth_usdc, now=later)
    assert (ticker["last"], ticker["high"], ticker["low"]) == ("0.00055", "N/A", "N/A")
    assert (ticker["percentChange"], ticker["baseVolume"], ticker["quoteVolume"]) == ("0", "0", "0")


def test_ticker_list_covers_every_market_and_paginates(network, eth_usdc, market, traded):
    total, records = ticker_list(network=network, page=PageRequest(1, 100), now=NOW)
    assert total == 2
    assert [r["quoteTokenAddress"] for r in records] == [
        m.quote.address for m in Market.objects.order_by("id")
    ]
    total, records = ticker_list(network=network, page=PageRequest(2, 1), now=NOW)
    assert (total, len(records)) == (2, 1)
    total, records = ticker_list(
        network=network, page=PageRequest(1, 100), market=eth_usdc, now=NOW
    )
    assert (total, records[0]["last"]) == (1, "0.00055")


def test_daily_candles(eth_usdc, traded):
    start, end = int(at("2026-11-20 00:00:00").timestamp()), int(NOW.timestamp())
    assert candles_get(market=eth_usdc, period=86400, start_s=start, end_s=end) == [
        {
            "date": str(start),
            "high": "0.0006",
            "low": "0.0004",
            "open": "0.0005",
            "close": "0.0004",
            "volume": "0.26",  # 0.1 + 0.06 + 0.1 ETH
            "quoteVolume": "550",  # 200 + 100 + 250 USDC
            # 0.26 / 550, half-even to 36 places.
            "weightedAverage": "0.000472727272727272727272727272727273",
        },
        {
            "date": str(start + 86400),
            "high": "0.00055",
            "low": "0.00055",
            "open": "0.00055",
            "close": "0.00055",
            "volume": "0.055",
            "quoteVolume": "100",
            "weightedAverage": "0.00055",
        },
    ]


def test_five_minute_candles_cover_the_buckets_that_overlap_the_range(eth_usdc, traded):
    # 00:04:00 lies in the 00:00-00:05 bucket, which holds t0 and t1.
    start, end = (
        int(at("2026-11-20 00:04:00").timestamp()),
        int(at("2026-11-20 12:00:00").timestamp()),
    )
    candles = candles_get(market=eth_usdc, period=300, start_s=start, end_s=end)
    assert [(c["date"], c["open"], c["close"], c["volume"], c["quoteVolume"]) for c in candles] == [
        (str(int(at("2026-11-20 00:00:00").timestamp())), "0.0005", "0.0006", "0.16", "300"),
        (str(end), "0.0004", "0.0004", "0.1", "250"),
    ]


def test_an_empty_range_has_no_candles(eth_usdc, traded):
    start = int(at("2026-11-20 01:00:00").timestamp())
    assert candles_get(market=eth_usdc, period=300, start_s=start, end_s=start + 3600) == []


def test_every_trade_updates_one_candle_of_every_period(eth_usdc, traded):
    assert Candle.objects.filter(period=300).count() == 3  # t0 and t1 share one
    assert Candle.objects.filter(period=86400).count() == 2
    assert Candle.objects.filter(period=14400).count() == 3
    day = Candle.objects.get(period=86400, bucket_start=int(at("2026-11-20 00:00:00").timestamp()))
    assert (day.trade_count, day.first_trade_id, day.last_trade_id) == (
        3,
        traded[0].id,
        traded[2].id,
    )
