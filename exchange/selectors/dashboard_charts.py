"""The operator dashboard's charts over the last 24 hours, hour by hour: per network the
deposits and withdrawals asked for, the settlement backlog (trades booked but not yet
settled on chain at each hour's end) and the deposit watcher's credit delay (from a
deposit's first sighting to its credit, mean and longest of the deposits credited in
that hour); per market the price (the candles' close) and the
base volume. Each series is one query of conditional counts or one candle read, so a
page load costs a few queries whatever the traffic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TypedDict

from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Max, Q
from django.utils.safestring import SafeString

from exchange.charts import bar_chart
from exchange.models import (
    Candle,
    Market,
    Network,
    Trade,
    Transfer,
    TransferKind,
    TransferStatus,
)
from exchange.trading_math import to_human

# What the dashboard's template reads: model rows and figures, not JSON.
Context = dict[str, object]


class MarketActivity(TypedDict):
    market: Market
    trades_24h: int
    base_volume_24h: Decimal
    quote_volume_24h: Decimal


HOURS = 24
CANDLE_PERIOD = 1800  # the 30-minute candles, two per hour: the hour's last close
CHARTED_MARKETS = 6  # the busiest markets of the day get a chart
REFRESH_SECONDS = 30  # the page reloads itself (paused while the operator types)


def _hours(now: datetime) -> list[datetime]:
    """The end of each of the last HOURS hours, oldest first (the last one is now)."""
    end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return [end - timedelta(hours=HOURS - 1 - i) for i in range(HOURS)]


def _labels(ends: list[datetime]) -> list[str]:
    return [f"{(end - timedelta(hours=1)).astimezone(UTC):%H}h" for end in ends]


def _seconds(delay: timedelta | None) -> Decimal:
    """A delay in seconds to the tenth (0 when no deposit was credited in the hour)."""
    if delay is None:
        return Decimal(0)
    micro = delay // timedelta(microseconds=1)
    return (Decimal(micro) / 10**6).quantize(Decimal("0.1"))


def deposit_credit_delays(
    network: Network, *, now: datetime
) -> tuple[list[Decimal], list[Decimal], list[int]]:
    """Per hour (as _hours), of the deposits credited in it: the mean and the longest
    delay from the deposit's row being written (the watcher saw its log) to its credit
    (the PENDING -> COMPLETE update, which sets updated_at), in seconds; and how many.
    The wait is the confirmations plus the watcher's lag behind them. One query."""
    ends = _hours(now)
    since = ends[0] - timedelta(hours=1)
    delay = ExpressionWrapper(F("updated_at") - F("created_at"), output_field=DurationField())
    credited = Transfer.objects.filter(
        network=network,
        kind=TransferKind.DEPOSIT,
        status=TransferStatus.COMPLETE,
        updated_at__gte=since,
        updated_at__lt=ends[-1],
    )
    figures = credited.aggregate(
        **{
            f"{name}_{i}": function(
                value,
                filter=Q(updated_at__gte=end - timedelta(hours=1), updated_at__lt=end),
            )
            for i, end in enumerate(ends)
            for name, function, value in (
                ("mean", Avg, delay),
                ("max", Max, delay),
                ("n", Count, "id"),
            )
        }
    )
    return (
        [_seconds(figures[f"mean_{i}"]) for i in range(HOURS)],
        [_seconds(figures[f"max_{i}"]) for i in range(HOURS)],
        [figures[f"n_{i}"] for i in range(HOURS)],
    )


def network_charts(network: Network, *, now: datetime) -> list[SafeString]:
    ends = _hours(now)
    labels = _labels(ends)
    since = ends[0] - timedelta(hours=1)
    transfers = Transfer.objects.filter(network=network, created_at__gte=since)
    counts = transfers.aggregate(
        **{
            f"{kind}_{i}": Count(
                "id",
                filter=Q(kind=kind, created_at__gte=end - timedelta(hours=1), created_at__lt=end),
            )
            for kind in (TransferKind.DEPOSIT, TransferKind.WITHDRAWAL)
            for i, end in enumerate(ends)
        }
    )
    deposits = [counts[f"{TransferKind.DEPOSIT}_{i}"] for i in range(HOURS)]
    withdrawals = [counts[f"{TransferKind.WITHDRAWAL}_{i}"] for i in range(HOURS)]
    backlog_at = (
        Trade.objects.filter(network=network)
        .filter(Q(settled_at__isnull=True) | Q(settled_at__gte=since))
        .aggregate(
            **{
                f"b_{i}": Count(
                    "id",
                    filter=Q(created_at__lt=min(end, now))
                    & (Q(settled_at__isnull=True) | Q(settled_at__gte=min(end, now))),
                )
                for i, end in enumerate(ends)
            }
        )
    )
    backlog = [backlog_at[f"b_{i}"] for i in range(HOURS)]
    mean_delay, max_delay, _ = deposit_credit_delays(network, now=now)
    return [
        bar_chart(
            [("deposits", deposits, "#2563eb"), ("withdrawals", withdrawals, "#f59e0b")],
            labels=labels,
            title="Deposits and withdrawals per hour (UTC)",
        ),
        bar_chart(
            [("trades not settled", backlog, "#dc2626")],
            labels=labels,
            title="Settlement backlog at each hour's end",
        ),
        bar_chart(
            [("mean s", mean_delay, "#0d9488"), ("longest s", max_delay, "#a855f7")],
            labels=labels,
            title="Deposit credit delay per hour: seen to credited (s)",
        ),
    ]


def market_charts(*, now: datetime, busiest: list[Market]) -> list[tuple[Market, SafeString]]:
    ends = _hours(now)
    labels = _labels(ends)
    since = int((ends[0] - timedelta(hours=1)).timestamp())
    charts = []
    for market in busiest[:CHARTED_MARKETS]:
        closes: list[Decimal | None] = [None] * HOURS
        volumes: list[int | Decimal] = [0] * HOURS
        candles = Candle.objects.filter(
            market=market, period=CANDLE_PERIOD, bucket_start__gte=since
        ).order_by("bucket_start")
        for candle in candles.only("bucket_start", "close", "base_volume"):
            index = (candle.bucket_start - since) // 3600
            if 0 <= index < HOURS:
                closes[index] = candle.close.normalize()
                volumes[index] += candle.base_volume
        charts.append(
            (
                market,
                bar_chart(
                    [
                        (
                            f"volume ({market.base.symbol})",
                            [to_human(v, market.base.decimals) for v in volumes],
                            "#94a3b8",
                        )
                    ],
                    line=(
                        f"price ({market.base.symbol} per {market.quote.symbol})",
                        closes,
                        "#4f46e5",
                    ),
                    labels=labels,
                    title=f"{market.name}: price and volume per hour (UTC)",
                ),
            )
        )
    return charts


def dashboard_charts_get(*, now: datetime, markets: list[MarketActivity]) -> Context:
    """`markets`: dashboard_get's rows; the busiest of the day are charted."""
    busiest = [
        row["market"]
        for row in sorted(markets, key=lambda row: (-row["trades_24h"], row["market"].pk))
    ]
    return {
        "network_charts": [
            (network, network_charts(network, now=now))
            for network in Network.objects.filter(enabled=True).order_by("id")
        ],
        "market_charts": market_charts(now=now, busiest=busiest),
        "refresh_seconds": REFRESH_SECONDS,
    }
