"""A market's trading rules (MarketRules, docs/markets.md): price tick, amount step of the
QUOTE token, minimum order total in BASE, maximum open orders per account.

The rules in force are read with the market row (exchange/selectors/market_rules.py:
rules_annotate, subqueries, no extra query). New orders are checked against them (order_rules_check); fills may not leave an
order's remainder under the minimum unless they fill it completely (fill_minimum_check),
and an order whose remainder is already under the minimum is closed after a fill
(remainder_closes). Orders already open when a rule changes stay as they were placed.
"""

from decimal import Decimal
from fractions import Fraction

from exchange.models import Market, Order, OrderSide, Token
from exchange.selectors.market_rules import Rules
from exchange.services.errors import FieldCode, FieldError
from exchange.trading_math import remaining_give


def _human(amount: int, token: Token) -> str:
    value = (Decimal(amount).scaleb(-token.decimals)).normalize()
    return f"{value:f} {token.symbol}"


def order_rules_check(
    *,
    market: Market,
    rules: Rules,
    side: str,
    give_amount: int,
    take_amount: int,
) -> None:
    """Refuses a new order off the step, off the tick or under the minimum total (400,
    code 100, 1004 on the field at fault, the reason naming the rule and its value)."""
    base, quote = market.base, market.quote
    if side == OrderSide.BID:
        base_amount, quote_amount = give_amount, take_amount
        base_field, quote_field = "giveAmount", "takeAmount"
    else:
        base_amount, quote_amount = take_amount, give_amount
        base_field, quote_field = "takeAmount", "giveAmount"
    if rules.amount_step and quote_amount % rules.amount_step:
        lower = quote_amount - quote_amount % rules.amount_step
        raise FieldError(
            quote_field,
            FieldCode.OUT_OF_RANGE,
            f"Rule amountStep of {market.name}: the {quote.symbol} amount must be a multiple "
            f"of {rules.amount_step} base units ({_human(rules.amount_step, quote)}); "
            f"{quote_amount} is not (nearest: {lower} or {lower + rules.amount_step})",
        )
    if rules.price_tick:
        price = Fraction(base_amount * 10**quote.decimals, quote_amount * 10**base.decimals)
        ticks = price / Fraction(rules.price_tick)
        if ticks.denominator != 1:
            tick = rules.price_tick.normalize()
            below = Decimal(ticks.numerator // ticks.denominator) * tick
            raise FieldError(
                base_field,
                FieldCode.OUT_OF_RANGE,
                f"Rule priceTick of {market.name}: the price ({base.symbol} per {quote.symbol}) "
                f"must be a multiple of {tick:f}; this order's is "
                f"{Decimal(price.numerator) / Decimal(price.denominator):f} "
                f"(nearest: {below:f} or {below + tick:f})",
            )
    if rules.min_total and base_amount < rules.min_total:
        raise FieldError(
            base_field,
            FieldCode.OUT_OF_RANGE,
            f"Rule minOrderTotal of {market.name}: an order must be worth at least "
            f"{rules.min_total} {base.symbol} base units ({_human(rules.min_total, base)}); "
            f"this one is {base_amount}",
        )


def open_orders_check(*, market: Market, rules: Rules, account: str, open_count: int) -> None:
    if rules.max_open_orders and open_count >= rules.max_open_orders:
        raise FieldError(
            "account",
            FieldCode.OUT_OF_RANGE,
            f"Rule maxOpenOrders of {market.name}: an account may have at most "
            f"{rules.max_open_orders} open orders in the market; {account} has {open_count}. "
            "Cancel one first",
        )


def remainder_base(order: Order, filled: int) -> int:
    """What is left of the order after `filled` (take-token units), in BASE base units."""
    if order.side == OrderSide.BID:  # gives BASE
        return remaining_give(
            give_amount=int(order.give_amount), take_amount=int(order.take_amount), filled=filled
        )
    return int(order.take_amount) - filled  # takes BASE


def largest_fill_leaving(order: Order, filled: int, minimum: int) -> int:
    """The largest amount (take-token units) a fill may have and leave `minimum` BASE."""
    give, take = int(order.give_amount), int(order.take_amount)
    if order.side == OrderSide.BID:
        # give - floor((filled + a) * give / take) >= minimum
        return max(((give - minimum + 1) * take - 1) // give - filled, 0)
    return max(take - minimum - filled, 0)


def fill_minimum_check(
    *, market: Market, rules: Rules, order: Order, filled_before: int, filled_after: int, field: str
) -> None:
    """Refuses a fill that would take an order's remainder from at least the minimum to
    under it (and above 0). An order already under the minimum (placed before a rule
    raised it) may be filled; remainder_closes then closes what is left."""
    if not rules.min_total:
        return
    before = remainder_base(order, filled_before)
    after = remainder_base(order, filled_after)
    if 0 < after < rules.min_total <= before:
        complete = int(order.take_amount) - filled_before
        largest = largest_fill_leaving(order, filled_before, rules.min_total)
        raise FieldError(
            field,
            FieldCode.OUT_OF_RANGE,
            f"Rule minOrderTotal of {market.name}: this fill would leave {after} "
            f"{market.base.symbol} base units of order {order.hash}, under the minimum "
            f"{rules.min_total}; fill it completely (amount {complete}) or leave at least "
            f"the minimum (amount at most {largest})",
        )


def remainder_closes(*, rules: Rules, order: Order) -> bool:
    """True when an open order's remainder is above 0 and under the minimum."""
    if not rules.min_total or order.filled == order.take_amount:
        return False
    return 0 < remainder_base(order, int(order.filled)) < rules.min_total
