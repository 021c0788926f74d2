"""Concurrent placements on one account, on real PostgreSQL connections (one per thread)."""

import threading

import pytest
from django.db import connection
from django.db.models import Sum

from exchange.api.errors import FieldError
from exchange.models import Balance, Order
from tests.exchange.test_order_place import place
from tests.signing import address_of, new_signer, signed_order

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 16


def run_at_once(work, payloads) -> list:
    """Runs work(payload) in one thread per payload, released together; returns outcomes."""
    barrier = threading.Barrier(len(payloads))
    outcomes: list = [None] * len(payloads)

    def worker(index, payload):
        try:
            barrier.wait()
            outcomes[index] = work(payload)
        except Exception as error:
            outcomes[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=item) for item in enumerate(payloads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_concurrent_orders_never_over_commit_a_balance(network, market, fund):
    signer = new_signer()
    fund(signer, market.base, 5 * 100)
    payloads = [
        signed_order(
            signer,
            contract=network.exchange_address,
            give_token=market.base,
            give_amount=100,
            take_token=market.quote,
            take_amount=1,
        )
        for _ in range(THREADS)
    ]

    outcomes = run_at_once(lambda payload: place(network, payload), payloads)

    placed = [o for o in outcomes if isinstance(o, Order)]
    refused = [o for o in outcomes if isinstance(o, FieldError)]
    assert (len(placed), len(refused)) == (5, THREADS - 5), outcomes
    balance = Balance.objects.get(account=address_of(signer), token=market.base)
    assert (balance.total, balance.held) == (500, 500)
    open_give = Order.objects.filter(account=address_of(signer)).aggregate(s=Sum("give_amount"))
    assert open_give["s"] == balance.held


def test_the_same_order_sent_concurrently_is_placed_once(network, market, fund):
    signer = new_signer()
    fund(signer, market.base, 10**6)
    payload = signed_order(
        signer,
        contract=network.exchange_address,
        give_token=market.base,
        give_amount=100,
        take_token=market.quote,
        take_amount=1,
    )

    outcomes = run_at_once(lambda p: place(network, p), [payload] * THREADS)

    assert sum(isinstance(o, Order) for o in outcomes) == 1, outcomes
    assert sum(isinstance(o, FieldError) for o in outcomes) == THREADS - 1, outcomes
    assert Balance.objects.get(account=address_of(signer), token=market.base).held == 100
