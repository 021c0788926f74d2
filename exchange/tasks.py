"""Periodic work of the off-chain exchange."""

from celery import shared_task

from exchange.models import Network
from exchange.services.fees import fees_roll_up
from exchange.services.orders import orders_expire
from exchange.streams.events import ticker_publish
from exchange.streams.pruning import outbox_prune


@shared_task(name="exchange.orders_expire", ignore_result=True)
def orders_expire_task() -> int:
    """Releases the holds of expired orders. Safe to run twice or concurrently: the
    sweep locks its orders with SKIP LOCKED and only closes OPEN ones."""
    return orders_expire()


@shared_task(name="exchange.fees_roll_up", ignore_result=True)
def fees_roll_up_task() -> int:
    """Moves every network's accrued trade fees into the fee account's balances
    (exchange/services/fees.py). Safe to run twice or concurrently."""
    return sum(fees_roll_up(network=network) for network in Network.objects.all())


@shared_task(name="exchange.streams_ticker", ignore_result=True)
def ticker_publish_task(market_id: int) -> bool:
    """A market's ticker event (exchange/streams/events.py, ticker_due)."""
    return ticker_publish(market_id)


@shared_task(name="exchange.streams_outbox_prune", ignore_result=True)
def outbox_prune_task() -> int:
    """Deletes delivered stream events (exchange/streams/pruning.py). Safe concurrently."""
    return outbox_prune()
