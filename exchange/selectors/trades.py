"""Reads of trades: create_trades results and the get_trades history."""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet

from exchange.models import Market, Network, Trade
from exchange.paging import PageRequest
from exchange.records import Record
from exchange.trading_math import decimal_str

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
TRADE_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def from_ms(milliseconds: int) -> datetime:
    """Unix milliseconds as an exact aware datetime (no float on the way)."""
    return _EPOCH + timedelta(milliseconds=milliseconds)


def trade_result(trade: Trade) -> Record:
    """One create_trades result (PROTOCOL.md "Trades"): sizes in QUOTE and BASE base
    units, the human price BASE per QUOTE, and the taker's side."""
    market = trade.market
    return {
        "amount": str(trade.quote_amount),
        "date": trade.created_at.astimezone(UTC).strftime(TRADE_TIME_FORMAT),
        "total": str(trade.base_amount),
        "baseTokenAddress": market.base.address,
        "quoteTokenAddress": market.quote.address,
        "type": trade.taker_side,
        "price": decimal_str(trade.price),
        "orderHash": trade.order.hash,
        "uuid": str(trade.uuid),
    }


_FIELDS = (
    "id",
    "give_token__address",
    "give_amount",
    "take_token__address",
    "take_amount",
    "order__hash",
    "uuid",
    "buyer_fee",
    "seller_fee",
    "gas_fee",
    "maker",
    "taker",
    "transaction_hash",
    "created_at",
)


def _history_record(row: Sequence[Any]) -> Record:
    (id_, give_token, give, take_token, take, order_hash, uuid, buyer_fee, seller_fee, gas_fee) = (
        row[:10]
    )
    maker, taker, transaction_hash, created_at = row[10:]
    return {
        "id": str(id_),
        "giveTokenAddress": give_token,
        "giveAmount": str(give),
        "takeTokenAddress": take_token,
        "takeAmount": str(take),
        "orderHash": order_hash,
        "uuid": str(uuid),
        "buyerFee": str(buyer_fee),
        "sellerFee": str(seller_fee),
        "gasFee": str(gas_fee),
        "makerAddress": maker,
        "takerAddress": taker,
        "transactionHash": transaction_hash or None,
        "created_at": created_at.astimezone(UTC).strftime(TRADE_TIME_FORMAT),
    }


def trade_list(
    *,
    network: Network,
    page: PageRequest,
    order_hash: str | None = None,
    market: Market | None = None,
    account: str | None = None,
    start_ms: int | None = None,
    end_ms: int | None = None,
    ascending: bool = False,
) -> tuple[int, list[Record]]:
    """Trades matching every filter given (account: as maker or taker), by time.

    The range is inclusive at both ends, to the millisecond. Each record shows the
    maker's side: give* is what the maker gave (the taker received), take* the
    `amount` the taker gave; transactionHash is null until the settlement is sent.
    """
    trades = Trade.objects.filter(network=network)
    if order_hash is not None:
        trades = trades.filter(order__hash=order_hash.lower())
    if market is not None:
        trades = trades.filter(market=market)
    if start_ms is not None:
        trades = trades.filter(created_at__gte=from_ms(start_ms))
    if end_ms is not None:
        trades = trades.filter(created_at__lt=from_ms(end_ms + 1))
    ordering = ("created_at", "id") if ascending else ("-created_at", "-id")
    if account is not None and connection.vendor == "postgresql":
        return _account_trades(trades, account.lower(), page, ordering)
    if account is not None:
        # The embedded SQLite mode: one OR query (its compound selects take no LIMIT).
        account = account.lower()
        trades = trades.filter(Q(maker=account) | Q(taker=account))
    rows = page.slice(trades.order_by(*ordering).values_list(*_FIELDS))
    return trades.count(), [_history_record(row) for row in rows]


def _account_trades(
    trades: QuerySet[Trade], account: str, page: PageRequest, ordering: tuple[str, str]
) -> tuple[int, list[Record]]:
    """maker = account OR taker = account as two index-ordered scans (trade_maker_time,
    trade_taker_time), each cut at the page's end, merged; the taker side leaves out
    the account's own makes, so no trade is counted twice."""
    as_maker = trades.filter(maker=account)
    as_taker = trades.filter(taker=account).exclude(maker=account)
    total = as_maker.count() + as_taker.count()
    end = page.offset + page.per_page
    if page.offset >= total:
        return total, []
    keys = ("created_at", "id")
    merged = (
        as_maker.order_by(*ordering)
        .values_list(*keys)[:end]
        .union(as_taker.order_by(*ordering).values_list(*keys)[:end], all=True)
        .order_by(*ordering)
    )
    ids = [id_ for _, id_ in merged[page.offset : end]]
    rows = {row[0]: row for row in Trade.objects.filter(id__in=ids).values_list(*_FIELDS)}
    return total, [_history_record(rows[id_]) for id_ in ids]
