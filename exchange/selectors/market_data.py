"""Market data: the 24-hour ticker and candlestick charts.

Both read the Candle table trade_execute keeps (one row per market, period and
bucket), so their cost does not grow with the number of trades: the ticker sums the
5-minute candles inside its window and reads raw trades only for the part of the
window's first 5 minutes that a whole candle does not cover.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db.models import Max, Min, Sum
from django.utils import timezone

from exchange.models import Candle, Market, Network, Order, OrderSide, OrderStatus, Trade
from exchange.paging import PageRequest
from exchange.trading_math import decimal_str, ratio, to_human

NOT_AVAILABLE = "N/A"
TICKER_WINDOW = timedelta(hours=24)
TICKER_CANDLE_PERIOD = 300
PERCENT_PLACES = 8


def _utc(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def _price_or_na(value: Decimal | None) -> str:
    return NOT_AVAILABLE if value is None else decimal_str(value)


def _book_best(market: Market, now_ms: int) -> tuple[Decimal | None, Decimal | None]:
    """(lowest ask, highest bid) of the open, unexpired book."""
    live = Order.objects.filter(market=market, status=OrderStatus.OPEN, expiry_ms__gt=now_ms)
    lowest_ask = (
        live.filter(side=OrderSide.ASK).order_by("price").values_list("price", flat=True).first()
    )
    highest_bid = (
        live.filter(side=OrderSide.BID).order_by("-price").values_list("price", flat=True).first()
    )
    return lowest_ask, highest_bid


def _window_stats(market: Market, start: datetime, now: datetime) -> dict:
    """high, low, volumes (base units) and the first price of the trades in [start, now]."""
    # The first whole 5-minute bucket that starts at or after `start`; the trades
    # between `start` and it are read raw (a bucket is keyed by whole seconds).
    start_s, period = int(start.timestamp()), TICKER_CANDLE_PERIOD
    if start_s % period == 0 and start.microsecond == 0:
        covered_from = start_s
    else:
        covered_from = (start_s // period + 1) * period
    edge = Trade.objects.filter(
        market=market, created_at__gte=start, created_at__lt=_utc(covered_from)
    ).filter(created_at__lte=now)
    candles = Candle.objects.filter(
        market=market,
        period=TICKER_CANDLE_PERIOD,
        bucket_start__gte=covered_from,
        bucket_start__lte=int(now.timestamp()),
    )
    parts = [
        edge.aggregate(
            high=Max("price"), low=Min("price"), base=Sum("base_amount"), quote=Sum("quote_amount")
        ),
        candles.aggregate(
            high=Max("high"), low=Min("low"), base=Sum("base_volume"), quote=Sum("quote_volume")
        ),
    ]
    highs = [part["high"] for part in parts if part["high"] is not None]
    lows = [part["low"] for part in parts if part["low"] is not None]
    first = edge.order_by("created_at", "id").values_list("price", flat=True).first()
    if first is None:
        first = candles.order_by("bucket_start").values_list("open", flat=True).first()
    return {
        "high": max(highs) if highs else None,
        "low": min(lows) if lows else None,
        "base": sum((part["base"] or 0) for part in parts),
        "quote": sum((part["quote"] or 0) for part in parts),
        "first": first,
    }


def ticker_get(*, market: Market, now: datetime | None = None) -> dict:
    """One market's ticker over the 24 hours up to `now` (see ticker_list)."""
    now = now or timezone.now()
    start = now - TICKER_WINDOW
    done = Trade.objects.filter(market=market, created_at__lte=now)
    last = done.order_by("-created_at", "-id").values_list("price", flat=True).first()
    stats = _window_stats(market, start, now)
    reference = (
        done.filter(created_at__lt=start)
        .order_by("-created_at", "-id")
        .values_list("price", flat=True)
        .first()
    )
    if reference is None:
        reference = stats["first"]
    change = Decimal(0)
    if last is not None and reference:
        change = ratio((last - reference) * 100, reference, PERCENT_PLACES)
    lowest_ask, highest_bid = _book_best(market, int(now.timestamp() * 1000))
    return {
        "baseTokenAddress": market.base.address,
        "quoteTokenAddress": market.quote.address,
        "last": _price_or_na(last),
        "high": _price_or_na(stats["high"]),
        "low": _price_or_na(stats["low"]),
        "lowestAsk": _price_or_na(lowest_ask),
        "highestBid": _price_or_na(highest_bid),
        "percentChange": decimal_str(change),
        "baseVolume": decimal_str(to_human(stats["base"], market.base.decimals)),
        "quoteVolume": decimal_str(to_human(stats["quote"], market.quote.decimals)),
    }


def ticker_list(
    *,
    network: Network,
    page: PageRequest,
    market: Market | None = None,
    now: datetime | None = None,
) -> tuple[int, list[dict]]:
    """The ticker of every market of the network (or of one), by market id.

    last: the latest trade's price ever; high, low and volumes: the trades of the last
    24 hours; lowestAsk/highestBid: the live book; percentChange: last against the last
    price before the window (or, if none, the window's first price), in percent, to 8
    places. Unavailable prices are 'N/A'; percentChange and volumes are then 0.
    """
    markets = Market.objects.filter(network=network).select_related("base", "quote")
    if market is not None:
        markets = markets.filter(pk=market.pk)
    markets = markets.order_by("id")
    records = [ticker_get(market=item, now=now) for item in page.slice(markets)]
    return markets.count(), records


def candles_get(*, market: Market, period: int, start_s: int, end_s: int) -> list[dict]:
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
    base_decimals, quote_decimals = market.base.decimals, market.quote.decimals
    records = []
    for candle in rows.values_list(
        "bucket_start", "high", "low", "open", "close", "base_volume", "quote_volume"
    ):
        bucket, high, low, open_, close, base, quote = candle
        volume, quote_volume = to_human(base, base_decimals), to_human(quote, quote_decimals)
        records.append(
            {
                "date": str(bucket),
                "high": decimal_str(high),
                "low": decimal_str(low),
                "open": decimal_str(open_),
                "close": decimal_str(close),
                "volume": decimal_str(volume),
                "quoteVolume": decimal_str(quote_volume),
                "weightedAverage": decimal_str(ratio(volume, quote_volume)),
            }
        )
    return records
