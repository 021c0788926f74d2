"""Market data: the 24-hour ticker and candlestick charts.

Both read the Candle table trade_execute keeps (one row per market, period and
bucket), so their cost does not grow with the number of trades: the ticker sums the
5-minute candles inside its window and reads raw trades only for the part of the
window's first 5 minutes that a whole candle does not cover.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from django.db.models import Max, Min, Model, OuterRef, QuerySet, Subquery, Sum
from django.utils import timezone

from exchange.models import Candle, Market, Network, Order, OrderSide, OrderStatus, Trade
from exchange.paging import PageRequest
from exchange.records import Record
from exchange.trading_math import decimal_str, ratio, to_human

NOT_AVAILABLE = "N/A"
TICKER_WINDOW = timedelta(hours=24)
TICKER_CANDLE_PERIOD = 300
PERCENT_PLACES = 8


def _utc(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def _price_or_na(value: Decimal | None) -> str:
    return NOT_AVAILABLE if value is None else decimal_str(value)


_M = TypeVar("_M", bound=Model)


def _first(queryset: QuerySet[_M], *ordering: str, field: str = "price") -> Subquery:
    return Subquery(queryset.order_by(*ordering).values(field)[:1])


def _tickers(markets: list[Market], now: datetime) -> tuple[list[Record], int | None]:
    """The tickers of `markets` in three queries whatever their number: the markets with
    their single-value reads as correlated subqueries (each one index probe), and one
    grouped aggregate each over the raw trades at the window's edge and the candles.
    With them, the earliest expiry (Unix ms) of a best ask or bid shown, or None."""
    if not markets:
        return [], None
    start = now - TICKER_WINDOW
    now_ms = int(now.timestamp() * 1000)
    # The first whole 5-minute bucket that starts at or after `start`; the trades
    # between `start` and it are read raw (a bucket is keyed by whole seconds).
    start_s, period = int(start.timestamp()), TICKER_CANDLE_PERIOD
    if start_s % period == 0 and start.microsecond == 0:
        covered_from = start_s
    else:
        covered_from = (start_s // period + 1) * period
    market = OuterRef("pk")
    done = Trade.objects.filter(market=market, created_at__lte=now)
    edge = Trade.objects.filter(
        created_at__gte=start, created_at__lt=_utc(covered_from), created_at__lte=now
    )
    candles = Candle.objects.filter(
        period=TICKER_CANDLE_PERIOD,
        bucket_start__gte=covered_from,
        bucket_start__lte=int(now.timestamp()),
    )
    live = Order.objects.filter(market=market, status=OrderStatus.OPEN, expiry_ms__gt=now_ms)
    rows = (
        Market.objects.filter(pk__in=[item.pk for item in markets])
        .annotate(
            last=_first(done, "-created_at", "-id"),
            reference=_first(done.filter(created_at__lt=start), "-created_at", "-id"),
            edge_first=_first(edge.filter(market=market), "created_at", "id"),
            candle_first=_first(candles.filter(market=market), "bucket_start", field="open"),
            lowest_ask=_first(live.filter(side=OrderSide.ASK), "price"),
            highest_bid=_first(live.filter(side=OrderSide.BID), "-price"),
            # The best orders' earliest expiry: the first moment the best price can change.
            ask_expiry=_first(
                live.filter(side=OrderSide.ASK), "price", "expiry_ms", field="expiry_ms"
            ),
            bid_expiry=_first(
                live.filter(side=OrderSide.BID), "-price", "expiry_ms", field="expiry_ms"
            ),
        )
        .values_list(
            "pk",
            "last",
            "reference",
            "edge_first",
            "candle_first",
            "lowest_ask",
            "highest_bid",
            "ask_expiry",
            "bid_expiry",
        )
    )
    singles = {row[0]: row[1:-2] for row in rows}
    expiries = [expiry for row in rows for expiry in row[-2:] if expiry is not None]
    ids = [item.pk for item in markets]
    parts = [
        {
            row["market_id"]: row
            for row in edge.filter(market_id__in=ids)
            .values("market_id")
            .order_by()
            .annotate(
                high=Max("price"),
                low=Min("price"),
                base=Sum("base_amount"),
                quote=Sum("quote_amount"),
            )
        },
        {
            row["market_id"]: row
            for row in candles.filter(market_id__in=ids)
            .values("market_id")
            .order_by()
            .annotate(
                high=Max("high"),
                low=Min("low"),
                base=Sum("base_volume"),
                quote=Sum("quote_volume"),
            )
        },
    ]
    records: list[Record] = []
    for item in markets:
        last, reference, edge_first, candle_first, lowest_ask, highest_bid = singles[item.pk]
        stats = [part[item.pk] for part in parts if item.pk in part]
        highs = [part["high"] for part in stats if part["high"] is not None]
        lows = [part["low"] for part in stats if part["low"] is not None]
        base = sum((part["base"] or 0) for part in stats)
        quote = sum((part["quote"] or 0) for part in stats)
        if reference is None:
            reference = edge_first if edge_first is not None else candle_first
        change = Decimal(0)
        if last is not None and reference:
            change = ratio((last - reference) * 100, reference, PERCENT_PLACES)
        records.append(
            {
                "baseTokenAddress": item.base.address,
                "quoteTokenAddress": item.quote.address,
                "last": _price_or_na(last),
                "high": _price_or_na(max(highs) if highs else None),
                "low": _price_or_na(min(lows) if lows else None),
                "lowestAsk": _price_or_na(lowest_ask),
                "highestBid": _price_or_na(highest_bid),
                "percentChange": decimal_str(change),
                "baseVolume": decimal_str(to_human(base, item.base.decimals)),
                "quoteVolume": decimal_str(to_human(quote, item.quote.decimals)),
            }
        )
    return records, min(expiries, default=None)


def ticker_get(*, market: Market, now: datetime | None = None) -> Record:
    """One market's ticker over the 24 hours up to `now` (see ticker_list)."""
    return _tickers([market], now or timezone.now())[0][0]


def ticker_read(
    *,
    network: Network,
    page: PageRequest,
    market: Market | None = None,
    now: datetime | None = None,
) -> tuple[tuple[int, list[Record]], int | None]:
    """(total, records) of ticker_list, and the earliest expiry (Unix ms) of a best
    ask or bid shown, or None."""
    markets = Market.objects.filter(network=network).select_related("base", "quote")
    if market is not None:
        markets = markets.filter(pk=market.pk)
    markets = markets.order_by("id")
    shown = list(page.slice(markets))
    # A short page is the last: its end is the total, without a count.
    short = len(shown) < page.per_page and (shown or not page.offset)
    total = page.offset + len(shown) if short else markets.count()
    records, earliest_expiry = _tickers(shown, now or timezone.now())
    return (total, records), earliest_expiry


def ticker_list(
    *,
    network: Network,
    page: PageRequest,
    market: Market | None = None,
    now: datetime | None = None,
) -> tuple[int, list[Record]]:
    """The ticker of every market of the network (or of one), by market id.

    last: the latest trade's price ever; high, low and volumes: the trades of the last
    24 hours; lowestAsk/highestBid: the live book; percentChange: last against the last
    price before the window (or, if none, the window's first price), in percent, to 8
    places. Unavailable prices are 'N/A'; percentChange and volumes are then 0.
    """
    return ticker_read(network=network, page=page, market=market, now=now)[0]


def candles_get(*, market: Market, period: int, start_s: int, end_s: int) -> list[Record]:
    """The candles of `period` seconds overlapping [start_s, end_s], oldest first.

    Buckets without trades have no candle and are left out. Prices and volumes are
    human decimals; weightedAverage = volume / quoteVolume (BASE per QUOTE).
    """
    rows = Candle.objects.filter(
        market=market,
        period=period,
        bucket_start__gte=start_s - start_s % period,
        bucket_start__lte=end_s,
    ).order_by("bucket_start")
    decimals = market.base.decimals, market.quote.decimals
    return [candle_record(row, *decimals) for row in rows.values_list(*CANDLE_RECORD_FIELDS)]


CANDLE_RECORD_FIELDS = (
    "bucket_start",
    "high",
    "low",
    "open",
    "close",
    "base_volume",
    "quote_volume",
)


def candle_record(row: tuple[Any, ...], base_decimals: int, quote_decimals: int) -> Record:
    """A POST /get_chart_data record of a Candle row's CANDLE_RECORD_FIELDS."""
    bucket, high, low, open_, close, base, quote = row
    volume, quote_volume = to_human(base, base_decimals), to_human(quote, quote_decimals)
    return {
        "date": str(bucket),
        "high": decimal_str(high),
        "low": decimal_str(low),
        "open": decimal_str(open_),
        "close": decimal_str(close),
        "volume": decimal_str(volume),
        "quoteVolume": decimal_str(quote_volume),
        "weightedAverage": decimal_str(ratio(volume, quote_volume)),
    }
