"""Parallel create_trades requests, one thread and one PostgreSQL connection each.

Takers race for the same orders and balances; the locks (market, orders by id,
balances by id, candles) must let no order fill past its amount, no balance go
negative, no request deadlock (a deadlock would surface as a 500), and must keep
every token's sum of balances unchanged.
"""

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from exchange.models import Balance, Candle, Order, OrderStatus, Trade
from tests.signing import FUNDS, new_signer, signed_cancel
from tests.trading import fill_payload, place, token_sums

# Threads racing on row locks: PostgreSQL (SQLite runs one writer at a time).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres_only]

ETH = 10**18
THREADS = 16


def post_at_once(bodies: list, path: str = "/create_trades") -> list:
    """POSTs each (path, body) or body from its own thread, all released together;
    returns (status, json) per body."""
    barrier = threading.Barrier(len(bodies))
    outcomes: list = [None] * len(bodies)

    def worker(index, body):
        target, payload = body if isinstance(body, tuple) else (path, body)
        try:
            client = APIClient()
            barrier.wait()
            response = client.post(target, payload, format="json")
            outcomes[index] = (response.status_code, response.json())
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=item) for item in enumerate(bodies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def assert_no_negative_balance():
    assert not Balance.objects.filter(total__lt=0).exists()
    assert not Balance.objects.filter(held__lt=0).exists()


def funded_takers(market, fund, count, amount=FUNDS):
    takers = [new_signer() for _ in range(count)]
    for taker in takers:
        fund(taker, market.quote, amount)
    return takers


def test_takers_racing_for_one_order_never_fill_more_than_its_amount(
    network, market, fees, maker, fund
):
    bid = place(
        maker,
        give_token=market.base,
        give_amount=2 * ETH,
        take_token=market.quote,
        take_amount=4000 * ETH,
    )
    takers = funded_takers(market, fund, THREADS)
    before = token_sums()

    outcomes = post_at_once([[fill_payload(taker, bid, 1000 * ETH)] for taker in takers])

    statuses = sorted(status for status, _ in outcomes)
    assert statuses == [201] * 4 + [400] * (THREADS - 4), outcomes
    refusals = [body for status, body in outcomes if status == 400]
    # Too much left to fill (1004 on the amount) or already filled (1006 on the order).
    reasons = {
        tuple(body["validationErrors"][0][k] for k in ("field", "code")) for body in refusals
    }
    assert reasons <= {("[0].amount", 1004), ("[0].orderHash", 1006)}, refusals
    bid.refresh_from_db()
    assert (bid.filled, bid.status) == (4000 * ETH, OrderStatus.FILLED)
    assert Balance.objects.get(account=bid.account, token=market.base).held == 0
    assert Trade.objects.count() == 4
    assert Candle.objects.get(period=300).trade_count == 4
    assert token_sums() == before
    assert_no_negative_balance()


def test_one_taker_racing_across_many_orders_never_overspends(network, market, fees, fund):
    makers = [new_signer() for _ in range(THREADS)]
    orders = []
    for maker in makers:
        fund(maker, market.base, ETH)
        orders.append(
            place(
                maker,
                give_token=market.base,
                give_amount=ETH,
                take_token=market.quote,
                take_amount=1000 * ETH,
            )
        )
    [taker] = funded_takers(market, fund, 1, amount=2500 * ETH)
    before = token_sums()

    outcomes = post_at_once([[fill_payload(taker, order, 1000 * ETH)] for order in orders])

    assert sorted(status for status, _ in outcomes) == [201] * 2 + [400] * (THREADS - 2), outcomes
    taker_quote = Balance.objects.get(account=taker.address.lower(), token=market.quote)
    assert taker_quote.total == 500 * ETH
    assert Order.objects.filter(status=OrderStatus.FILLED).count() == 2
    assert token_sums() == before
    assert_no_negative_balance()


def test_requests_filling_the_same_orders_in_opposite_orders_do_not_deadlock(
    network, market, fees, fund
):
    orders = []
    for _ in range(3):
        maker = new_signer()
        fund(maker, market.base, 100 * ETH)
        orders.append(
            place(
                maker,
                give_token=market.base,
                give_amount=100 * ETH,
                take_token=market.quote,
                take_amount=100_000 * ETH,
            )
        )
    takers = funded_takers(market, fund, THREADS)
    before = token_sums()
    bodies = []
    for index, taker in enumerate(takers):
        sequence = orders if index % 2 else orders[::-1]
        bodies.append([fill_payload(taker, order, 10 * ETH + index) for order in sequence])

    outcomes = post_at_once(bodies)

    assert [status for status, _ in outcomes] == [201] * THREADS, outcomes
    for order in orders:
        order.refresh_from_db()
        assert order.filled == sum(10 * ETH + index for index in range(THREADS))
    assert Trade.objects.count() == 3 * THREADS
    assert Candle.objects.get(period=86400).trade_count == 3 * THREADS
    assert token_sums() == before
    assert_no_negative_balance()


def test_a_cancel_racing_fills_leaves_the_hold_equal_to_what_is_left(
    network, market, fees, maker, fund
):
    bid = place(
        maker,
        give_token=market.base,
        give_amount=3 * ETH,
        take_token=market.quote,
        take_amount=9000 * ETH,
    )
    takers = funded_takers(market, fund, THREADS - 1)
    before = token_sums()
    bodies = [[fill_payload(taker, bid, 1000 * ETH + 1)] for taker in takers]
    bodies.insert(THREADS // 2, ("/delete_orders", signed_cancel(maker, order_hash=bid.hash)))

    outcomes = post_at_once(bodies)

    assert outcomes[THREADS // 2] == (200, {"success": "0"}), outcomes
    fills = [status for index, (status, _) in enumerate(outcomes) if index != THREADS // 2]
    assert set(fills) <= {201, 400}, outcomes
    bid.refresh_from_db()
    assert bid.status == OrderStatus.CANCELLED
    assert bid.filled == fills.count(201) * (1000 * ETH + 1)
    assert Balance.objects.get(account=bid.account, token=market.base).held == 0
    assert token_sums() == before
    assert_no_negative_balance()


def test_the_same_fill_sent_concurrently_is_executed_once(network, market, fees, maker, fund):
    bid = place(
        maker,
        give_token=market.base,
        give_amount=2 * ETH,
        take_token=market.quote,
        take_amount=4000 * ETH,
    )
    [taker] = funded_takers(market, fund, 1)
    before = token_sums()
    body = [fill_payload(taker, bid, 1000 * ETH)]

    outcomes = post_at_once([body] * 8)

    assert sorted(status for status, _ in outcomes) == [201] + [400] * 7, outcomes
    refusals = [body["validationErrors"][0] for status, body in outcomes if status == 400]
    assert {(error["field"], error["code"]) for error in refusals} == {("[0].nonce", 1005)}
    bid.refresh_from_db()
    assert bid.filled == 1000 * ETH
    assert Trade.objects.count() == 1
    assert token_sums() == before
