"""The Candle table: kept up to date by every trade, rebuilt from the trades on demand.

A candle holds the trades of one market whose created_at falls in
[bucket_start, bucket_start + period) (whole Unix seconds). open and close are the
prices of its lowest and highest trade ids; high and low the extreme prices; volumes
the sums of the trades' base_amount (BASE) and quote_amount (QUOTE), in base units.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection, transaction

from exchange.market_snapshots import market_data_changed
from exchange.models import CANDLE_PERIODS, Candle, Market, Trade
from exchange.selectors.market_data import CANDLE_RECORD_FIELDS
from exchange.streams.events import candles_changed

_UPSERT = """
INSERT INTO {table} AS c (market_id, period, bucket_start, open, high, low, close,
    base_volume, quote_volume, trade_count, first_trade_id, last_trade_id)
VALUES {values}
ON CONFLICT (market_id, period, bucket_start) DO UPDATE SET
    open = CASE WHEN excluded.first_trade_id < c.first_trade_id
        THEN excluded.open ELSE c.open END,
    close = CASE WHEN excluded.last_trade_id > c.last_trade_id
        THEN excluded.close ELSE c.close END,
    high = GREATEST(c.high, excluded.high),
    low = LEAST(c.low, excluded.low),
    base_volume = c.base_volume + excluded.base_volume,
    quote_volume = c.quote_volume + excluded.quote_volume,
    trade_count = c.trade_count + excluded.trade_count,
    first_trade_id = LEAST(c.first_trade_id, excluded.first_trade_id),
    last_trade_id = GREATEST(c.last_trade_id, excluded.last_trade_id)
RETURNING {returning}
"""


@dataclass
class _Bucket:
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    base_volume: int
    quote_volume: int
    trade_count: int
    first_trade_id: int
    last_trade_id: int

    @classmethod
    def of(cls, trade: Trade) -> "_Bucket":
        price = trade.price
        return cls(
            price, price, price, price, int(trade.base_amount), int(trade.quote_amount), 1,
            trade.id, trade.id,
        )  # fmt: skip

    def add(self, trade: Trade) -> None:
        """Adds a trade with a higher id than any already in."""
        self.high, self.low = max(self.high, trade.price), min(self.low, trade.price)
        self.close, self.last_trade_id = trade.price, trade.id
        self.base_volume += int(trade.base_amount)
        self.quote_volume += int(trade.quote_amount)
        self.trade_count += 1


def bucket_start(moment_s: int, period: int) -> int:
    return moment_s - moment_s % period


def _buckets(trades: Iterable[Trade]) -> dict[tuple[int, int], _Bucket]:
    """(period, bucket_start) -> aggregate, for trades given in id order."""
    buckets: dict[tuple[int, int], _Bucket] = {}
    for trade in trades:
        moment = int(trade.created_at.timestamp())
        for period in CANDLE_PERIODS:
            key = (period, bucket_start(moment, period))
            if key in buckets:
                buckets[key].add(trade)
            else:
                buckets[key] = _Bucket.of(trade)
    return buckets


def candles_record(*, market_id: int, trades: Sequence[Trade]) -> None:
    """Adds saved trades of one market to their candles, in the caller's transaction.

    One INSERT ... ON CONFLICT DO UPDATE (candles_upsert); its rows come in (period,
    bucket) order, so concurrent writers lock them in the same order. open and close
    follow trade ids, so the result does not depend on which transaction commits first.
    """
    if connection.vendor != "postgresql":
        buckets = _buckets(sorted(trades, key=lambda trade: trade.id))
        if buckets:
            candles_changed(market_id, _merge_by_orm(market_id, buckets))
        return
    statement = candles_upsert(market_id=market_id, trades=trades)
    if statement is not None:
        with connection.cursor() as cursor:
            cursor.execute(*statement)
            candles_changed(market_id, cursor.fetchall())


def candles_upsert(*, market_id: int, trades: Sequence[Trade]) -> tuple[str, list[Any]] | None:
    """The PostgreSQL statement (sql, params) that adds trades of one market (their ids
    set) to their candles, as candles_record runs it; None without trades. The trade
    hot path runs it inside its one write statement (exchange/services/trades.py) and
    publishes the rows its RETURNING gives, (period, *CANDLE_RECORD_FIELDS): every
    candle change is this statement or _merge_by_orm (SQLite) or the rebuild."""
    buckets = _buckets(sorted(trades, key=lambda trade: trade.id))
    if not buckets:
        return None
    params: list[Any] = []
    for (period, start), b in sorted(buckets.items()):
        params += [market_id, period, start, b.open, b.high, b.low, b.close]
        params += [b.base_volume, b.quote_volume, b.trade_count, b.first_trade_id, b.last_trade_id]
    sql = _UPSERT.format(
        table=Candle._meta.db_table,
        values=", ".join(["(" + ", ".join(["%s"] * 12) + ")"] * len(buckets)),
        returning=", ".join(("period", *CANDLE_RECORD_FIELDS)),
    )
    return sql, params


def _merge_by_orm(
    market_id: int, buckets: dict[tuple[int, int], _Bucket]
) -> list[tuple[object, ...]]:
    """The embedded SQLite mode: writers are serialised, and Python keeps the sums
    exact (SQLite's arithmetic on NUMERIC columns would round big amounts). Returns the
    candles' (period, *CANDLE_RECORD_FIELDS)."""
    merged: list[tuple[object, ...]] = []
    for (period, start), b in sorted(buckets.items()):
        candle = Candle.objects.filter(
            market_id=market_id, period=period, bucket_start=start
        ).first()
        if candle is None:
            candle = Candle.objects.create(
                market_id=market_id, period=period, bucket_start=start, **vars(b)
            )
            merged.append(_returned(period, candle))
            continue
        if b.first_trade_id < candle.first_trade_id:
            candle.open, candle.first_trade_id = b.open, b.first_trade_id
        if b.last_trade_id > candle.last_trade_id:
            candle.close, candle.last_trade_id = b.close, b.last_trade_id
        candle.high, candle.low = max(candle.high, b.high), min(candle.low, b.low)
        candle.base_volume = int(candle.base_volume) + b.base_volume
        candle.quote_volume = int(candle.quote_volume) + b.quote_volume
        candle.trade_count += b.trade_count
        candle.save()
        merged.append(_returned(period, candle))
    return merged


def _returned(period: int, candle: Candle) -> tuple[object, ...]:
    return (period, *(getattr(candle, field) for field in CANDLE_RECORD_FIELDS))


def candles_rebuild(*, market: Market, batch_size: int = 5000) -> int:
    """Recomputes every candle of a market from its trades; returns the candle count.

    Holds the market's row lock (as trade_execute takes it) for the whole rebuild, so
    no trade of the market lands half-counted. For operators: after a restore, or to
    check the table (the rebuilt rows must equal the maintained ones).
    """
    with transaction.atomic():
        list(Market.objects.select_for_update(no_key=True).filter(pk=market.pk))
        trades = (
            Trade.objects.filter(market=market)
            .order_by("id")
            .only("id", "price", "base_amount", "quote_amount", "created_at")
        )
        buckets = _buckets(trades.iterator(chunk_size=batch_size))
        Candle.objects.filter(market=market).delete()
        Candle.objects.bulk_create(
            (
                Candle(market=market, period=period, bucket_start=start, **vars(b))
                for (period, start), b in sorted(buckets.items())
            ),
            batch_size=batch_size,
        )
        market_data_changed(network_id=market.network_id, market_ids=[market.id])
    return len(buckets)
