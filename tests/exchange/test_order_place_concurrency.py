"""Concurrent placements on one account, on real PostgreSQL connections (one per thread)."""

import threading

import pytest
from django.db import connection
from django.db.models import Sum

from exchange.models import Balance, LedgerEntry, LedgerKind, Order
from exchange.services.errors import FieldError
from exchange.services.orders import order_cancel, orders_expire
from tests.exchange.test_order_place import place
from tests.signing import address_of, new_signer, signed_cancel, signed_order

# Threads racing on row locks: PostgreSQL (SQLite runs one writer at a time).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres_only]

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


def test_concurrent_cancels_and_sweeps_release_an_order_once(network, market, fund):
    signer = new_signer()
    fund(signer, market.base, 1000)
    order = place(
        network,
        signed_order(
            signer,
            contract=network.exchange_address,
            give_token=market.base,
            give_amount=1000,
            take_token=market.quote,
            take_amount=1,
        ),
    )
    cancel = signed_cancel(signer, order_hash=order.hash)

    def cancel_or_sweep(kind: str):
        if kind == "sweep":
            # Sweeps see the order as expired at a later clock; cancels see it open.
            return orders_expire(now=order.expiry_ms)
        return order_cancel(
            network=network,
            order_hash=order.hash,
            account=cancel["account"],
            nonce=int(cancel["nonce"]),
            signature=cancel["signature"],
        )

    outcomes = run_at_once(cancel_or_sweep, ["cancel", "sweep"] * (THREADS // 2))

    closed = [o for o in outcomes if isinstance(o, Order)] + [o for o in outcomes if o == 1]
    assert len(closed) == 1, outcomes
    assert all(isinstance(o, FieldError) or o in (0, 1) or isinstance(o, Order) for o in outcomes)
    assert LedgerEntry.objects.filter(kind=LedgerKind.RELEASE, reference=order.hash).count() == 1
    assert Balance.objects.get(account=address_of(signer), token=market.base).held == 0
