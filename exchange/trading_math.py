"""The arithmetic of a fill, in integers: the one definition shared by the relayer's
ledger and the settlement contract, which must compute bit for bit the same numbers.

Pure functions, no Django. For one fill of an order with giveAmount G and takeAmount T,
already filled F (in take-token units), the taker fills A (0 < A <= T - F):

    taker_gross  = floor(A * G / T)                 give token, maker -> taker
    maker_fee    = floor(A * makerFeeE18 / 1e18)    take token, on what the maker receives
    taker_fee    = floor(taker_gross * takerFeeE18 / 1e18)
    gas_fee      = the give token's trade gas fee    charged to the taker, in the give token
    maker_net    = A - maker_fee                     take token the maker is credited
    taker_net    = taker_gross - taker_fee - gas_fee give token the taker is credited
    remaining_give(F) = G - floor(F * G / T)          what an open order holds
    hold_release = remaining_give(F) - remaining_give(F + A)

The maker's give balance loses taker_gross from its total and hold_release from its
hold; hold_release >= taker_gross (at most one unit more, the rounding dust, which
stays the maker's). Once F + A == T the order holds exactly 0. Fee rates are fractions
(FeeSchedule, at most 8 decimal places) carried as integers scaled by 10^18 (1e18 is
100%), so floor(x * rate) is exact integer arithmetic: `fee(x, rate_e18)`.
"""

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext

FEE_ONE = 10**18
# Enough digits for any uint256 divided or scaled by any token's decimals.
_EXACT = Context(prec=200)


class FillRefused(ValueError):
    """A fill the contract would refuse too; `reason` says why."""


def fee_rate_e18(rate: Decimal) -> int:
    """A fee fraction (0.002 = 0.2%) as an integer scaled by 10^18; exact or refused."""
    scaled = Decimal(rate).scaleb(18, context=_EXACT)
    if scaled != scaled.to_integral_value() or scaled < 0 or scaled > FEE_ONE:
        raise ValueError(f"fee rate {rate} is not a fraction with at most 18 decimal places")
    return int(scaled)


def fee(amount: int, rate_e18: int) -> int:
    """floor(amount * rate): a fee on what one party receives, rounded down."""
    return int(amount) * int(rate_e18) // FEE_ONE


def taker_gross(*, amount: int, give_amount: int, take_amount: int) -> int:
    """What the taker receives of the give token for `amount` of the take token, before fees."""
    return int(amount) * int(give_amount) // int(take_amount)


def remaining_give(*, give_amount: int, take_amount: int, filled: int) -> int:
    """The part of give_amount not yet given away: the hold an open order keeps.

    Rounding the cumulative fill (not each trade) makes it exactly 0 once
    filled == take_amount, so a fully filled order leaves no dust held.
    """
    give_amount, take_amount, filled = int(give_amount), int(take_amount), int(filled)
    return give_amount - filled * give_amount // take_amount


@dataclass(frozen=True)
class Fill:
    amount: int  # take token: taker -> maker (gross)
    taker_gross: int  # give token: maker -> taker (gross)
    maker_fee: int  # take token, to the fee account
    taker_fee: int  # give token, to the fee account
    gas_fee: int  # give token, to the fee account
    hold_release: int  # give token: what leaves the maker's hold
    filled_after: int

    @property
    def maker_net(self) -> int:
        return self.amount - self.maker_fee

    @property
    def taker_net(self) -> int:
        return self.taker_gross - self.taker_fee - self.gas_fee


def fill_compute(
    *,
    give_amount: int,
    take_amount: int,
    filled: int,
    amount: int,
    maker_fee_e18: int,
    taker_fee_e18: int,
    gas_fee: int,
) -> Fill:
    """Every number of one fill (see the module docstring), or FillRefused.

    Refused: amount <= 0 or above what is left of the order; a fill that gives the
    taker nothing (taker_gross == 0); fees and gas that leave the taker nothing
    (taker_net <= 0).
    """
    left = int(take_amount) - int(filled)
    if amount <= 0 or amount > left:
        raise FillRefused(f"amount {amount} is more than the {left} left to fill")
    gross = taker_gross(amount=amount, give_amount=give_amount, take_amount=take_amount)
    if gross == 0:
        raise FillRefused(
            f"amount {amount} is too small: it buys 0 of the give token "
            f"(the order gives {give_amount} for {take_amount})"
        )
    filled_after = int(filled) + int(amount)
    result = Fill(
        amount=int(amount),
        taker_gross=gross,
        maker_fee=fee(amount, maker_fee_e18),
        taker_fee=fee(gross, taker_fee_e18),
        gas_fee=int(gas_fee),
        hold_release=remaining_give(give_amount=give_amount, take_amount=take_amount, filled=filled)
        - remaining_give(give_amount=give_amount, take_amount=take_amount, filled=filled_after),
        filled_after=filled_after,
    )
    if result.taker_net <= 0:
        raise FillRefused(
            f"amount {amount} is too small: the taker would receive {gross} before a taker fee "
            f"of {result.taker_fee} and a gas fee of {result.gas_fee}"
        )
    return result


# Human-unit decimals: prices, volumes (PROTOCOL.md "Units and numbers").

PRICE_PLACES = 36
_PRICE_QUANTUM = Decimal(1).scaleb(-PRICE_PLACES)


def to_human(amount: int | Decimal, decimals: int) -> Decimal:
    """Base units as an exact human amount: to_human(1500000, 6) == Decimal("1.5")."""
    return Decimal(amount).scaleb(-int(decimals), context=_EXACT)


def human_price(*, base_amount: int, quote_amount: int, base_decimals: int, quote_decimals: int):
    """BASE per one QUOTE in human units, to PRICE_PLACES places, half-even."""
    with localcontext(_EXACT):
        price = to_human(base_amount, base_decimals) / to_human(quote_amount, quote_decimals)
        return price.quantize(_PRICE_QUANTUM, rounding=ROUND_HALF_EVEN)


def ratio(numerator: Decimal, denominator: Decimal, places: int = PRICE_PLACES) -> Decimal:
    """numerator / denominator rounded half-even to `places` places (a weighted average)."""
    with localcontext(_EXACT):
        return (numerator / denominator).quantize(Decimal(1).scaleb(-places), ROUND_HALF_EVEN)


def decimal_str(value: Decimal | int) -> str:
    """A plain decimal string without exponent or trailing zeros: "0.0005", "12", "0"."""
    value = Decimal(value)
    if value == 0:
        return "0"
    return format(value.normalize(context=_EXACT), "f")
