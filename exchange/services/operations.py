"""Operator switches: a market's status and a network's order submission."""

import logging

from django.db import transaction

from exchange.api.networks import networks_forget
from exchange.models import Market, MarketStatus, Network

logger = logging.getLogger(__name__)


@transaction.atomic
def market_status_set(*, market: Market, status: MarketStatus, operator: str) -> None:
    Market.objects.filter(pk=market.pk).update(status=status)
    logger.info(
        "event=market_status_set market=%s status=%s operator=%s", market.pk, status, operator
    )


@transaction.atomic
def network_order_submission_set(*, network: Network, enabled: bool, operator: str) -> None:
    Network.objects.filter(pk=network.pk).update(order_submission_enabled=enabled)
    transaction.on_commit(networks_forget)
    logger.info(
        "event=order_submission_set network=%s enabled=%s operator=%s",
        network.pk,
        enabled,
        operator,
    )
