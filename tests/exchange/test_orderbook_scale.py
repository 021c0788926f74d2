"""The order book at 100,000 open orders in one market: served by the order_book index."""

import time

import pytest
from django.db import connection

from exchange.models import Order, OrderSide, Token
from exchange.paging import PageRequest
from exchange.selectors.orders import orderbook_get, orderbook_side
from tests.factories import MarketFactory, NetworkFactory, TokenFactory

# Seeds with generate_series and reads EXPLAIN plans.
# real_clock: the module-scoped book is seeded before --clock-shift-days moves the clock.
pytestmark = [pytest.mark.django_db, pytest.mark.postgres_only, pytest.mark.real_clock]

OPEN_ORDERS = 100_000
# Better-priced orders that must never show: filled, cancelled, expired, open but past expiry.
HIDDEN = [("FILLED", 1), ("CANCELLED", 1), ("EXPIRED", 1), ("OPEN", -1)]


def bulk_insert(market, *, first: int, count: int, status: str, expiry_sign: int, price_sql: str):
    now = int(time.time() * 1000)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO exchange_order (
                network_id, market_id, account, give_token_id, give_amount, take_token_id,
                take_amount, nonce, expiry_ms, hash, signature, side, price, filled, status,
                created_at, updated_at)
            SELECT %(network)s, %(market)s, '0x' || lpad(to_hex(i %% 997), 40, '0'),
                   CASE WHEN i %% 2 = 0 THEN %(base)s ELSE %(quote)s END, 1000 + i,
                   CASE WHEN i %% 2 = 0 THEN %(quote)s ELSE %(base)s END, 2000 + i,
                   i, %(now)s + %(sign)s * (3600000 + (i %% 50)),
                   '0x' || lpad(to_hex(i), 64, '0'), '0x' || repeat('ab', 65),
                   CASE WHEN i %% 2 = 0 THEN 'BID' ELSE 'ASK' END,
                   {price_sql}, 0, %(status)s, now(), now()
            FROM generate_series(%(first)s, %(last)s) AS i
            """,
            {
                "network": market.network_id,
                "market": market.id,
                "base": market.base_id,
                "quote": market.quote_id,
                "now": now,
                "sign": expiry_sign,
                "status": status,
                "first": first,
                "last": first + count - 1,
            },
        )


@pytest.fixture(scope="module")
def big_book(django_db_setup, django_db_blocker):
    """Inserted and committed once for the module (a 100k-row insert is seconds), then
    truncated: the tests only read it."""
    with django_db_blocker.unblock():
        network = NetworkFactory(id=424242, exchange_address="0x" + "ab" * 20)
        market = MarketFactory(
            network=network,
            base=TokenFactory(network=network, ether=True),
            quote=TokenFactory(network=network, symbol="BIG"),
        )
        bulk_insert(
            market,
            first=1,
            count=OPEN_ORDERS,
            status="OPEN",
            expiry_sign=1,
            price_sql="0.5 + (i %% 1000) / 1000.0",
        )
        # Bids above and asks below every open order's price: first in line if shown.
        for n, (status, sign) in enumerate(HIDDEN):
            bulk_insert(
                market,
                first=OPEN_ORDERS + 1 + n * 100,
                count=100,
                status=status,
                expiry_sign=sign,
                price_sql="CASE WHEN i %% 2 = 0 THEN 9 ELSE 0.001 END",
            )
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE exchange_order")
        yield market
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE exchange_order CASCADE")
        market.delete()
        Token.objects.filter(network=network).delete()
        network.delete()


def explain(sql: str, params) -> str:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.parametrize("side", [OrderSide.BID, OrderSide.ASK])
@pytest.mark.parametrize("page", [1, 50])
def test_the_book_pages_come_from_the_order_book_index(big_book, side, page):
    orders = orderbook_side(big_book, side, int(time.time() * 1000))
    rows = PageRequest(page=page, per_page=100).slice(orders.values_list("hash", "price"))
    plan = explain(*rows.query.sql_with_params())
    assert "order_book" in plan, plan
    assert "Index" in plan and "Seq Scan" not in plan, plan


def test_the_big_book_shows_only_live_orders_in_price_order(big_book):
    book = orderbook_get(market=big_book, page=PageRequest(page=1, per_page=500))
    assert book["bids"]["total"] == book["asks"]["total"] == OPEN_ORDERS // 2
    shown = {r["orderHash"] for side in ("bids", "asks") for r in book[side]["records"]}
    statuses = set(Order.objects.filter(hash__in=shown).values_list("status", flat=True))
    assert statuses == {"OPEN"}
    live = Order.objects.filter(hash__in=shown, expiry_ms__gt=int(time.time() * 1000))
    assert live.count() == len(shown) == 1000
    bid_prices = list(
        Order.objects.filter(hash__in=[r["orderHash"] for r in book["bids"]["records"]])
        .order_by("-price")
        .values_list("price", flat=True)
    )
    assert bid_prices[0] == max(bid_prices) and bid_prices[0] < 9
