"""Operator switches: a market's status and a network's order submission."""

import logging

from django.db import transaction

from exchange.api.networks import networks_forget
from exchange.models import Market, MarketStatus, Network
from exchange.selectors.reference_cache import reference_forget

logger = logging.getLogger(__name__)


@transaction.atomic
def market_status_set(*, market: Market, status: MarketStatus, operator: str) -> None:
    Market.objects.filter(pk=market.pk).update(status=status)
    # The hot paths read the status fresh; the kept Market objects carry it too.
    reference_forget()
    logger.info(
        "event=market_status_set market=%s status=%s operator=%s", market.pk, status, operator
    )


@transaction.atomic
def network_order_submission_set(*, network: Network, enabled: bool, operator: str) -> None:
    Network.objects.filter(pk=network.pk).update(order_submission_enabled=enabled)
    transaction.on_commit(networks_forget)
    reference_forget()
    logger.info(
        "event=order_submission_set network=%s enabled=%s operator=%s",
        network.pk,
        enabled,
        operator,
    )
