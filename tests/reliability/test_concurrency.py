"""Fifty-plus clients, each a thread with its own HTTP connection, race fills, cancels
and withdrawals on the same accounts and orders against gunicorn (the production
server, several workers and threads) on the test database. Afterwards: no 5xx (a
deadlock or a lock timeout would surface as one), every refusal in the spec's error
body, no order overfilled, no balance spent twice (holds exact, nothing negative, the
ledger equal to every balance), each signed withdrawal accepted at most once, and each
token's total unchanged.

The slow test (RUN_SLOW=1) runs more rounds with more clients.
"""

import random
import threading
from collections import Counter

import pytest
import requests

from exchange.models import CostClass, Order, RateLimitPolicy, Transfer
from tests.reliability.invariants import assert_money_exact
from tests.reliability.seed import CONTRACT, seed_exchange
from tests.reliability.servers import gunicorn_server
from tests.signing import (
    address_of,
    new_signer,
    signed_cancel,
    signed_withdrawal,
)
from tests.trading import fill_payload, place

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres_only]

ORDER_GIVE = 1000
ORDER_TAKE = 1000
MAKER_FUNDS = 2500  # two orders of 1000 held, 500 free
TAKER_FUNDS = 1500


def raise_rate_limits() -> None:
    for cost_class in CostClass.values:
        RateLimitPolicy.objects.update_or_create(
            cost_class=cost_class,
            defaults={"ip_limit": 10**9, "account_limit": 10**9, "api_key_limit": 10**9},
        )


def withdrawal_payload(signer, token, amount: int) -> dict:
    return signed_withdrawal(signer, contract=CONTRACT, token=token, amount=amount)


def _round(base_url: str, seeded, deposited: Counter, rng: random.Random, clients: int) -> list:
    eth, tst, network = seeded.eth, seeded.tst, seeded.network
    makers = [new_signer() for _ in range(3)]
    takers = [new_signer() for _ in range(10)]
    from tests.reliability.seed import fund

    for signer in makers:
        fund(signer, tst, MAKER_FUNDS, f"c:{address_of(signer)}")
        deposited[tst.id] += MAKER_FUNDS
    for signer in takers:
        fund(signer, eth, TAKER_FUNDS, f"c:{address_of(signer)}")
        deposited[eth.id] += TAKER_FUNDS
    orders = [
        (maker, place(maker, give_token=tst, give_amount=ORDER_GIVE, take_token=eth, take_amount=ORDER_TAKE))
        for maker in makers
        for _ in range(2)
    ]  # fmt: skip

    jobs: list[tuple[str, object]] = []  # (path, body): each is one client's request
    for index in range(clients - 16):
        taker = takers[index % len(takers)]
        _maker, order = rng.choice(orders)
        jobs.append(("/create_trades", [fill_payload(taker, order, 400)]))
    for maker, order in orders:
        jobs.append(("/delete_orders", signed_cancel(maker, order_hash=order.hash)))
    for taker in takers[:5]:
        # The same signed withdrawal sent by two clients at once: one may pass.
        payload = withdrawal_payload(taker, eth, 700)
        jobs += [("/create_transfers", payload), ("/create_transfers", payload)]
    rng.shuffle(jobs)

    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)

    def client(slot: int, path: str, body) -> None:
        with requests.Session() as session:  # its own connection
            barrier.wait(timeout=60)
            response = session.post(
                f"{base_url}{path}?networkId={network.id}", json=body, timeout=60
            )
            results[slot] = (path, body, response.status_code, response.json())

    threads = [
        threading.Thread(target=client, args=(slot, path, body))
        for slot, (path, body) in enumerate(jobs)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(not thread.is_alive() for thread in threads), "a client hung"
    assert len(jobs) >= 50
    return results


def test_fifty_clients_racing_fills_cancels_and_withdrawals_never_overspend(settings, tmp_path):
    race(settings, tmp_path, clients=52, rounds=1)


@pytest.mark.slow
def test_eighty_clients_racing_for_several_rounds_never_overspend(settings, tmp_path):
    race(settings, tmp_path, clients=80, rounds=4)


def race(settings, tmp_path, *, clients: int, rounds: int) -> None:
    raise_rate_limits()
    seeded = seed_exchange(settings)
    deposited: Counter = Counter()
    for token in (seeded.eth, seeded.tst):
        deposited[token.id] = sum(
            int(b.total) for b in token.balances.all()
        )  # the seed's own deposits, net of nothing (no withdrawal completed)
    rng = random.Random(7)
    outcomes: Counter = Counter()
    with gunicorn_server(tmp_path, workers=3, threads=8) as server:
        for _ in range(rounds):
            for path, _body, status, answer in _round(server.url, seeded, deposited, rng, clients):
                outcomes[(path, status)] += 1
                assert status < 500, (path, status, answer, server.log()[-3000:])
                if status >= 400:
                    assert isinstance(answer.get("code"), int) and isinstance(
                        answer.get("reason"), str
                    ), answer

    # Each distinct signed withdrawal was accepted at most once, and exactly as often
    # as a client was told {"success": "0"}.
    accepted = outcomes[("/create_transfers", 200)]
    assert accepted == Transfer.objects.filter(kind="withdrawal").count() - 1  # seed's one
    assert outcomes[("/create_trades", 201)] > 0, outcomes
    assert outcomes[("/create_trades", 400)] > 0, outcomes  # the race really was lost by some
    assert_money_exact(seeded.network, dict(deposited))
    for order in Order.objects.filter(network=seeded.network):
        assert order.filled <= order.take_amount
