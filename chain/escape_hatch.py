"""Which accounts can use (or will soon be able to use) the contract's escape hatch.

The contract lets a user call withdraw() directly once no trade, relayer withdrawal or
deposit has touched it for inactivityReleasePeriod blocks (lastActiveBlock). Such a user
can take out funds the ledger has already sold in a trade that is not settled yet, and
the contract then refuses the trade. So escape_exposure_refresh (beat, every
ESCAPE_HATCH_REFRESH_SECONDS) reads lastActiveBlock of every account holding a balance
and keeps one open ESCAPE_HATCH AccountRestriction per account with
    lastActiveBlock + inactivityReleasePeriod <= head + ESCAPE_HATCH_MARGIN_BLOCKS;
orders and fills of those accounts are checked against what the contract can still pay
them (exchange/services/account_guard.py). Activity closes the restriction at the next
refresh; until then the account is only checked more than it needs to be.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from eth_abi import encode as abi_encode

from chain import rpc_batch
from chain.client import ExchangeClient
from exchange.models import AccountRestriction, Balance, Network, RestrictionKind

logger = logging.getLogger(__name__)

LAST_ACTIVE_BLOCK = rpc_batch.selector("lastActiveBlock(address)")
INACTIVITY_RELEASE_PERIOD = rpc_batch.selector("inactivityReleasePeriod()")


@dataclass
class ExposureResult:
    head: int
    period: int
    exposed: list[str]
    opened: list[str]
    closed: list[str]


def escape_exposure_refresh(*, network: Network, client: ExchangeClient) -> ExposureResult:
    exchange = network.exchange_address
    head = client.head()
    accounts = sorted(
        set(
            Balance.objects.filter(network=network, total__gt=0)
            .values_list("account", flat=True)
            .distinct()
        )
    )
    calls = [rpc_batch.call(exchange, INACTIVITY_RELEASE_PERIOD, head)]
    calls += [
        rpc_batch.call(exchange, LAST_ACTIVE_BLOCK + abi_encode(["address"], [account]), head)
        for account in accounts
    ]
    answers = [rpc_batch.as_uint(answer) for answer in rpc_batch.batch(client, calls)]
    period, last_active = answers[0], dict(zip(accounts, answers[1:], strict=True))
    horizon = head + settings.ESCAPE_HATCH_MARGIN_BLOCKS
    exposed = [account for account in accounts if last_active[account] + period <= horizon]
    opened, closed = _sync(network, exposed, last_active, period)
    if opened:
        logger.warning(
            "event=escape_hatch_exposed network=%s accounts=%s", network.id, ",".join(opened)
        )
    return ExposureResult(head, period, exposed, opened, closed)


def _sync(
    network: Network, exposed: list[str], last_active: dict[str, int], period: int
) -> tuple[list[str], list[str]]:
    """Opens a restriction for each newly exposed account, closes the others'."""
    with transaction.atomic():
        open_rows = AccountRestriction.objects.select_for_update().filter(
            network=network, kind=RestrictionKind.ESCAPE_HATCH, resolved_at__isnull=True
        )
        current = {row.account: row for row in open_rows}
        wanted = set(exposed)
        closed = sorted(set(current) - wanted)
        AccountRestriction.objects.filter(id__in=[current[a].id for a in closed]).update(
            resolved_at=timezone.now(), resolution="active again"
        )
        opened = sorted(wanted - set(current))
        AccountRestriction.objects.bulk_create(
            [
                AccountRestriction(
                    network=network,
                    account=account,
                    kind=RestrictionKind.ESCAPE_HATCH,
                    reason=f"last active in block {last_active[account]}: withdraw() is open "
                    f"from block {last_active[account] + period}",
                )
                for account in opened
            ],
            ignore_conflicts=True,
        )
    return opened, closed
