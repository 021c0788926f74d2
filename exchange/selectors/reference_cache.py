"""Reference rows kept per process for the write hot paths (issue #20): networks,
tokens and markets (with their base and quote and the markets' rules).

Invalidation is the mechanism API keys and bans use (exchange/selectors/access.py): the
shared cache (Redis) holds a generation token; every change an operator makes to a
reference row drops it at once and again after commit (`reference_forget`, wired to the
models' post_save/post_delete). Each lookup reads the token (one cache GET) and a
process whose kept rows were read under another token drops them all, so a change is
seen by every replica on its next request, not after a timeout. When the cache is down,
nothing is kept: every lookup reads the database.

What must be fresh is not kept here: a market's status and the network's kill switch
(order_submission_enabled) are read with the write that depends on them (the services'
fast statements, or their ORM path). Rules and fee schedules are kept as their whole
history and the one in force is chosen at each call, so rules taking effect later need
no invalidation. (A trade reads its fee schedule and rules inside its market lock query:
no round trip of their own to save.)
"""

import logging
import secrets
from collections.abc import Callable, Hashable, Sequence
from contextvars import ContextVar
from contextvars import Token as Token_
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_migrate, post_save
from django.utils import timezone

from exchange.models import Market, MarketRules, Network, OrderSide, Token
from exchange.selectors.market_rules import NO_RULES, Rules

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

GENERATION_KEY = "reference:generation"

# generation -> the rows read under it. Only the newest generation's rows are ever read
# again; a request thread that read the token before an operator's change may still file
# a row under the old token, where no later lookup looks (keeping one dict per process
# and a "current generation" beside it let such a row outlive the change).
_kept: dict[str, dict[Hashable, Any]] = {}


@dataclass(frozen=True)
class PairMarket:
    """The market trading two token addresses, the side an order giving the first is,
    the two tokens (give, take), and the market's rules history (newest first)."""

    market: Market
    side: str
    give: Token
    take: Token
    rules_history: tuple[MarketRules, ...] = ()

    def rules(self, at: datetime | None = None) -> Rules:
        """The market's rules in force at `at` (now)."""
        return _in_force(self.rules_history, at)


def _cache_call(method: str, *args: object, default: object = None) -> Any:
    try:
        return getattr(cache, method)(*args)
    except Exception:
        logger.warning("event=reference_cache_error method=%s", method, exc_info=True)
        return default


# The token as the request's rate-limit script read it (exchange/api/throttling.py), in
# the same Redis round trip as the counters: a lookup during that request uses it
# instead of a GET of its own. None: no such read (or the token was not set then).
_prefetched: ContextVar[str | None] = ContextVar("reference_generation", default=None)


def generation_prefetched(token: str | None) -> Token_[str | None]:
    """Lookups until generation_prefetched_end use `token`, read moments before."""
    return _prefetched.set(token if isinstance(token, str) else None)


def generation_prefetched_end(reset: Token_[str | None]) -> None:
    _prefetched.reset(reset)


def _generation() -> str | None:
    """The shared generation token (a new one if none is set); None if the cache is down."""
    prefetched = _prefetched.get()
    if prefetched is not None:
        return prefetched
    token: str | None = _cache_call("get", GENERATION_KEY)
    if token is None:
        _cache_call("add", GENERATION_KEY, secrets.token_hex(8), None)
        token = _cache_call("get", GENERATION_KEY)
    return token


def _kept_or_load(key: Hashable, load: Callable[[], _T]) -> _T:
    generation = _generation()
    if generation is None:
        return load()
    rows = _kept.get(generation)
    if rows is None:
        rows = {}
        _kept.clear()
        _kept[generation] = rows
    if key in rows:
        kept: _T = rows[key]
        return kept
    row = load()
    if row is not None:
        # Only what exists is kept: made-up addresses or ids cannot grow a process.
        rows[key] = row
    return row


def reference_forget(**_kwargs: object) -> None:
    """Every process drops its kept rows on its next lookup: the token is deleted now and
    again after commit (a lookup between the two may have kept the old rows)."""
    _kept.clear()
    _prefetched.set(None)
    _cache_call("delete", GENERATION_KEY)
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(lambda: _cache_call("delete", GENERATION_KEY))


def token_kept(network_id: int, address: str) -> Token | None:
    """The network's token at `address` (listed or not), or None."""
    address = address.lower()
    return _kept_or_load(
        ("token", network_id, address),
        lambda: Token.objects.filter(network_id=network_id, address=address).first(),
    )


def _markets_of(network_id: int) -> dict[tuple[str, str], tuple[Market, tuple[MarketRules, ...]]]:
    """(base address, quote address) -> (market with base, quote and network, its rules
    history newest first), listed markets only: two queries."""
    markets = list(
        Market.objects.select_related("base", "quote", "network").filter(
            network_id=network_id, base__listed=True, quote__listed=True
        )
    )
    history: dict[int, list[MarketRules]] = {market.id: [] for market in markets}
    for row in MarketRules.objects.filter(market_id__in=history).order_by("-effective_at"):
        history[row.market_id].append(row)
    return {
        (market.base.address, market.quote.address): (market, tuple(history[market.id]))
        for market in markets
    }


def market_of_pair(network_id: int, give: str, take: str) -> PairMarket | None:
    """The listed market trading `give` against `take` (addresses), or None."""
    markets = _kept_or_load(("markets", network_id), lambda: _markets_of(network_id))
    give, take = give.lower(), take.lower()
    if (give, take) in markets:
        market, rules = markets[(give, take)]
        return PairMarket(market, OrderSide.BID, market.base, market.quote, rules)
    if (take, give) in markets:
        market, rules = markets[(take, give)]
        return PairMarket(market, OrderSide.ASK, market.quote, market.base, rules)
    return None


def market_kept(market_id: int) -> Market | None:
    """The market with base, quote and network (a snapshot: its status may be stale)."""
    return _kept_or_load(
        ("market", market_id),
        lambda: (
            Market.objects.select_related("base", "quote", "network").filter(pk=market_id).first()
        ),
    )


def _in_force(history: Sequence[MarketRules], at: datetime | None) -> Rules:
    at = at or timezone.now()
    row = next((row for row in history if row.effective_at <= at), None)
    return NO_RULES if row is None else Rules.of(row)


post_migrate.connect(reference_forget, dispatch_uid="reference_forget_on_flush")
for _model in (Network, Token, Market, MarketRules):
    post_save.connect(reference_forget, sender=_model, dispatch_uid=f"reference_{_model.__name__}")
    post_delete.connect(
        reference_forget, sender=_model, dispatch_uid=f"reference_del_{_model.__name__}"
    )
