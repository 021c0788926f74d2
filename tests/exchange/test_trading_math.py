"""The fill arithmetic (exchange/trading_math.py) the ledger and the contract share."""

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange.models import OrderSide
from exchange.services.orders import order_price
from exchange.trading_math import (
    FillRefused,
    decimal_str,
    fee,
    fee_rate_e18,
    fill_compute,
    human_price,
    remaining_give,
    taker_gross,
    to_human,
)

UINT = st.integers(min_value=1, max_value=2**128)
RATES = st.integers(min_value=0, max_value=10**8).map(lambda n: Decimal(n).scaleb(-8) / 10)


@given(give=UINT, take=st.integers(min_value=1, max_value=10**6), data=st.data())
def test_any_sequence_of_fills_releases_exactly_the_whole_hold(give, take, data):
    cuts = (
        sorted(data.draw(st.sets(st.integers(min_value=1, max_value=take - 1), max_size=8)))
        if take > 1
        else []
    )
    parts = [b - a for a, b in zip([0, *cuts], [*cuts, take], strict=True)]
    filled, released, given_away = 0, 0, 0
    for amount in parts:
        gross = taker_gross(amount=amount, give_amount=give, take_amount=take)
        release = remaining_give(
            give_amount=give, take_amount=take, filled=filled
        ) - remaining_give(give_amount=give, take_amount=take, filled=filled + amount)
        # The hold released covers what is given, plus at most one unit of rounding dust.
        assert gross <= release <= gross + 1
        filled, released, given_away = filled + amount, released + release, given_away + gross
    assert released == give
    assert 0 <= give - given_away < len(parts) + 1
    assert remaining_give(give_amount=give, take_amount=take, filled=take) == 0


@given(amount=st.integers(min_value=0, max_value=2**256 - 1), rate=RATES)
def test_a_fee_is_the_exact_floor_of_amount_times_rate(amount, rate):
    assert fee(amount, fee_rate_e18(rate)) == int(Fraction(amount) * Fraction(rate))


def test_fee_rates_are_scaled_by_ten_to_the_eighteen():
    assert fee_rate_e18(Decimal("0.002")) == 2 * 10**15
    assert fee_rate_e18(Decimal("0.00000001")) == 10**10
    for bad in (Decimal("1.5"), Decimal("-0.1"), Decimal("1e-19")):
        with pytest.raises(ValueError):
            fee_rate_e18(bad)


def test_fill_compute_gives_every_number_of_a_fill():
    fill = fill_compute(
        give_amount=333_333_333,
        take_amount=10**17 + 7,
        filled=0,
        amount=3 * 10**16 + 1,
        maker_fee_e18=10**15,
        taker_fee_e18=2 * 10**15,
        gas_fee=1000,
    )
    assert (fill.taker_gross, fill.maker_fee, fill.taker_fee) == (99_999_999, 3 * 10**13, 199_999)
    assert fill.maker_net == 3 * 10**16 + 1 - 3 * 10**13
    assert fill.taker_net == 99_999_999 - 199_999 - 1000
    assert fill.hold_release == 333_333_333 - (333_333_333 - 99_999_999)
    assert fill.filled_after == 3 * 10**16 + 1


@pytest.mark.parametrize(
    ("amount", "gas"),
    [(0, 0), (11, 0), (1, 0), (4, 2), (10, 5)],
)
def test_fill_compute_refuses_what_the_contract_would(amount, gas):
    # The order gives 5 for 10: 1 unit buys 0; 4 buys 2, all of it gas; 10 buys 5 = gas.
    with pytest.raises(FillRefused):
        fill_compute(
            give_amount=5,
            take_amount=10,
            filled=0,
            amount=amount,
            maker_fee_e18=0,
            taker_fee_e18=0,
            gas_fee=gas,
        )


def test_human_figures_are_exact_decimals_without_exponents():
    assert to_human(1_500_000, 6) == Decimal("1.5")
    assert human_price(
        base_amount=10**18, quote_amount=2000 * 10**6, base_decimals=18, quote_decimals=6
    ) == Decimal("0.0005")
    assert decimal_str(Decimal("1E+2")) == "100"
    assert decimal_str(Decimal("0.000500000")) == "0.0005"
    assert decimal_str(Decimal("0E-36")) == "0"
    assert (
        decimal_str(to_human(2**256 - 1, 77))
        == "1.15792089237316195423570985008687907853269984665640564039457584007913129639935"
    )


@given(give=UINT, take=UINT, base_decimals=st.integers(0, 30), quote_decimals=st.integers(0, 30))
def test_the_trade_price_is_the_order_services_price(give, take, base_decimals, quote_decimals):
    # A trade records its order's price; both must be the same function of the amounts.
    assert order_price(
        side=OrderSide.BID,
        give_amount=give,
        take_amount=take,
        base_decimals=base_decimals,
        quote_decimals=quote_decimals,
    ) == human_price(
        base_amount=give,
        quote_amount=take,
        base_decimals=base_decimals,
        quote_decimals=quote_decimals,
    )
