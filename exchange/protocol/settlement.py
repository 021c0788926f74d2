"""What the contract's trade() does to balances, in Python: the off-chain engine computes a
fill with these functions so the ledger and the contract agree to the base unit
(PROTOCOL.md "Trades"; tests/chain/test_settlement.py checks them against the contract).

`amount` is in the order's take-token units (what the taker gives and the maker receives);
the taker receives amount * giveAmount / takeAmount of the give token, rounded down. The maker
fee comes out of what the maker receives (take token), the taker fee and the gas fee out of
what the taker receives (give token). Each fee is at most 10% of the amount it comes out of.
"""

from dataclasses import dataclass

UINT256_MAX = 2**256 - 1
FEE_CAP_DIVISOR = 10  # the contract's constant


class SettlementRefused(ValueError):
    """The contract would revert this fill; `reason` is its revert string."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Settlement:
    taker_gives: int  # take token, out of the taker's balance
    maker_receives: int  # take token, into the maker's balance (after the maker fee)
    maker_gives: int  # give token, out of the maker's balance
    taker_receives: int  # give token, into the taker's balance (after taker and gas fees)
    fee_in_take_token: int  # the maker fee, to the fee account
    fee_in_give_token: int  # taker fee + gas fee, to the fee account


def fee_cap(base: int) -> int:
    """The largest fee the contract accepts out of `base`: 10%, rounded down."""
    return base // FEE_CAP_DIVISOR


def taker_receives_gross(*, give_amount: int, take_amount: int, amount: int) -> int:
    """The give-token amount a fill of `amount` take-token units pays, before fees."""
    return amount * give_amount // take_amount


def settlement(
    *,
    give_amount: int,
    take_amount: int,
    filled: int,
    amount: int,
    maker_fee: int,
    taker_fee: int,
    gas_fee: int,
) -> Settlement:
    """The balance changes of one fill of an order already filled `filled`, or
    SettlementRefused with the contract's reason. (The contract also refuses a bad
    signature, a repeated trade, a self trade, one token on both sides, and a balance too
    low; those are the caller's to check.)"""
    if give_amount <= 0 or take_amount <= 0:
        raise SettlementRefused("Exchange: zero order amount")
    if amount <= 0:
        raise SettlementRefused("Exchange: zero amount")
    if filled + amount > take_amount:
        raise SettlementRefused("Exchange: order overfilled")
    if amount * give_amount > UINT256_MAX:
        raise SettlementRefused("Exchange: amount * giveAmount overflows uint256")
    out = taker_receives_gross(give_amount=give_amount, take_amount=take_amount, amount=amount)
    if out == 0:
        raise SettlementRefused("Exchange: trade too small")
    if maker_fee > fee_cap(amount):
        raise SettlementRefused("Exchange: maker fee over the cap")
    if taker_fee > fee_cap(out):
        raise SettlementRefused("Exchange: taker fee over the cap")
    if gas_fee > fee_cap(out):
        raise SettlementRefused("Exchange: gas fee over the cap")
    return Settlement(
        taker_gives=amount,
        maker_receives=amount - maker_fee,
        maker_gives=out,
        taker_receives=out - taker_fee - gas_fee,
        fee_in_take_token=maker_fee,
        fee_in_give_token=taker_fee + gas_fee,
    )
