"""What the operator dashboard shows: networks, markets with 24h activity, access."""

from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Count, Sum

from exchange.models import ApiKey, Ban, Market, Network, Trade


def _human(amount: Decimal | None, decimals: int) -> Decimal:
    return (amount or Decimal(0)).scaleb(-decimals)


def dashboard_get(*, now: datetime) -> dict:
    since = now - timedelta(hours=24)
    activity = {
        row["market_id"]: row
        for row in Trade.objects.filter(created_at__gte=since)
        .values("market_id")
        .annotate(trades=Count("id"), base=Sum("base_amount"), quote=Sum("quote_amount"))
    }
    markets = []
    for market in Market.objects.select_related("network", "base", "quote").order_by(
        "network_id", "id"
    ):
        row = activity.get(market.pk, {})
        markets.append(
            {
                "market": market,
                "trades_24h": row.get("trades", 0),
                "base_volume_24h": _human(row.get("base"), market.base.decimals),
                "quote_volume_24h": _human(row.get("quote"), market.quote.decimals),
            }
        )
    return {
        "networks": list(Network.objects.order_by("id")),
        "markets": markets,
        "bans_in_force": Ban.objects.filter(until__gt=now).count(),
        "active_api_keys": ApiKey.objects.filter(revoked_at__isnull=True).count(),
    }
