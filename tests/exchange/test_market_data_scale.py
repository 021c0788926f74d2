"""The ticker and charts over a market with many trades: served by indexes and the
Candle table, never by a scan of the trades. SCALE_TRADES sets the count (default
50,000; the README quotes timings at 1,000,000)."""

import os
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Max, Min, Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from exchange.models import CANDLE_PERIODS, Candle, Order, Token, Trade
from exchange.selectors.market_data import candles_get, ticker_get
from exchange.trading_math import decimal_str, to_human
from tests.factories import MarketFactory, NetworkFactory, TokenFactory

# Seeds with generate_series and reads EXPLAIN plans.
pytestmark = [pytest.mark.django_db, pytest.mark.postgres_only]

TRADES = int(os.environ.get("SCALE_TRADES", "50000"))
SPAN = timedelta(days=365)


def insert_trades(market, order, count: int, now) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO exchange_trade (
                uuid, network_id, market_id, order_id, maker, taker, give_token_id, give_amount,
                take_token_id, take_amount, hash, nonce, signature, buyer_fee, seller_fee,
                maker_fee, taker_fee, gas_fee, price, quote_amount, base_amount, taker_side,
                settlement_status, transaction_hash, settlement_error, created_at)
            SELECT gen_random_uuid(), %(network)s, %(market)s, %(order)s,
                   '0x' || lpad(to_hex(i %% 101), 40, '0'), '0x' || lpad(to_hex(i %% 103), 40, 'f'),
                   %(base)s, 10000 + i, %(quote)s, 20000000 + i * 7,
                   '0x' || lpad(to_hex(i), 64, '0'), i, '0x', 0, 0, 0, 0, 0,
                   0.0005 + (i %% 997) * 0.000001, 20000000 + i * 7, 10000 + i,
                   CASE WHEN i %% 2 = 0 THEN 'buy' ELSE 'sell' END, 'UNSETTLED', '', '',
                   %(now)s - %(span)s * ((%(count)s - i)::float / %(count)s)
            FROM generate_series(1, %(count)s) AS i
            """,
            {
                "network": market.network_id,
                "market": market.id,
                "order": order.id,
                "base": market.base_id,
                "quote": market.quote_id,
                "count": count,
                "now": now,
                # psycopg sends a timedelta as an interval; django-stubs' SQL types omit it.
                "span": SPAN,  # type: ignore[dict-item]
            },
        )
        # The candles as trade_execute would have kept them, computed in one statement.
        cursor.execute(
            """
            INSERT INTO exchange_candle (market_id, period, bucket_start, open, high, low, close,
                base_volume, quote_volume, trade_count, first_trade_id, last_trade_id)
            SELECT market_id, p, bucket, (array_agg(price ORDER BY id))[1], max(price),
                   min(price), (array_agg(price ORDER BY id DESC))[1], sum(base_amount),
                   sum(quote_amount), count(*), min(id), max(id)
            FROM (SELECT t.*, p, floor(extract(epoch FROM created_at))::bigint / p * p AS bucket
                  FROM exchange_trade t CROSS JOIN unnest(%(periods)s::int[]) AS p
                  WHERE market_id = %(market)s) AS x
            GROUP BY market_id, p, bucket
            """,
            {"market": market.id, "periods": list(CANDLE_PERIODS)},
        )
        cursor.execute("ANALYZE exchange_trade")
        cursor.execute("ANALYZE exchange_candle")


@pytest.fixture(scope="module")
def busy_market(django_db_setup, django_db_blocker):
    """Inserted and committed once for the module, removed afterwards: tests only read."""
    with django_db_blocker.unblock():
        network = NetworkFactory(id=434343, exchange_address="0x" + "ab" * 20)
        market = MarketFactory(
            network=network,
            base=TokenFactory(network=network, ether=True),
            quote=TokenFactory(network=network, symbol="BUSY", decimals=6),
        )
        order = Order.objects.create(
            network=network, market=market, account="0x" + "11" * 20, give_token=market.base,
            give_amount=1, take_token=market.quote, take_amount=1, nonce=1, expiry_ms=1,
            hash="0x" + "99" * 32, signature="0x", side="BID", price=1, status="FILLED", filled=1,
        )  # fmt: skip
        now = timezone.now().replace(microsecond=0)
        started = time.perf_counter()
        insert_trades(market, order, TRADES, now)
        print(
            f"\nscale: inserted {TRADES} trades and their candles in {time.perf_counter() - started:.1f}s"
        )
        yield market, now
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM exchange_candle WHERE market_id = %s", [market.id])
            cursor.execute("DELETE FROM exchange_trade WHERE market_id = %s", [market.id])
        order.delete()
        market.delete()
        Token.objects.filter(network=network).delete()
        network.delete()


def plans(queries) -> list[str]:
    result = []
    with connection.cursor() as cursor:
        for query in queries:
            if query["sql"].startswith("SELECT"):
                cursor.execute("EXPLAIN " + query["sql"])
                result.append("\n".join(row[0] for row in cursor.fetchall()))
    return result


def test_the_ticker_reads_indexes_and_candles_only(busy_market):
    market, now = busy_market
    with CaptureQueriesContext(connection) as captured:
        started = time.perf_counter()
        ticker = ticker_get(market=market, now=now)
        elapsed = time.perf_counter() - started
    print(
        f"\nscale: ticker over {TRADES} trades in {elapsed * 1000:.1f}ms, {len(captured)} queries"
    )
    assert len(captured) <= 10
    for plan in plans(captured.captured_queries):
        assert "Seq Scan on exchange_trade" not in plan, plan
        assert "Seq Scan on exchange_candle" not in plan, plan
    # The same figures straight from the trades of the window.
    window = Trade.objects.filter(
        market=market, created_at__gte=now - timedelta(hours=24), created_at__lte=now
    )
    raw = window.aggregate(
        high=Max("price"), low=Min("price"), base=Sum("base_amount"), quote=Sum("quote_amount")
    )
    assert ticker["high"] == decimal_str(raw["high"])
    assert ticker["low"] == decimal_str(raw["low"])
    assert ticker["baseVolume"] == decimal_str(to_human(raw["base"], 18))
    assert ticker["quoteVolume"] == decimal_str(to_human(raw["quote"], 6))


@pytest.mark.parametrize("period", [300, 86400])
def test_a_chart_reads_the_candle_index(busy_market, period):
    market, now = busy_market
    end = int(now.timestamp())
    with CaptureQueriesContext(connection) as captured:
        started = time.perf_counter()
        candles = candles_get(market=market, period=period, start_s=end - 30 * 86400, end_s=end)
        elapsed = time.perf_counter() - started
    print(f"\nscale: {len(candles)} candles of {period}s in {elapsed * 1000:.1f}ms")
    assert len(candles) == len({int(c["date"]) for c in candles}) > 0
    for plan in plans(captured.captured_queries):
        assert "Seq Scan" not in plan, plan
    total = Candle.objects.filter(market=market, period=period).count()
    assert total >= len(candles)
