"""Filling signed orders: create_trades (PROTOCOL.md "Trades", "Markets, sides, prices").

One request's trades are one transaction: all fill or none do. Locks, always in this
order so that no two requests can deadlock: the market row (FOR NO KEY UPDATE, which
serialises the market's trades without blocking new orders that reference it), the
orders by id, the balances by id (balances_lock), then the market's candle rows.
The amounts and fees are exchange/trading_math.py's, which the contract mirrors.
"""

import functools
import itertools
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TypeAlias, TypedDict, Unpack, cast

from django.db import IntegrityError, connection, transaction
from django.db.models import Subquery
from django.utils import timezone
from django_stubs_ext import WithAnnotations

from exchange.commit_marks import marks_set_on_commit
from exchange.market_snapshots import market_data_changed
from exchange.models import (
    Balance,
    CloseReason,
    FeeAccrual,
    FeeSchedule,
    LedgerKind,
    Market,
    MarketStatus,
    Network,
    Order,
    OrderSide,
    OrderStatus,
    Token,
    Trade,
)
from exchange.prepared_statements import prepared_fetchall
from exchange.protocol import hashing
from exchange.protocol.typed_data import ETH_SIGN
from exchange.selectors.market_data import CANDLE_RECORD_FIELDS
from exchange.selectors.market_rules import RULE_FIELDS, Rules, rules_annotate, rules_of
from exchange.services.account_guard import Guard, account_guard, escape_payable_check
from exchange.services.candles import candles_record, candles_upsert
from exchange.services.chain_jobs import settlement_mark
from exchange.services.errors import (
    FieldCode,
    FieldError,
    Invalid,
    NotFound,
    OrderSubmissionDisabled,
)
from exchange.services.fees import fee_accrual_rows
from exchange.services.ledger import BalanceChange, BalanceKey, balance_changes, balances_lock
from exchange.services.market_rules import fill_minimum_check, remainder_closes
from exchange.services.rows import (
    Returning,
    model_columns,
    model_of_row,
    prepared_fetchone,
)
from exchange.services.signing import signature_error, signed_message
from exchange.streams.events import candles_changed, orders_changed, ticker_mark, trades_created
from exchange.trading_math import Fill, FillRefused, fee_rate_e18, fill_compute, settlement_paid

logger = logging.getLogger(__name__)

# Bounds the locks one request takes; a client fills more orders with more requests.
MAX_TRADES_PER_REQUEST = 50


@dataclass(frozen=True)
class TradeRequest:
    """One create_trades item, already parsed (addresses and hashes lower-case)."""

    order_hash: str
    amount: int
    account: str
    nonce: int
    signature: str
    trade_hash: str | None = None  # optional: the client's own tradeHash, checked if given
    signature_type: str = ETH_SIGN  # what the signature signs: tradeHash or the EIP-712 Trade


def _field(index: int, name: str, indexed: bool) -> str:
    return f"[{index}].{name}" if indexed else name


def _check_signatures(
    network: Network, fills: Sequence[TradeRequest], indexed: bool
) -> tuple[str, list[str]]:
    """The taker and each item's tradeHash; every item signed by the same taker, once."""
    contract = network.exchange_address
    taker = fills[0].account
    hashes: list[str] = []
    for index, item in enumerate(fills):
        if item.account != taker:
            raise FieldError(
                _field(index, "account", indexed),
                FieldCode.UNSUPPORTED_OPTION,
                f"Every trade of one request must be signed by the same account ({taker})",
            )
        expected = hashing.trade_hash(
            contract=contract,
            order_hash=item.order_hash,
            amount=item.amount,
            account=item.account,
            nonce=item.nonce,
        )
        if item.trade_hash is not None and item.trade_hash != expected:
            raise FieldError(
                _field(index, "tradeHash", indexed),
                FieldCode.INVALID_SIGNATURE,
                f"tradeHash {item.trade_hash} does not match the trade's fields: the server "
                f"computed {expected} with contractAddress {contract}",
            )
        signed = signed_message(
            signature_type=item.signature_type,
            hash_name="tradeHash",
            spec_hash=expected,
            struct="Trade",
            message={
                "contractAddress": contract,
                "orderHash": item.order_hash,
                "amount": item.amount,
                "account": item.account,
                "nonce": item.nonce,
            },
            chain_id=network.id,
            contract=contract,
        )
        error = signature_error(_field(index, "signature", indexed), signed, item.signature, taker)
        if error:
            raise error
        if expected in hashes:
            raise FieldError(
                _field(index, "nonce", indexed),
                FieldCode.INVALID_SIGNATURE,
                f"Trade {index} repeats trade {hashes.index(expected)} (tradeHash {expected}): "
                "sign each fill with its own nonce",
            )
        hashes.append(expected)
    return taker, hashes


def _orders_get(network: Network, fills: Sequence[TradeRequest], indexed: bool) -> dict[str, Order]:
    """The orders named, all on one give/take token pair; an unknown one is a 404."""
    orders = {
        order.hash: order
        for order in Order.objects.filter(
            network=network, hash__in={item.order_hash for item in fills}
        )
    }
    pair = None
    for index, item in enumerate(fills):
        order = orders.get(item.order_hash)
        if order is None:
            raise NotFound(
                f"{_field(index, 'orderHash', indexed)}: no order with hash "
                f"{item.order_hash} on network {network.id}"
            )
        if pair is None:
            pair = (order.give_token_id, order.take_token_id)
        elif (order.give_token_id, order.take_token_id) != pair:
            raise FieldError(
                _field(index, "orderHash", indexed),
                FieldCode.UNSUPPORTED_OPTION,
                "Every order filled in one request must have the same "
                "giveTokenAddress/takeTokenAddress pair as the first one",
            )
    return orders


class _TradeIds(TypedDict):
    """What _market_lock adds to the market on PostgreSQL: the ids of the request's trades."""

    trade_ids: list[int]


_TRADE_IDS = (
    "ARRAY(SELECT nextval(pg_get_serial_sequence('exchange_trade', 'id'))"
    " FROM generate_series(1, %s))"
)


@functools.cache
def _market_lock_sql() -> str:
    """_market_lock's statement on PostgreSQL, built once per process: what the ORM
    query below it reads (the market with its base, quote and network, the rules in
    force at %(at)s, the trades' ids), with parameters only, so that it is prepared
    once per connection (rows.prepared_fetchone) and costs no SQL compilation."""
    rules = ", ".join(
        f"(SELECT r.{name} FROM exchange_marketrules AS r WHERE r.market_id = m.id"
        " AND r.effective_at <= %(at)s ORDER BY r.effective_at DESC LIMIT 1)"
        for name in RULE_FIELDS
    )
    return (
        f"SELECT {model_columns(Market, 'm')}, {model_columns(Token, 'b')},"
        f" {model_columns(Token, 'q')}, {model_columns(Network, 'n')}, {rules},"
        f" {_TRADE_IDS % '%(count)s'}"
        " FROM exchange_market AS m"
        " JOIN exchange_token AS b ON b.id = m.base_id"
        " JOIN exchange_token AS q ON q.id = m.quote_id"
        " JOIN exchange_network AS n ON n.id = m.network_id"
        " WHERE m.id = (SELECT o.market_id FROM exchange_order AS o"
        " WHERE o.hash = %(hash)s AND o.network_id = %(network)s LIMIT 1)"
        " FOR NO KEY UPDATE OF m"
    )


def _market_locked_row(network: Network, first_hash: str, trade_count: int) -> Market | None:
    """_market_lock's market on PostgreSQL: one prepared statement, its row made into
    the Market (base, quote and network cached on it, as select_related leaves them)
    with its rule_* and trade_ids."""
    row = prepared_fetchone(
        _market_lock_sql(),
        {"at": timezone.now(), "count": trade_count, "hash": first_hash, "network": network.id},
    )
    if row is None:
        return None
    widths = [len(model._meta.concrete_fields) for model in (Market, Token, Token, Network)]
    ends = list(itertools.accumulate(widths))
    market = model_of_row(Market, row[: ends[0]])
    market.base = model_of_row(Token, row[ends[0] : ends[1]])
    market.quote = model_of_row(Token, row[ends[1] : ends[2]])
    market.network = model_of_row(Network, row[ends[2] : ends[3]])
    rules = row[ends[3] : ends[3] + len(RULE_FIELDS)]
    for name, value in zip(RULE_FIELDS, rules, strict=True):
        setattr(market, f"rule_{name}", value)
    # What the ORM path annotates (_TradeIds): read back through a cast in _trades_write.
    setattr(market, "trade_ids", row[ends[3] + len(RULE_FIELDS)])  # noqa: B010
    return market


def _market_lock(network: Network, first_hash: str, trade_count: int) -> Market | None:
    """Locks the market of the request's first order (None: no such order); on
    PostgreSQL it carries `trade_ids`, the ids of the request's trades."""
    if connection.vendor == "postgresql":
        # The trades' ids, taken with the lock (no round trip of their own): the trades
        # and their candles are written in one statement (_trades_write).
        market = _market_locked_row(network, first_hash, trade_count)
    else:
        market = (
            rules_annotate(Market.objects.select_for_update(no_key=True, of=("self",)))
            .select_related("base", "quote", "network")
            .filter(
                pk=Subquery(
                    Order.objects.filter(network=network, hash=first_hash).values("market_id")[:1]
                )
            )
            .first()
        )
    if market is None:
        return None
    # Read with the lock, not from the request's (cached) network: a kill switch
    # thrown a moment ago stops this trade.
    if not market.network.order_submission_enabled:
        raise OrderSubmissionDisabled(
            f"Order submission is disabled on network {market.network_id}"
        )
    if market.status != MarketStatus.TRADING:
        raise OrderSubmissionDisabled(
            f"Market {market.name} is {market.get_status_display().lower()}: trades are refused"
        )
    if not (market.base.listed and market.quote.listed):
        raise OrderSubmissionDisabled(f"Market {market.name} trades a token that is not listed")
    return market


def _fee_in_force(network: Network, at: datetime, field: str) -> Subquery:
    """A field of FeeSchedule.objects.in_force(network, at), as a subquery (effective_at
    is unique per network: the maker and taker rates come from one schedule)."""
    return Subquery(
        FeeSchedule.objects.filter(network=network, effective_at__lte=at)
        .order_by("-effective_at")
        .values(field)[:1]
    )


class _FeeRates(TypedDict):
    """The fee rates in force that _orders_lock reads with each order: the one schedule's
    maker_fee and taker_fee, both None when no schedule is in force."""

    maker_fee_rate: Decimal | None
    taker_fee_rate: Decimal | None


# A string: WithAnnotations takes one argument at runtime (Annotated), two for mypy.
_RatedOrder: TypeAlias = "WithAnnotations[Order, _FeeRates]"


@functools.cache
def _orders_lock_sql() -> str:
    """_orders_lock's statement on PostgreSQL, built once per process (as
    _market_lock_sql): the orders by id, each with the fee rates in force."""
    fees = ", ".join(
        f"(SELECT f.{name} FROM exchange_feeschedule AS f WHERE f.network_id = %(network)s"
        " AND f.effective_at <= %(at)s ORDER BY f.effective_at DESC LIMIT 1)"
        for name in ("maker_fee", "taker_fee")
    )
    return (
        f"SELECT {model_columns(Order, 'o')}, {fees} FROM exchange_order AS o"
        " WHERE o.network_id = %(network)s AND o.market_id = %(market)s"
        " AND o.hash = ANY(%(hashes)s::text[])"
        " ORDER BY o.id FOR UPDATE OF o"
    )


def _orders_locked_rows(
    network: Network, market: Market, hashes: set[str], at: datetime
) -> list[_RatedOrder]:
    """_orders_lock's orders on PostgreSQL: one prepared statement, each row made into
    the Order with its maker_fee_rate and taker_fee_rate."""
    rows = prepared_fetchall(
        _orders_lock_sql(),
        {"network": network.id, "at": at, "market": market.id, "hashes": sorted(hashes)},
    )
    width = len(Order._meta.concrete_fields)
    orders = []
    for row in rows:
        # The instance the ORM path's .annotate() gives: an Order with the two rates.
        order = cast(_RatedOrder, model_of_row(Order, row[:width]))
        order.maker_fee_rate, order.taker_fee_rate = row[width], row[width + 1]
        orders.append(order)
    return orders


def _orders_lock(
    network: Network, market: Market, fills: Sequence[TradeRequest], at: datetime, indexed: bool
) -> dict[int, _RatedOrder]:
    """Locks the market's orders named (by id), each carrying the fee rates in force at
    `at`; an unknown order or one off the first order's pair is refused as
    _orders_get refuses it."""
    hashes = {item.order_hash for item in fills}
    if connection.vendor == "postgresql":
        orders = {order.id: order for order in _orders_locked_rows(network, market, hashes, at)}
    else:
        orders = {
            order.id: order
            for order in Order.objects.select_for_update(of=("self",))
            .filter(network=network, market=market, hash__in=hashes)
            .annotate(
                maker_fee_rate=_fee_in_force(network, at, "maker_fee"),
                taker_fee_rate=_fee_in_force(network, at, "taker_fee"),
            )
            .order_by("id")
        }
    pairs = {(order.give_token_id, order.take_token_id) for order in orders.values()}
    if len(orders) != len(hashes) or len(pairs) != 1:
        _orders_get(network, fills, indexed)  # raises the refusal
        raise Invalid("Every order must be of the same market and pair")
    return orders


def _fee_rates(order: _RatedOrder) -> tuple[int, int]:
    """The rates in force that _orders_lock read with the order (no schedule: 0)."""
    if order.maker_fee_rate is None or order.taker_fee_rate is None:
        return 0, 0
    return fee_rate_e18(order.maker_fee_rate), fee_rate_e18(order.taker_fee_rate)


def _fills_compute(
    *,
    fills: Sequence[TradeRequest],
    hashes: list[str],
    orders: Mapping[int, Order],
    by_hash: dict[str, int],
    taker: str,
    now_ms: int,
    rates: tuple[int, int],
    gas_fee: int,
    indexed: bool,
    used: set[str],
) -> list[Fill]:
    """Checks each item against its locked order and computes its numbers; `used` are
    the tradeHashes already in the database."""
    filled: dict[int, Decimal | int] = {
        order_id: order.filled for order_id, order in orders.items()
    }
    computed = []
    for index, item in enumerate(fills):
        order = orders[by_hash[item.order_hash]]
        if order.status != OrderStatus.OPEN or order.expiry_ms <= now_ms:
            state = "expired" if order.status == OrderStatus.OPEN else order.status.lower()
            raise FieldError(
                _field(index, "orderHash", indexed),
                FieldCode.UNSUPPORTED_OPTION,
                f"Order {order.hash} is {state}: it cannot be filled",
            )
        if order.account == taker:
            raise FieldError(
                _field(index, "account", indexed),
                FieldCode.UNSUPPORTED_OPTION,
                f"Order {order.hash} is {taker}'s own: an account cannot fill its own order",
            )
        if hashes[index] in used:
            raise FieldError(
                _field(index, "nonce", indexed),
                FieldCode.INVALID_SIGNATURE,
                f"This trade (tradeHash {hashes[index]}) was already submitted: "
                "sign a new one with a new nonce",
            )
        try:
            fill = fill_compute(
                give_amount=int(order.give_amount),
                take_amount=int(order.take_amount),
                filled=int(filled[order.id]),
                amount=item.amount,
                maker_fee_e18=rates[0],
                taker_fee_e18=rates[1],
                gas_fee=gas_fee,
            )
        except FillRefused as refusal:
            raise FieldError(
                _field(index, "amount", indexed), FieldCode.OUT_OF_RANGE, str(refusal)
            ) from None
        filled[order.id] = fill.filled_after
        computed.append(fill)
    return computed


def _trade_record(
    *,
    network: Network,
    market: Market,
    order: Order,
    item: TradeRequest,
    trade_hash: str,
    fill: Fill,
    taker: str,
    created_at: datetime,
) -> Trade:
    if order.side == OrderSide.BID:
        # The maker gives BASE for QUOTE: the taker gives QUOTE, so the taker sells.
        base_amount, quote_amount, taker_side = fill.taker_gross, fill.amount, "sell"
        buyer_fee, seller_fee = fill.maker_fee, fill.taker_fee
    else:
        base_amount, quote_amount, taker_side = fill.amount, fill.taker_gross, "buy"
        buyer_fee, seller_fee = fill.taker_fee, fill.maker_fee
    return Trade(
        uuid=uuid.uuid4(),
        network=network,
        market=market,
        order=order,
        maker=order.account,
        taker=taker,
        give_token_id=order.give_token_id,
        give_amount=fill.taker_gross,
        take_token_id=order.take_token_id,
        take_amount=fill.amount,
        hash=trade_hash,
        nonce=item.nonce,
        signature=item.signature,
        signature_type=item.signature_type,
        buyer_fee=buyer_fee,
        seller_fee=seller_fee,
        maker_fee=fill.maker_fee,
        taker_fee=fill.taker_fee,
        gas_fee=fill.gas_fee,
        gas_fee_token_id=order.give_token_id,
        price=order.price,
        quote_amount=quote_amount,
        base_amount=base_amount,
        taker_side=taker_side,
        created_at=created_at,
    )


def _ledger_legs(
    *, balances: dict[BalanceKey, Balance], trade: Trade, fill: Fill
) -> list[BalanceChange]:
    """One fill's balance changes of its maker and taker (balance_changes items). With
    _fee_legs (what the fee account receives) they sum to zero per token."""
    give, take = trade.give_token_id, trade.take_token_id
    maker, taker = trade.maker, trade.taker
    ref = str(trade.uuid)
    legs = [
        ((maker, give), LedgerKind.TRADE, -fill.taker_gross, -fill.hold_release),
        ((maker, take), LedgerKind.TRADE, fill.amount, 0),
        ((maker, take), LedgerKind.TRADE_FEE, -fill.maker_fee, 0),
        ((taker, take), LedgerKind.TRADE, -fill.amount, 0),
        ((taker, give), LedgerKind.TRADE, fill.taker_gross, 0),
        ((taker, give), LedgerKind.TRADE_FEE, -fill.taker_fee, 0),
        ((taker, give), LedgerKind.GAS_FEE, -fill.gas_fee, 0),
    ]
    return [(balances[key], kind, total, held, ref) for key, kind, total, held in legs]


def _fee_legs(trade: Trade, fill: Fill) -> list[tuple[int, LedgerKind, int, str]]:
    """What one fill owes the fee account, as accruals (exchange/services/fees.py): no
    trade locks the fee account's balance."""
    ref = str(trade.uuid)
    return [
        (trade.take_token_id, LedgerKind.TRADE_FEE, fill.maker_fee, ref),
        (trade.give_token_id, LedgerKind.TRADE_FEE, fill.taker_fee, ref),
        (trade.give_token_id, LedgerKind.GAS_FEE, fill.gas_fee, ref),
    ]


def _used_hashes(hashes: list[str]) -> set[str]:
    return set(Trade.objects.filter(hash__in=hashes).values_list("hash", flat=True))


def _refuse_used(hashes: list[str], indexed: bool) -> None:
    """Refuses the first item whose tradeHash was already submitted, if any."""
    used = _used_hashes(hashes)
    for index, trade_hash in enumerate(hashes):
        if trade_hash in used:
            raise FieldError(
                _field(index, "nonce", indexed),
                FieldCode.INVALID_SIGNATURE,
                f"This trade (tradeHash {trade_hash}) was already submitted: "
                "sign a new one with a new nonce",
            )


class _FillsInputs(TypedDict):
    """_fills_compute's arguments but `used`."""

    fills: Sequence[TradeRequest]
    hashes: list[str]
    orders: Mapping[int, Order]
    by_hash: dict[str, int]
    taker: str
    now_ms: int
    rates: tuple[int, int]
    gas_fee: int
    indexed: bool


def _fills_checked(**kwargs: Unpack[_FillsInputs]) -> list[Fill]:
    """_fills_compute, reading the used tradeHashes only when an item is refused (a
    replay is refused by the unique index on insert otherwise): the refusal is then
    the one the item order gives, as if they had been read first."""
    try:
        return _fills_compute(used=set(), **kwargs)
    except FieldError:
        used = _used_hashes(kwargs["hashes"])
        if used:
            _fills_compute(used=used, **kwargs)
        raise


def _trades_locked(
    *,
    network: Network,
    fills: Sequence[TradeRequest],
    taker: str,
    hashes: list[str],
    indexed: bool,
    at: datetime | None,
    guard: Guard,
) -> tuple[Market, list[Trade]]:
    with transaction.atomic():
        market = _market_lock(network, fills[0].order_hash, len(fills))
        if market is None:
            _orders_get(network, fills, indexed)  # raises the 404
            raise NotFound(
                f"{_field(0, 'orderHash', indexed)}: no order with hash "
                f"{fills[0].order_hash} on network {network.id}"
            )
        created_at = at or timezone.now()
        orders = _orders_lock(network, market, fills, created_at, indexed)
        by_hash = {order.hash: order.id for order in orders.values()}
        first = orders[by_hash[fills[0].order_hash]]
        give_token, take_token = (
            (market.base, market.quote)
            if first.give_token_id == market.base_id
            else (market.quote, market.base)
        )
        take_id = take_token.id
        computed = _fills_checked(
            fills=fills,
            hashes=hashes,
            orders=orders,
            by_hash=by_hash,
            taker=taker,
            now_ms=int(created_at.timestamp() * 1000),
            rates=_fee_rates(first),
            gas_fee=int(give_token.trade_gas_fee),
            indexed=indexed,
        )

        _refuse_unpaid_settlement(
            market=market, computed=computed, tokens=(give_token, take_token), indexed=indexed
        )
        rules = rules_of(market)
        _minimum_checks(
            market=market,
            rules=rules,
            fills=fills,
            computed=computed,
            orders=orders,
            by_hash=by_hash,
            indexed=indexed,
        )

        keys = {(taker, give_token.id), (taker, take_id)}
        keys |= {(order.account, t) for order in orders.values() for t in (give_token.id, take_id)}
        balances = balances_lock(network=network, keys=keys)
        paying = balances[(taker, take_id)]
        needed = 0
        for index, fill in enumerate(computed):
            needed += fill.amount
            if needed > paying.available:
                _refuse_used(hashes, indexed)  # a replay is refused as one first
                raise FieldError(
                    _field(index, "amount", indexed),
                    FieldCode.OUT_OF_RANGE,
                    f"The trades need {needed} of {take_token.symbol} ({take_token.address}) "
                    f"but {taker} has {paying.available} available",
                )

        _escape_checks(
            guard=guard,
            fills=fills,
            computed=computed,
            orders=orders,
            by_hash=by_hash,
            taker=taker,
            tokens=(give_token, take_token),
            indexed=indexed,
        )

        trades, changes, fees = [], [], []
        for index, (item, fill) in enumerate(zip(fills, computed, strict=True)):
            order = orders[by_hash[item.order_hash]]
            trade = _trade_record(
                network=network,
                market=market,
                order=order,
                item=item,
                trade_hash=hashes[index],
                fill=fill,
                taker=taker,
                created_at=created_at,
            )
            order.filled = fill.filled_after
            changes += _ledger_legs(balances=balances, trade=trade, fill=fill)
            fees += _fee_legs(trade, fill)
            trades.append(trade)
        changes += _remainders_close(orders=orders, rules=rules, balances=balances)
        _trades_write(
            market=market,
            changes=changes,
            orders=list(orders.values()),
            fees=fee_accrual_rows(network_id=network.id, fees=fees),
            trades=trades,
            moment=created_at,
        )
        trades_created(market, trades)
        orders_changed(orders.values(), market)
        market_data_changed(network_id=network.id, market_ids=[market.id])
        # Both marks in one cache round trip after the commit; a broker outage must not
        # fail trades that are committed (commit_marks logs it).
        marks_set_on_commit([ticker_mark(market), settlement_mark(network.id)])
    return market, trades


def _trades_write(
    *,
    market: Market,
    changes: list[BalanceChange],
    orders: list[Order],
    fees: list[FeeAccrual],
    trades: list[Trade],
    moment: datetime,
) -> None:
    """Every write of the fills: on PostgreSQL one statement (rows_write, data-modifying
    CTEs) for the balances and their ledger entries, the orders, the fee accruals, the
    trades (their ids taken with the market lock) and the market's candles."""
    if connection.vendor == "postgresql":
        # _market_lock annotated the market with the trades' ids (on PostgreSQL).
        locked = cast("WithAnnotations[Market, _TradeIds]", market)
        for trade, trade_id in zip(trades, locked.trade_ids, strict=True):
            trade.id = trade_id
        upsert = candles_upsert(market_id=market.id, trades=trades)
        # The candles as the upsert wrote them (its RETURNING), for their streams.
        candles = Returning(*upsert, columns=1 + len(CANDLE_RECORD_FIELDS)) if upsert else None
        balance_changes(
            changes,
            updates=[_orders_finished(orders, moment)],
            inserts=[fees, trades],
            statements=[candles] if candles else [],
        )
        if candles:
            candles_changed(market.id, candles.rows)
        return
    balance_changes(changes, updates=[_orders_finished(orders, moment)], inserts=[fees, trades])
    candles_record(market_id=market.id, trades=trades)


def _minimum_checks(
    *,
    market: Market,
    rules: Rules,
    fills: Sequence[TradeRequest],
    computed: list[Fill],
    orders: Mapping[int, Order],
    by_hash: dict[str, int],
    indexed: bool,
) -> None:
    """A fill may not leave an order's remainder under the market's minimum order total
    unless it fills the order completely (exchange/services/market_rules.py)."""
    if not rules.min_total:
        return
    filled = {order_id: int(order.filled) for order_id, order in orders.items()}
    for index, (item, fill) in enumerate(zip(fills, computed, strict=True)):
        order = orders[by_hash[item.order_hash]]
        fill_minimum_check(
            market=market,
            rules=rules,
            order=order,
            filled_before=filled[order.id],
            filled_after=int(fill.filled_after),
            field=_field(index, "amount", indexed),
        )
        filled[order.id] = int(fill.filled_after)


def _remainders_close(
    *, orders: Mapping[int, Order], rules: Rules, balances: dict[BalanceKey, Balance]
) -> list[BalanceChange]:
    """Closes the filled orders whose remainder is under the minimum (orders placed before
    the rule: fill_minimum_check refuses creating one), releasing their holds: the
    balance_changes items."""
    changes = []
    for order in orders.values():
        if not remainder_closes(rules=rules, order=order):
            continue
        release = order.remaining_give
        order.status = OrderStatus.CANCELLED
        order.close_reason = CloseReason.REMAINDER_UNDER_MINIMUM
        balance = balances[(order.account, order.give_token_id)]
        changes.append((balance, LedgerKind.RELEASE, 0, -release, order.hash))
    return changes


def _refuse_unpaid_settlement(
    *, market: Market, computed: list[Fill], tokens: tuple[Token, Token], indexed: bool
) -> None:
    """Dust: a fill whose fees cannot pay for its settlement is refused (1004 on its
    amount) unless the market allows it (Market.allow_unpaid_settlement)."""
    if market.allow_unpaid_settlement:
        return
    give_token, take_token = tokens
    for index, fill in enumerate(computed):
        if settlement_paid(fill, take_token_gas_fee=int(take_token.trade_gas_fee)):
            continue
        price = int(take_token.trade_gas_fee)
        cost = (
            f"less than the {price} a settlement costs in {take_token.symbol}; fill more"
            if price
            else f"and no settlement price is set for {take_token.symbol} either"
        )
        raise FieldError(
            _field(index, "amount", indexed),
            FieldCode.OUT_OF_RANGE,
            f"amount {fill.amount} is too small to pay for its settlement on chain: it "
            f"pays no gas fee ({give_token.symbol} has none) and a maker fee of "
            f"{fill.maker_fee} {take_token.symbol}, {cost}",
        )


def _escape_checks(
    *,
    guard: Guard,
    fills: Sequence[TradeRequest],
    computed: list[Fill],
    orders: Mapping[int, Order],
    by_hash: dict[str, int],
    taker: str,
    tokens: tuple[Token, Token],
    indexed: bool,
) -> None:
    """What each account exposed to the escape hatch pays in these fills must fit in what
    the contract still holds for it (exchange/services/account_guard.py)."""
    if not guard.exposed:
        return
    give_token, take_token = tokens
    paid: dict[str, tuple[int, int]] = {}  # account -> (amount, index of its last fill)
    for index, (item, fill) in enumerate(zip(fills, computed, strict=True)):
        maker = orders[by_hash[item.order_hash]].account
        paid[maker] = (paid.get(maker, (0, 0))[0] + fill.taker_gross, index)
    needed = sum(fill.amount for fill in computed)
    escape_payable_check(
        guard=guard,
        account=taker,
        token_id=take_token.id,
        token_address=take_token.address,
        amount=needed,
        field=_field(len(fills) - 1, "amount", indexed),
    )
    for maker, (amount, index) in paid.items():
        escape_payable_check(
            guard=guard,
            account=maker,
            token_id=give_token.id,
            token_address=give_token.address,
            amount=amount,
            field=_field(index, "orderHash", indexed),
        )


def _trade_guard(network: Network, fills: Sequence[TradeRequest], taker: str) -> Guard:
    """Refuses a frozen taker or maker; reads the contract balances of exposed ones
    (before any row lock: no node call under a lock)."""
    guard = account_guard(
        network=network, accounts=[taker], order_hashes=[item.order_hash for item in fills]
    )
    if not guard.exposed:
        return guard
    orders = Order.objects.filter(
        network=network, hash__in=[item.order_hash for item in fills]
    ).select_related("give_token", "take_token")
    for order in orders:
        guard.read(order.account, order.give_token.address)
        guard.read(taker, order.take_token.address)
    return guard


def _orders_finished(orders: list[Order], moment: datetime) -> tuple[list[Order], list[str]]:
    """The locked orders with the fills' new `filled` (and FILLED status), and the
    fields to write (a rows_write update)."""
    for order in orders:
        if order.filled == order.take_amount:
            order.status = OrderStatus.FILLED
        order.updated_at = moment
    return orders, ["filled", "status", "close_reason", "updated_at"]


def trade_execute(
    *,
    network: Network,
    fills: Sequence[TradeRequest],
    indexed: bool = True,
    at: datetime | None = None,
) -> list[Trade]:
    """Fills every item's order for its taker, all or nothing, and returns the trades.

    `indexed` names refused fields "[i].amount" (an array body) or "amount" (one
    object). `at` fixes the trades' time (tests); by default the time once the market
    is locked (the fee schedule in force then applies).

    Refusals (nothing written): submission disabled on the network or market, or the
    market not TRADING (102); a hash that is not the server's or a signature not the
    taker's (1005); items signed by different accounts, orders on different pairs, an
    order not open or expired, the taker's own order (1006); a tradeHash used before
    (1005 on nonce); an amount over what is left, too small to buy anything or to pay
    the gas fee, or over the taker's available balance, or leaving a remainder under the
    market's minimum order total (1004 on amount); an unknown order (404). An order
    whose remainder is under the minimum after its fill is closed (CANCELLED,
    closeReason REMAINDER_UNDER_MINIMUM) and its hold released.
    """
    if not fills:
        raise Invalid("Give at least one trade")
    if len(fills) > MAX_TRADES_PER_REQUEST:
        raise Invalid(
            f"At most {MAX_TRADES_PER_REQUEST} trades per request, got {len(fills)}",
        )
    if not network.order_submission_enabled:
        raise OrderSubmissionDisabled(f"Order submission is disabled on network {network.id}")
    if not network.exchange_address:
        raise OrderSubmissionDisabled(f"No exchange contract is deployed on network {network.id}")
    taker, hashes = _check_signatures(network, fills, indexed)
    guard = _trade_guard(network, fills, taker)
    try:
        market, trades = _trades_locked(
            network=network,
            fills=fills,
            taker=taker,
            hashes=hashes,
            indexed=indexed,
            at=at,
            guard=guard,
        )
    except IntegrityError:
        # The unique index on Trade.hash refused a tradeHash already submitted (a replay:
        # the used hashes are read only on a refusal): the transaction rolled back.
        _refuse_used(hashes, indexed)
        raise

    logger.info(
        "event=trades_executed taker=%s market=%s count=%s uuids=%s",
        taker,
        market.name,
        len(trades),
        ",".join(str(trade.uuid) for trade in trades),
    )
    return trades
