"""Issue #16: market rules (price tick, amount step of QUOTE, minimum order total in BASE,
maximum open orders) refuse exactly at their edge and accept one unit inside it; fills
may not leave a remainder under the minimum; an order already under it is closed after
a fill, its hold released. ETH_TST: BASE ETH, QUOTE TST, prices in ETH per TST."""

from datetime import timedelta
from typing import Any, cast

import pytest
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from exchange.models import CloseReason, MarketRules, Order, OrderStatus
from tests.factories import FEES_EFFECTIVE_SINCE
from tests.reliability.invariants import (
    assert_balances_are_their_ledger,
    assert_holds_are_open_orders_plus_pending_withdrawals,
)
from tests.signing import address_of, signed_order
from tests.trading import balance, execute, fill, fill_payload, place, snapshot

pytestmark = pytest.mark.django_db

ETH = TST = 10**18
TICK_ETH_PER_TST = "0.0001"
STEP_TST = 10**15  # 0.001 TST
MIN_ETH = 10**16  # 0.01 ETH


def rules(market, **values) -> MarketRules:
    return MarketRules.objects.create(market=market, effective_at=FEES_EFFECTIVE_SINCE, **values)


def bid(maker, market, eth: int, tst: int) -> Order:
    """Gives `eth` ETH (BASE) for `tst` TST (QUOTE)."""
    return place(
        maker, give_token=market.base, give_amount=eth, take_token=market.quote, take_amount=tst
    )


def ask(maker, market, tst: int, eth: int) -> Order:
    return place(
        maker, give_token=market.quote, give_amount=tst, take_token=market.base, take_amount=eth
    )


def refusal(call) -> tuple[str, int, str]:
    with pytest.raises(ValidationError) as caught:
        call()
    [(field, [detail])] = cast("dict[str, list[Any]]", caught.value.detail).items()
    return field, int(detail.code), str(detail)


# --- price tick --------------------------------------------------------------------


def test_a_price_on_the_tick_is_accepted_and_one_base_unit_off_it_is_refused(market, maker):
    rules(market, price_tick=TICK_ETH_PER_TST)
    # 100 TST at 0.0005 ETH each: 0.05 ETH, on the tick.
    bid(maker, market, 5 * 10**16, 100 * TST)

    field, code, reason = refusal(lambda: bid(maker, market, 5 * 10**16 + 1, 100 * TST))

    assert (field, code) == ("giveAmount", 1004)
    assert "priceTick" in reason and "0.0001" in reason


def test_an_ask_off_the_tick_is_refused_on_its_base_amount(market, maker):
    rules(market, price_tick=TICK_ETH_PER_TST)
    ask(maker, market, 100 * TST, 5 * 10**16)

    field, code, _ = refusal(lambda: ask(maker, market, 100 * TST, 5 * 10**16 - 1))

    assert (field, code) == ("takeAmount", 1004)


# --- amount step -------------------------------------------------------------------


def test_a_quote_amount_on_the_step_is_accepted_and_one_unit_off_it_is_refused(market, maker):
    rules(market, amount_step=STEP_TST)
    bid(maker, market, 10**16, 100 * TST + STEP_TST)

    field, code, reason = refusal(lambda: bid(maker, market, 10**16, 100 * TST + STEP_TST + 1))

    assert (field, code) == ("takeAmount", 1004)
    assert "amountStep" in reason and str(STEP_TST) in reason
    # An ask gives the QUOTE token: the step applies to its giveAmount.
    field, _, _ = refusal(lambda: ask(maker, market, 100 * TST + 1, 10**16))
    assert field == "giveAmount"


# --- minimum order total -----------------------------------------------------------


def test_an_order_at_the_minimum_total_is_accepted_and_one_unit_under_it_refused(market, maker):
    rules(market, min_total=MIN_ETH)
    bid(maker, market, MIN_ETH, 100 * TST)
    ask(maker, market, 100 * TST, MIN_ETH)

    field, code, reason = refusal(lambda: bid(maker, market, MIN_ETH - 1, 100 * TST))
    assert (field, code) == ("giveAmount", 1004)
    assert "minOrderTotal" in reason and str(MIN_ETH) in reason
    field, code, _ = refusal(lambda: ask(maker, market, 100 * TST, MIN_ETH - 1))
    assert (field, code) == ("takeAmount", 1004)


# --- maximum open orders -----------------------------------------------------------


def test_the_last_order_within_the_open_order_limit_is_accepted_and_the_next_refused(market, maker):
    rules(market, max_open_orders=2)
    bid(maker, market, ETH, 100 * TST)
    ask(maker, market, 100 * TST, 2 * ETH)  # both sides count
    before = snapshot()

    field, code, reason = refusal(lambda: bid(maker, market, ETH, 101 * TST))

    assert (field, code) == ("account", 1004)
    assert "maxOpenOrders" in reason and "at most 2" in reason
    assert snapshot() == before


def test_an_expired_or_filled_order_does_not_count_against_the_limit(market, maker, taker):
    rules(market, max_open_orders=1)
    first = bid(maker, market, ETH, 100 * TST)
    execute(market.network, [fill(taker, first, 100 * TST)])

    bid(maker, market, ETH, 100 * TST)


# --- through the API: the spec's error body, nothing changed ------------------------


def test_create_orders_refuses_an_order_off_the_tick_with_the_specs_body(api, market, maker):
    rules(market, price_tick=TICK_ETH_PER_TST)
    payload = signed_order(
        maker,
        contract=market.network.exchange_address,
        give_token=market.base,
        give_amount=5 * 10**16 + 1,
        take_token=market.quote,
        take_amount=100 * TST,
    )
    before = snapshot()

    response = api.post("/create_orders", payload, format="json")

    assert response.status_code == 400
    body = response.json()
    assert (body["code"], body["reason"]) == (100, "Validation failed")
    [error] = body["validationErrors"]
    assert (error["field"], error["code"]) == ("giveAmount", 1004)
    assert "priceTick" in error["reason"] and "0.0001" in error["reason"]
    assert snapshot() == before


# --- fills and the minimum ---------------------------------------------------------


@pytest.fixture
def minimum_ask(market, maker):
    """100 TST for 0.05 ETH under a minimum of 0.01 ETH; fills are in ETH."""
    rules(market, min_total=MIN_ETH)
    return ask(maker, market, 100 * TST, 5 * MIN_ETH)


def test_a_fill_leaving_exactly_the_minimum_is_booked(market, taker, minimum_ask):
    execute(market.network, [fill(taker, minimum_ask, 4 * MIN_ETH)])

    minimum_ask.refresh_from_db()
    assert minimum_ask.remaining == MIN_ETH and minimum_ask.status == OrderStatus.OPEN


def test_a_fill_leaving_one_unit_under_the_minimum_is_refused_naming_the_rule(
    api, market, taker, minimum_ask
):
    before = snapshot()

    response = api.post(
        "/create_trades", fill_payload(taker, minimum_ask, 4 * MIN_ETH + 1), format="json"
    )

    assert response.status_code == 400
    [error] = response.json()["validationErrors"]
    assert (error["field"], error["code"]) == ("amount", 1004)
    assert "minOrderTotal" in error["reason"]
    assert f"amount {5 * MIN_ETH}" in error["reason"]  # fill it completely
    assert f"amount at most {4 * MIN_ETH}" in error["reason"]
    assert snapshot() == before


def test_a_fill_of_the_whole_order_is_booked_whatever_the_minimum(market, taker, minimum_ask):
    execute(market.network, [fill(taker, minimum_ask, 5 * MIN_ETH)])

    minimum_ask.refresh_from_db()
    assert minimum_ask.status == OrderStatus.FILLED


def test_a_bid_fill_leaving_one_unit_under_the_minimum_is_refused(market, maker, taker):
    rules(market, min_total=MIN_ETH)
    order = bid(maker, market, 5 * MIN_ETH, 100 * TST)  # fills are in TST
    # 80 TST leaves 0.01 ETH exactly; one unit more leaves less.
    execute(market.network, [fill(taker, order, 80 * TST)])
    order.refresh_from_db()
    assert order.remaining_give == MIN_ETH

    field, code, _ = refusal(lambda: execute(market.network, [fill(taker, order, 1)]))
    assert (field, code) == ("[0].amount", 1004)


def test_an_order_placed_before_a_minimum_is_closed_after_a_partial_fill(market, maker, taker):
    order = ask(maker, market, 100 * TST, 3 * MIN_ETH)
    # The rule comes later; the open order is not touched by it.
    MarketRules.objects.create(
        market=market, min_total=4 * MIN_ETH, effective_at=timezone.now() - timedelta(seconds=1)
    )
    order.refresh_from_db()
    assert order.status == OrderStatus.OPEN

    execute(market.network, [fill(taker, order, MIN_ETH)])

    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert order.close_reason == CloseReason.REMAINDER_UNDER_MINIMUM
    assert balance(maker, market.quote)[1] == 0  # the hold released
    assert_holds_are_open_orders_plus_pending_withdrawals(market.network)
    assert_balances_are_their_ledger(market.network)


def test_rules_not_yet_in_force_do_not_apply(market, maker):
    MarketRules.objects.create(
        market=market, min_total=ETH, effective_at=timezone.now() + timedelta(days=1)
    )

    bid(maker, market, MIN_ETH, 100 * TST)

    assert Order.objects.filter(account=address_of(maker).lower()).count() == 1
