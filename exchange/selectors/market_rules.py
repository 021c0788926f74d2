"""A market's trading rules in force (MarketRules, docs/markets.md), as they are read: with
the market row (rules_annotate), from an annotated row (rules_of) or on their own
(rules_get). The checks against them are exchange/services/market_rules.py."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TypedDict, TypeVar, cast

from django.db.models import Model, OuterRef, QuerySet, Subquery
from django.utils import timezone
from django_stubs_ext import WithAnnotations

from exchange.models import Market, MarketRules
from exchange.records import Record

_FIELDS = ("price_tick", "amount_step", "min_total", "max_open_orders")
# What rules_annotate adds, each as rule_<name> (a hot path's own statement reads them too).
RULE_FIELDS = _FIELDS
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

    @classmethod
    def of(cls, row: MarketRules) -> "Rules":
        """The rules a MarketRules row sets."""
        return cls(
            price_tick=Decimal(row.price_tick),
            amount_step=int(row.amount_step),
            min_total=int(row.min_total),
            max_open_orders=int(row.max_open_orders),
        )

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
    return NO_RULES if rules is None else Rules.of(rules)
