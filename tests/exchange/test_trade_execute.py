from decimal import Decimal
from typing import Any, cast

import pytest
from django.conf import settings

from exchange.api.errors import ApiError, FieldError, NotFound, OrderSubmissionDisabled
from exchange.models import (
    LedgerEntry,
    LedgerKind,
    MarketStatus,
    OrderStatus,
    SettlementStatus,
    Trade,
)
from tests.factories import MarketFactory, TokenFactory
from tests.signing import FUNDS, address_of, new_signer
from tests.trading import balance, execute, fill, place, snapshot, token_sums

pytestmark = pytest.mark.django_db

ETH = 10**18
FEE = settings.FEE_ACCOUNT


@pytest.fixture
def bid(maker, market):
    """The maker gives 2 ETH (BASE) for 4000 TST (QUOTE): 0.0005 ETH per TST."""
    return place(
        maker,
        give_token=market.base,
        give_amount=2 * ETH,
        take_token=market.quote,
        take_amount=4000 * ETH,
    )


def refused(error_type, network, fills, **kwargs):
    """Runs trade_execute expecting a refusal; asserts that nothing changed."""
    before = snapshot()
    with pytest.raises(error_type) as refusal:
        execute(network, fills, **kwargs)
    assert snapshot() == before
    return refusal.value


def detail(error: FieldError) -> tuple[str, int]:
    [(field, [item])] = cast("dict[str, list[Any]]", error.detail).items()
    return field, int(item.code)


def test_a_taker_fills_part_of_a_bid_with_exact_amounts_and_fees(
    network, market, fees, maker, taker, bid
):
    market.base.trade_gas_fee = 10**14
    market.base.save()

    [trade] = execute(network, [fill(taker, bid, 1000 * ETH)])

    # The taker gives 1000 TST and receives 1000 * 2 / 4000 = 0.5 ETH, less its 0.2%
    # fee (0.001 ETH) and the 0.0001 ETH gas fee; the maker receives 1000 TST less 0.1%.
    assert (trade.take_amount, trade.give_amount) == (1000 * ETH, ETH // 2)
    assert (trade.maker_fee, trade.taker_fee, trade.gas_fee) == (ETH, 10**15, 10**14)
    assert balance(taker, market.quote) == (FUNDS - 1000 * ETH, 0)
    assert balance(taker, market.base) == (FUNDS + ETH // 2 - 10**15 - 10**14, 0)
    assert balance(maker, market.quote) == (FUNDS + 999 * ETH, 0)
    assert balance(maker, market.base) == (FUNDS - ETH // 2, 3 * ETH // 2)
    assert balance(FEE, market.quote) == (ETH, 0)
    assert balance(FEE, market.base) == (10**15 + 10**14, 0)
    bid.refresh_from_db()
    assert (bid.filled, bid.status) == (1000 * ETH, OrderStatus.OPEN)
    # The taker gives QUOTE: a sell; the buyer (who receives QUOTE) is the maker.
    assert trade.taker_side == "sell"
    assert (trade.quote_amount, trade.base_amount, trade.price) == (
        1000 * ETH,
        ETH // 2,
        Decimal("0.0005"),
    )
    assert (trade.buyer_fee, trade.seller_fee) == (ETH, 10**15)
    assert trade.settlement_status == SettlementStatus.UNSETTLED
    assert trade.maker == address_of(maker) and trade.taker == address_of(taker)


def test_filling_an_ask_is_a_buy_with_fees_in_the_tokens_received(
    network, market, fees, maker, taker
):
    ask = place(
        maker,
        give_token=market.quote,
        give_amount=3000 * ETH,
        take_token=market.base,
        take_amount=ETH,
    )
    [trade] = execute(network, [fill(taker, ask, ETH // 4)])

    assert trade.taker_side == "buy"
    assert (trade.base_amount, trade.quote_amount) == (ETH // 4, 750 * ETH)
    # The maker receives 0.25 ETH and pays 0.1% of it; the taker 0.2% of 750 TST.
    assert (trade.maker_fee, trade.taker_fee) == (ETH // 4000, 15 * ETH // 10)
    assert (trade.buyer_fee, trade.seller_fee) == (trade.taker_fee, trade.maker_fee)
    assert balance(FEE, market.base) == (ETH // 4000, 0)
    assert balance(FEE, market.quote) == (15 * ETH // 10, 0)


def test_a_completely_filled_order_holds_exactly_zero_despite_rounding(network, fund, fees):
    # 6 vs 18 decimals and a ratio that never divides evenly.
    eth = TokenFactory(network=network, ether=True)
    usdc = TokenFactory(network=network, symbol="USDC", decimals=6)
    MarketFactory(network=network, base=eth, quote=usdc)
    maker, taker = new_signer(), new_signer()
    fund(maker, usdc, 10**12)
    fund(taker, eth, 10**21)
    give, take = 333_333_333, 10**17 + 7  # 333.333333 USDC for 0.100000000000000007 ETH
    ask = place(maker, give_token=usdc, give_amount=give, take_token=eth, take_amount=take)
    parts = [3 * 10**16 + 1, 3 * 10**16 + 1, 4 * 10**16 + 5]
    assert sum(parts) == take

    trades = execute(network, [fill(taker, ask, part) for part in parts])

    # floor(part * give / take), each fill rounded on its own.
    assert [t.give_amount for t in trades] == [99_999_999, 99_999_999, 133_333_333]
    # Fees: maker 0.1% of the ETH it receives, taker 0.2% of the USDC, each rounded down.
    assert [t.maker_fee for t in trades] == [3 * 10**13, 3 * 10**13, 4 * 10**13]
    assert [t.taker_fee for t in trades] == [199_999, 199_999, 266_666]
    ask.refresh_from_db()
    assert (ask.filled, ask.status) == (take, OrderStatus.FILLED)
    # The maker gave 333333331 of 333333333: the 2 units of dust are released, not held.
    assert balance(maker, usdc) == (10**12 - 333_333_331, 0)
    assert balance(maker, eth) == (take - 10**14, 0)
    assert balance(taker, usdc) == (333_333_331 - 666_664, 0)
    assert balance(FEE, usdc) == (666_664, 0)


def test_several_fills_of_one_order_in_one_request(network, market, fees, maker, taker, bid):
    trades = execute(network, [fill(taker, bid, 1000 * ETH), fill(taker, bid, 3000 * ETH)])
    assert len(trades) == 2
    bid.refresh_from_db()
    assert bid.status == OrderStatus.FILLED
    assert balance(maker, market.base) == (FUNDS - 2 * ETH, 0)


def test_trading_leaves_every_tokens_sum_of_balances_unchanged(
    network, market, fees, maker, taker, bid
):
    market.base.trade_gas_fee = 12345
    market.base.save()
    ask = place(
        maker,
        give_token=market.quote,
        give_amount=7 * ETH + 3,
        take_token=market.base,
        take_amount=ETH // 3,
    )
    before = token_sums()
    execute(network, [fill(taker, bid, 1234 * ETH + 1), fill(taker, bid, 10**9 + 7)])
    execute(network, [fill(taker, ask, 10**16 + 9)])
    assert token_sums() == before
    assert LedgerEntry.objects.filter(kind=LedgerKind.GAS_FEE).count() == 4


def test_the_fee_schedule_in_force_at_the_trades_time_applies(network, market, maker, taker, bid):
    # No schedule: no fees.
    [trade] = execute(network, [fill(taker, bid, 1000 * ETH)])
    assert (trade.maker_fee, trade.taker_fee) == (0, 0)


# Refusals: each leaves every balance, order, ledger entry, trade and candle as it was.


def test_it_refuses_a_fill_over_what_is_left_of_the_order(network, market, maker, taker, bid):
    error = refused(
        FieldError, network, [fill(taker, bid, 3000 * ETH), fill(taker, bid, 1000 * ETH + 1)]
    )
    assert detail(error) == ("[1].amount", 1004)


def test_a_failing_last_fill_rolls_back_the_earlier_ones(network, market, maker, taker, fund, bid):
    other = place(
        maker,
        give_token=market.base,
        give_amount=ETH,
        take_token=market.quote,
        take_amount=1000 * ETH,
    )
    other.status = OrderStatus.CANCELLED
    other.save()
    error = refused(
        FieldError,
        network,
        [fill(taker, bid, ETH), fill(taker, bid, 2 * ETH), fill(taker, other, ETH)],
    )
    assert detail(error) == ("[2].orderHash", 1006)


def test_it_refuses_more_than_the_takers_available_balance(network, market, fund, maker, bid):
    taker = new_signer()
    fund(taker, market.quote, 1500 * ETH)
    # 500 of it held by the taker's own open order.
    place(
        taker,
        give_token=market.quote,
        give_amount=500 * ETH,
        take_token=market.base,
        take_amount=ETH,
    )
    error = refused(
        FieldError, network, [fill(taker, bid, 600 * ETH), fill(taker, bid, 400 * ETH + 1)]
    )
    assert detail(error) == ("[1].amount", 1004)
    assert "1000000000000000000001" in str(error.detail)


def test_it_refuses_a_taker_filling_its_own_order(network, market, maker, bid):
    error = refused(FieldError, network, [fill(maker, bid, ETH)])
    assert detail(error) == ("[0].account", 1006)


def test_it_refuses_fills_signed_by_different_accounts(network, market, maker, taker, bid):
    other = new_signer()
    error = refused(FieldError, network, [fill(taker, bid, ETH), fill(other, bid, ETH)])
    assert detail(error) == ("[1].account", 1006)


def test_it_refuses_orders_on_different_pairs(network, market, maker, taker, bid):
    ask = place(
        maker, give_token=market.quote, give_amount=ETH, take_token=market.base, take_amount=ETH
    )
    error = refused(FieldError, network, [fill(taker, bid, ETH), fill(taker, ask, ETH)])
    assert detail(error) == ("[1].orderHash", 1006)


def test_it_refuses_a_signature_by_someone_else(network, market, maker, taker, bid):
    item = fill(new_signer(), bid, ETH)
    forged = item.__class__(**{**item.__dict__, "account": address_of(taker)})
    error = refused(FieldError, network, [forged], indexed=False)
    assert detail(error) == ("signature", 1005)


def test_it_refuses_a_client_trade_hash_that_is_not_the_servers(network, market, maker, taker, bid):
    item = fill(taker, bid, ETH)
    wrong = item.__class__(**{**item.__dict__, "trade_hash": "0x" + "11" * 32})
    error = refused(FieldError, network, [wrong])
    assert detail(error) == ("[0].tradeHash", 1005)


def test_a_trade_hash_is_used_only_once(network, market, maker, taker, bid):
    item = fill(taker, bid, ETH)
    execute(network, [item])
    error = refused(FieldError, network, [item])
    assert detail(error) == ("[0].nonce", 1005)
    error = refused(
        FieldError, network, [fill(taker, bid, ETH, nonce=5), fill(taker, bid, ETH, nonce=5)]
    )
    assert detail(error) == ("[1].nonce", 1005)


def test_a_replay_the_taker_can_no_longer_pay_for_is_refused_as_a_replay(
    network, market, fund, maker, bid
):
    taker = new_signer()
    fund(taker, market.quote, 1000 * ETH)
    item = fill(taker, bid, 1000 * ETH)
    execute(network, [item])
    error = refused(FieldError, network, [item])
    assert detail(error) == ("[0].nonce", 1005)


def test_it_refuses_an_expired_order(network, market, maker, taker, bid):
    late = bid.created_at.__class__.fromtimestamp(bid.expiry_ms / 1000, tz=bid.created_at.tzinfo)
    error = refused(FieldError, network, [fill(taker, bid, ETH)], at=late)
    assert detail(error) == ("[0].orderHash", 1006)


def test_it_refuses_a_fill_that_buys_nothing(network, market, maker, taker, bid):
    # 1999 units of TST buy floor(1999 * 2 / 4000) = 0 units of ETH.
    error = refused(FieldError, network, [fill(taker, bid, 1999)])
    assert detail(error) == ("[0].amount", 1004)


def test_it_refuses_a_fill_whose_gas_fee_is_over_a_tenth_of_what_it_buys(
    network, market, maker, taker, bid
):
    # The contract caps every fee at a tenth of what it comes out of.
    market.base.trade_gas_fee = 500
    market.base.save()
    error = refused(FieldError, network, [fill(taker, bid, 9_998_000)])  # buys 4999
    assert detail(error) == ("[0].amount", 1004)
    assert "gas fee" in str(error.detail)
    [trade] = execute(network, [fill(taker, bid, 10_000_000)])  # buys 5000
    assert (trade.give_amount, trade.gas_fee) == (5000, 500)


def test_it_refuses_a_fill_too_big_for_uint256_arithmetic(network, market, fund, maker, taker):
    fund(maker, market.quote, 2**255)
    fund(taker, market.base, 2**255)
    ask = place(
        maker,
        give_token=market.quote,
        give_amount=2**255,
        take_token=market.base,
        take_amount=2**255,
    )
    error = refused(FieldError, network, [fill(taker, ask, 2)])
    assert detail(error) == ("[0].amount", 1004)
    assert "2^256" in str(error.detail)


def test_an_unknown_order_is_not_found(network, market, maker, taker, bid):
    bid.hash = "0x" + "22" * 32  # not saved: signs a fill of an order that does not exist
    unknown = fill(taker, bid, ETH)
    bid.refresh_from_db()
    error = refused(NotFound, network, [fill(taker, bid, ETH), unknown])
    assert error.status_code == 404 and "[1].orderHash" in error.reason


@pytest.mark.parametrize("status", [MarketStatus.HALTED, MarketStatus.CANCEL_ONLY])
def test_it_refuses_fills_in_a_market_that_is_not_trading(
    network, market, maker, taker, bid, status
):
    market.status = status
    market.save()
    error = refused(OrderSubmissionDisabled, network, [fill(taker, bid, ETH)])
    assert error.code == 102


def test_it_refuses_fills_when_the_network_disabled_submission(network, market, maker, taker, bid):
    network.order_submission_enabled = False
    network.save()
    error = refused(OrderSubmissionDisabled, network, [fill(taker, bid, ETH)])
    assert error.code == 102


def test_it_refuses_an_empty_request(network):
    with pytest.raises(ApiError):
        execute(network, [])
    assert not Trade.objects.exists()
