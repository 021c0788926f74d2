"""Periodic work of the off-chain exchange."""

from celery import shared_task

from exchange.services.orders import orders_expire


@shared_task(name="exchange.orders_expire", ignore_result=True)
def orders_expire_task() -> int:
    """Releases the holds of expired orders. Safe to run twice or concurrently: the
    sweep locks its orders with SKIP LOCKED and only closes OPEN ones."""
    return orders_expire()
