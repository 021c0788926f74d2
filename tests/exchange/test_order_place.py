from decimal import Decimal

import pytest

from exchange.models import (
    Balance,
    LedgerEntry,
    LedgerKind,
    MarketStatus,
    Order,
    OrderSide,
    OrderStatus,
)
from exchange.models.orders import remaining_give
from exchange.services.errors import FieldError, OrderSubmissionDisabled
from exchange.services.orders import order_place, order_price, order_remaining_give
from tests.signing import address_of, new_signer, signed_order

pytestmark = pytest.mark.django_db


def place(network, payload: dict) -> Order:
    return order_place(
        network=network,
        account=payload["account"],
        give_token_address=payload["giveTokenAddress"],
        give_amount=int(payload["giveAmount"]),
        take_token_address=payload["takeTokenAddress"],
        take_amount=int(payload["takeAmount"]),
        nonce=int(payload["nonce"]),
        expiry_ms=int(payload["expiryTimestampInMilliseconds"]),
        order_hash=payload.get("orderHash"),
        signature=payload["signature"],
    )


def test_it_places_a_bid_and_holds_its_give_amount(network, market, trader):
    payload = signed_order(
        trader,
        contract=network.exchange_address,
        give_token=market.base,
        give_amount=2 * 10**18,
        take_token=market.quote,
        take_amount=4000 * 10**18,
    )
    order = place(network, payload)

    assert order.side == OrderSide.BID
    assert order.market == market
    assert order.status == OrderStatus.OPEN
    assert order.price == Decimal("0.0005")
    balance = Balance.objects.get(account=address_of(trader), token=market.base)
    assert balance.held == 2 * 10**18
    hold = LedgerEntry.objects.get(balance=balance, kind=LedgerKind.HOLD)
    assert (hold.held_delta, hold.total_delta, hold.reference) == (2 * 10**18, 0, order.hash)


def test_an_order_giving_the_quote_token_is_an_ask(network, market, trader):
    payload = signed_order(
        trader,
        contract=network.exchange_address,
        give_token=market.quote,
        give_amount=4000 * 10**18,
        take_token=market.base,
        take_amount=2 * 10**18,
    )
    order = place(network, payload)
    assert order.side == OrderSide.ASK
    assert order.price == Decimal("0.0005")


def test_the_price_is_base_per_quote_adjusted_for_decimals():
    # 1 ETH (18 decimals) for 2000 USDC (6 decimals): 0.0005 ETH per USDC, either side.
    bid = order_price(
        side=OrderSide.BID,
        give_amount=10**18,
        take_amount=2000 * 10**6,
        base_decimals=18,
        quote_decimals=6,
    )
    ask = order_price(
        side=OrderSide.ASK,
        give_amount=2000 * 10**6,
        take_amount=10**18,
        base_decimals=18,
        quote_decimals=6,
    )
    assert bid == ask == Decimal("0.0005")


def test_the_orderhash_is_optional_and_the_server_computes_it(network, market, trader):
    payload = signed_order(
        trader,
        contract=network.exchange_address,
        give_token=market.base,
        give_amount=10,
        take_token=market.quote,
        take_amount=20,
    )
    expected = payload.pop("orderHash")
    assert place(network, payload).hash == expected


def test_it_refuses_an_order_when_the_network_disabled_submission(network, market, trader):
    network.order_submission_enabled = False
    network.save()
    payload = signed_order(
        trader,
        contract=network.exchange_address,
        give_token=market.base,
        give_amount=10,
        take_token=market.quote,
        take_amount=20,
    )
    with pytest.raises(OrderSubmissionDisabled):
        place(network, payload)
    assert not Order.objects.exists()


def test_a_stopped_market_the_reference_cache_no_longer_finds_is_refused_with_102(
    network, market, trader, monkeypatch
):
    # The market row read fresh says HALTED; the cache, read for its name, finds no
    # market (deleted in between): still the 102 refusal.
    market.status = MarketStatus.HALTED
    market.save()
    monkeypatch.setattr("exchange.services.orders.market_kept", lambda market_id: None)
    payload = signed_order(
        trader,
        contract=network.exchange_address,
        give_token=market.base,
        give_amount=10,
        take_token=market.quote,
        take_amount=20,
    )
    with pytest.raises(OrderSubmissionDisabled, match=f"Market {market.id} no longer exists"):
        place(network, payload)
    assert not Order.objects.exists()


def test_it_refuses_a_signature_over_another_contracts_hash(network, market, trader):
    payload = signed_order(
        trader,
        contract="0x" + "cd" * 20,
        give_token=market.base,
        give_amount=10,
        take_token=market.quote,
        take_amount=20,
    )
    with pytest.raises(FieldError) as refusal:
        place(network, payload)
    assert refusal.value.field == "orderHash"


@pytest.mark.parametrize(
    ("give", "take"),
    [(1, 1), (7, 3), (3, 7), (10**18, 3 * 10**17 + 1), (2**255, 2**255 - 1), (1, 2**256 - 1)],
)
def test_a_fully_filled_order_holds_exactly_nothing(give, take):
    assert remaining_give(give_amount=give, take_amount=take, filled=take) == 0
    assert remaining_give(give_amount=give, take_amount=take, filled=0) == give


def test_remaining_give_only_falls_as_an_order_fills():
    give, take = 1000, 333
    holds = [remaining_give(give_amount=give, take_amount=take, filled=f) for f in range(take + 1)]
    assert holds == sorted(holds, reverse=True)
    assert holds[-1] == 0


def test_order_remaining_give_reads_the_orders_fill(network, market, trader):
    payload = signed_order(
        trader,
        contract=network.exchange_address,
        give_token=market.base,
        give_amount=1000,
        take_token=market.quote,
        take_amount=300,
    )
    order = place(network, payload)
    order.filled = 100
    assert order_remaining_give(order) == order.remaining_give == 1000 - 333
    assert new_signer() != trader
