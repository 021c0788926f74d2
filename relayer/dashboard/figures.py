"""What the operator dashboard shows: per network the chain workers' state (watcher
lag, deposits waiting, withdrawals queued or failed, unsettled trades, the settlement
halt, the last reconciliation), markets with 24h activity, and access control."""

import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypedDict

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Min, Q, Sum

from chain.client import ChainError, node_head
from chain.models import ReconciliationRun, WatcherCursor
from chain.tick_schedule import TickState, tick_states
from exchange.models import (
    AccountRestriction,
    ApiKey,
    Ban,
    Maintenance,
    Market,
    Network,
    RestrictionKind,
    SettlementStatus,
    Token,
    Trade,
    Transfer,
    TransferKind,
    TransferStatus,
)
from exchange.selectors.dashboard_charts import Context, MarketActivity
from exchange.trading_math import to_human

UNREACHABLE = "node unreachable"
PROBLEM_ROWS = 20  # withdrawals listed for action per network


@dataclass(frozen=True)
class AttentionWithdrawal:
    """A withdrawal the operator should look at, as its dashboard row shows it."""

    id: int
    account: str
    token: Token
    status: str
    created_at: datetime
    error: str
    human_amount: Decimal
    retryable: bool  # FAILED or PENDING; a PROCESSING one belongs to the confirmer

    @classmethod
    def of(cls, withdrawal: Transfer) -> "AttentionWithdrawal":
        return cls(
            id=withdrawal.id,
            account=withdrawal.account,
            token=withdrawal.token,
            status=withdrawal.status,
            created_at=withdrawal.created_at,
            error=withdrawal.error,
            human_amount=_human(withdrawal.amount, withdrawal.token.decimals),
            retryable=withdrawal.status in (TransferStatus.FAILED, TransferStatus.PENDING),
        )


def _human(amount: Decimal | None, decimals: int) -> Decimal:
    return to_human(amount or 0, decimals)


def _head_key(network_id: int) -> str:
    return f"dashboard:head:{network_id}"


def chain_head_get(network: Network) -> int | str:
    """The node's latest block number, or why it is unknown. Cached for
    DASHBOARD_HEAD_CACHE_SECONDS, failures too, so a dead node costs one
    DASHBOARD_NODE_TIMEOUT wait per cache period, not one per page load."""
    if not network.rpc_url:
        return "no RPC URL"
    cached: int | str | None = cache.get(_head_key(network.id))
    if cached is not None:
        return cached
    try:
        head: int | str = node_head(network.rpc_url, timeout=settings.DASHBOARD_NODE_TIMEOUT)
    except (ChainError, ValueError):
        head = UNREACHABLE
    cache.set(_head_key(network.id), head, settings.DASHBOARD_HEAD_CACHE_SECONDS)
    return head


def _network_figures(network: Network, *, now: datetime) -> Context:
    cursor = WatcherCursor.objects.filter(network=network).first()
    head = chain_head_get(network)
    scanned = cursor.block_number if cursor else None
    lag = head - scanned if isinstance(head, int) and scanned is not None else None

    transfers = Transfer.objects.filter(network=network)
    deposits = transfers.filter(kind=TransferKind.DEPOSIT, status=TransferStatus.PENDING).aggregate(
        count=Count("id"), oldest=Min("created_at")
    )
    withdrawals = transfers.filter(kind=TransferKind.WITHDRAWAL)
    counts = dict(
        withdrawals.filter(
            status__in=[TransferStatus.PENDING, TransferStatus.PROCESSING, TransferStatus.FAILED]
        )
        .values_list("status")
        .annotate(n=Count("id"))
    )
    stuck_before = now - timedelta(seconds=settings.DASHBOARD_STUCK_SECONDS)
    needing_attention = [
        AttentionWithdrawal.of(withdrawal)
        for withdrawal in withdrawals.filter(
            Q(status=TransferStatus.FAILED)
            | Q(
                status__in=[TransferStatus.PENDING, TransferStatus.PROCESSING],
                created_at__lt=stuck_before,
            )
        )
        .select_related("token")
        .order_by("-id")[:PROBLEM_ROWS]
    ]

    unsettled = (
        Trade.objects.filter(network=network)
        .exclude(settlement_status=SettlementStatus.SETTLED)
        .aggregate(
            count=Count("id"),
            failed=Count("id", filter=Q(settlement_status=SettlementStatus.FAILED)),
            oldest=Min("created_at"),
        )
    )
    reconciliation = ReconciliationRun.objects.filter(network=network).first()
    frozen = list(
        AccountRestriction.objects.filter(
            network=network, kind=RestrictionKind.FROZEN, resolved_at__isnull=True
        ).order_by("-id")[:PROBLEM_ROWS]
    )
    return {
        "frozen_accounts": frozen,
        "network": network,
        "cursor": cursor,
        "scanned_block": scanned,
        "head": head,
        "head_known": isinstance(head, int),
        "lag": lag,
        "deposits_waiting": deposits["count"],
        "deposits_oldest": deposits["oldest"],
        "withdrawals_pending": counts.get(TransferStatus.PENDING, 0),
        "withdrawals_processing": counts.get(TransferStatus.PROCESSING, 0),
        "withdrawals_failed": counts.get(TransferStatus.FAILED, 0),
        "withdrawals_needing_attention": needing_attention,
        "trades_unsettled": unsettled["count"],
        "trades_failed": unsettled["failed"],
        "trades_oldest_unsettled": unsettled["oldest"],
        "reconciliation": reconciliation,
        "reconciliation_differences": (
            len(reconciliation.difference_list) if reconciliation else 0
        ),
    }


class Dashboard(TypedDict):
    networks: list[Network]
    chain: list[Context]  # per network, _network_figures
    markets: list[MarketActivity]
    bans_in_force: int
    active_api_keys: int
    chain_ticks: list[TickState]
    processes: dict[str, Any] | None
    maintenance: Maintenance | None


def dashboard_get(*, now: datetime) -> Dashboard:
    since = now - timedelta(hours=24)
    activity = {
        row["market_id"]: row
        for row in Trade.objects.filter(created_at__gte=since)
        .values("market_id")
        .annotate(trades=Count("id"), base=Sum("base_amount"), quote=Sum("quote_amount"))
    }
    markets: list[MarketActivity] = []
    for market in Market.objects.select_related("network", "base", "quote").order_by(
        "network_id", "id"
    ):
        row = activity.get(market.pk)
        markets.append(
            {
                "market": market,
                "trades_24h": row["trades"] if row else 0,
                "base_volume_24h": _human(row["base"] if row else None, market.base.decimals),
                "quote_volume_24h": _human(row["quote"] if row else None, market.quote.decimals),
            }
        )
    networks = list(Network.objects.order_by("id"))
    return {
        "networks": networks,
        "chain": [_network_figures(network, now=now) for network in networks],
        "markets": markets,
        "bans_in_force": Ban.objects.filter(until__gt=now).count(),
        "active_api_keys": ApiKey.objects.filter(revoked_at__isnull=True).count(),
        "chain_ticks": tick_states(),
        "processes": supervisor_state_get(),
        "maintenance": Maintenance.objects.filter(ended_at__isnull=True).first(),
    }


def supervisor_state_get() -> dict[str, Any] | None:
    """`make run`'s supervisor state (VAR_DIR/supervisor.json, relayer/demo.py), or None
    outside the demo. Any: the JSON another process wrote, read as it is."""
    path = settings.VAR_DIR / "supervisor.json"
    try:
        state: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    for child in state.get("children", []):
        started = child.get("started_at")
        child["up_seconds"] = int(time.time() - started) if started else None
    return state
