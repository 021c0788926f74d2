import time

import pytest

from exchange.models import Balance, LedgerEntry, LedgerKind, Order, OrderStatus
from exchange.services.orders import orders_expire
from exchange.tasks import orders_expire_task
from tests.exchange.test_order_cancel import placed
from tests.signing import address_of

pytestmark = pytest.mark.django_db


def test_the_sweep_expires_past_orders_and_releases_their_holds(network, market, trader):
    stale = [placed(network, market, trader, give=100 + n) for n in range(3)]
    fresh = placed(network, market, trader, give=7)
    Order.objects.filter(pk__in=[order.pk for order in stale]).update(expiry_ms=1)

    assert orders_expire(batch_size=2) == 3

    assert set(Order.objects.filter(status=OrderStatus.EXPIRED)) == set(stale)
    fresh.refresh_from_db()
    assert fresh.status == OrderStatus.OPEN
    assert Balance.objects.get(account=address_of(trader), token=market.base).held == 7
    assert LedgerEntry.objects.filter(kind=LedgerKind.RELEASE).count() == 3


def test_the_sweep_is_idempotent(network, market, trader):
    order = placed(network, market, trader)
    Order.objects.filter(pk=order.pk).update(expiry_ms=1)
    assert orders_expire() == 1
    assert orders_expire() == 0
    assert LedgerEntry.objects.filter(kind=LedgerKind.RELEASE).count() == 1


def test_the_sweep_releases_only_the_unfilled_part(network, market, trader):
    order = placed(network, market, trader, give=1000, take=300)
    # As a fill leaves it: filled 299 of 300, the hold is 1000 - floor(299*1000/300) = 4.
    Order.objects.filter(pk=order.pk).update(filled=299, expiry_ms=1)
    Balance.objects.filter(account=order.account, token=market.base).update(held=4)
    orders_expire()
    assert Balance.objects.get(account=order.account, token=market.base).held == 0
    assert LedgerEntry.objects.get(kind=LedgerKind.RELEASE).held_delta == -4


def test_an_order_expiring_later_is_left_alone(network, market, trader):
    placed(network, market, trader)
    assert orders_expire(now=int(time.time() * 1000)) == 0


def test_the_celery_task_runs_the_sweep(network, market, trader, settings):
    order = placed(network, market, trader)
    Order.objects.filter(pk=order.pk).update(expiry_ms=1)
    assert orders_expire_task.apply().get() == 1
    assert "exchange.orders_expire" in {
        entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()
    }
