"""The arithmetic of a fill, in integers: what the ledger books, which is exactly what the
settlement contract's trade() does (exchange/protocol/settlement.py is trade() in Python, checked
against the contract; fill_compute goes through it, so the two cannot drift).

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

Refused, as the contract refuses them: A * G over 2^256 - 1, taker_gross == 0, and any
fee over a tenth of what it comes out of (fee <= base // 10; a fee schedule is at most
0.1, so only a gas fee too big for a small fill can hit the cap).

The maker's give balance loses taker_gross from its total and hold_release from its
hold; hold_release >= taker_gross (at most one unit more, the rounding dust, which
stays the maker's). Once F + A == T the order holds exactly 0. Fee rates are fractions
(FeeSchedule, at most 8 decimal places) carried as integers scaled by 10^18 (1e18 is
100%), so floor(x * rate) is exact integer arithmetic: `fee(x, rate_e18)`.
"""

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext

from exchange.protocol.settlement import SettlementRefused, fee_cap, settlement

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


def remaining_give(
    *, give_amount: int | Decimal, take_amount: int | Decimal, filled: int | Decimal
) -> int:
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
    """Every number of one fill (see the module docstring), or FillRefused with a reason
    a client can act on: the amount is not positive or above what is left, too small
    to buy anything or to carry the gas fee, or too large for uint256 arithmetic."""
    give_amount, take_amount, filled, amount = map(int, (give_amount, take_amount, filled, amount))
    left = take_amount - filled
    if amount <= 0 or amount > left:
        raise FillRefused(f"amount {amount} is more than the {left} left to fill")
    gross = taker_gross(amount=amount, give_amount=give_amount, take_amount=take_amount)
    maker_fee, taker_fee = fee(amount, maker_fee_e18), fee(gross, taker_fee_e18)
    try:
        booked = settlement(
            give_amount=give_amount,
            take_amount=take_amount,
            filled=filled,
            amount=amount,
            maker_fee=maker_fee,
            taker_fee=taker_fee,
            gas_fee=int(gas_fee),
        )
    except SettlementRefused as refusal:
        if gross == 0:
            reason = (
                f"amount {amount} is too small: it buys 0 of the give token "
                f"(the order gives {give_amount} for {take_amount})"
            )
        elif int(gas_fee) > fee_cap(gross):
            reason = (
                f"amount {amount} is too small for the gas fee: it buys {gross} of the give "
                f"token, and the gas fee of {gas_fee} may be at most a tenth of that"
            )
        elif amount * give_amount > 2**256 - 1:
            reason = f"amount {amount} times the order's giveAmount exceeds 2^256-1: fill less"
        else:
            reason = f"the settlement contract would refuse this fill ({refusal.reason})"
        raise FillRefused(reason) from None
    filled_after = filled + amount
    return Fill(
        amount=booked.taker_gives,
        taker_gross=booked.maker_gives,
        maker_fee=booked.fee_in_take_token,
        taker_fee=taker_fee,
        gas_fee=int(gas_fee),
        hold_release=remaining_give(give_amount=give_amount, take_amount=take_amount, filled=filled)
        - remaining_give(give_amount=give_amount, take_amount=take_amount, filled=filled_after),
        filled_after=filled_after,
    )


def settlement_paid(fill: Fill, *, take_token_gas_fee: int) -> bool:
    """Whether a fill's fees pay for settling it on chain (one trade() the operator pays
    the gas of): the give token's gas fee is charged (fill_compute made sure it fits), or
    the maker's fee reaches what one settlement costs in the take token. The price of a
    settlement in a token is that token's trade gas fee; 0 means not priced."""
    return fill.gas_fee > 0 or 0 < int(take_token_gas_fee) <= fill.maker_fee


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
    """A plain decimal string without exponent or trailing zeros: "0.0005", "12", "0".

    Exact: format(..., "f") never rounds, and only zeros after the point are cut.
    """
    if type(value) is int:
        return str(value)
    text = format(value if isinstance(value, Decimal) else Decimal(value), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("0", "-0", ""):
        return "0"
    return text
