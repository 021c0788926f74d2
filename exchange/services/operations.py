"""Operator switches: a market's status and a network's order submission.

The network is saved (not updated in SQL) so that post_save reaches the API's cache of
networks (exchange/api/networks.py): the layer above listens, this one does not call it.
"""

import logging

from django.db import transaction

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
    network = Network.objects.select_for_update().get(pk=network.pk)
    network.order_submission_enabled = enabled
    # The save tells every cache keyed on the network (the API's, the reference rows').
    network.save(update_fields=["order_submission_enabled", "updated_at"])
    logger.info(
        "event=order_submission_set network=%s enabled=%s operator=%s",
        network.pk,
        enabled,
        operator,
    )
