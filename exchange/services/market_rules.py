"""A market's trading rules (MarketRules, docs/markets.md): price tick, amount step of the
QUOTE token, minimum order total in BASE, maximum open orders per account.

The rules in force are read with the market row (rules_annotate: subqueries, no extra
query). New orders are checked against them (order_rules_check); fills may not leave an
order's remainder under the minimum unless they fill it completely (fill_minimum_check),
and an order whose remainder is already under the minimum is closed after a fill
(remainder_closes). Orders already open when a rule changes stay as they were placed.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import TypedDict, TypeVar, cast

from django.db.models import Model, OuterRef, QuerySet, Subquery
from django.utils import timezone
from django_stubs_ext import WithAnnotations

from exchange.api.errors import FieldCode, FieldError
from exchange.models import Market, MarketRules, Order, OrderSide, Token
from exchange.records import Record
from exchange.trading_math import remaining_give

_FIELDS = ("price_tick", "amount_step", "min_total", "max_open_orders")
_M = TypeVar("_M", bound=Model)


class RuleAnnotations(TypedDict):
    """What rules_annotate adds to a market: its MarketRules fields in force, all None
    when none is (the columns are NOT NULL, so one None means no rules)."""

    rule_price_tick: Decimal | None
    rule_amount_step: Decimal | None
    rule_min_total: Decimal | None
    rule_max_open_orders: int | None


@dataclass(frozen=True)
class Rules:
    price_tick: Decimal = Decimal(0)
    amount_step: int = 0
    min_total: int = 0
    max_open_orders: int = 0

    def as_api(self) -> Record:
        tick = self.price_tick.normalize() if self.price_tick else Decimal(0)
        return {
            "priceTick": f"{tick:f}",
            "amountStep": str(self.amount_step),
            "minOrderTotal": str(self.min_total),
            "maxOpenOrders": self.max_open_orders,
        }


NO_RULES = Rules()


def rules_annotate(
    queryset: QuerySet[_M], at: datetime | None = None, prefix: str = ""
) -> QuerySet[_M]:
    """Annotates each market (pk, or `prefix`market_id) with the rules in force at `at`."""
    at = at or timezone.now()
    ref = OuterRef(f"{prefix}market_id" if prefix else "pk")
    in_force = MarketRules.objects.filter(market=ref, effective_at__lte=at).order_by(
        "-effective_at"
    )
    annotated: QuerySet[_M] = queryset.annotate(
        **{f"rule_{name}": Subquery(in_force.values(name)[:1]) for name in _FIELDS}
    )
    return annotated


def rules_of(market: Market) -> Rules:
    """The Rules an annotated market carries (read now if it was not annotated)."""
    if not hasattr(market, "rule_price_tick"):
        return rules_get(market)
    # Annotated: rules_annotate's fields are there (checked just above).
    row = cast("WithAnnotations[Market, RuleAnnotations]", market)
    if row.rule_price_tick is None:
        return NO_RULES
    return Rules(
        price_tick=Decimal(row.rule_price_tick),
        amount_step=int(row.rule_amount_step or 0),
        min_total=int(row.rule_min_total or 0),
        max_open_orders=int(row.rule_max_open_orders or 0),
    )


def rules_get(market: Market, at: datetime | None = None) -> Rules:
    rules = MarketRules.objects.in_force(market, at)
    if rules is None:
        return NO_RULES
    return Rules(
        price_tick=Decimal(rules.price_tick),
        amount_step=int(rules.amount_step),
        min_total=int(rules.min_total),
        max_open_orders=int(rules.max_open_orders),
    )


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
