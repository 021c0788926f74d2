"""Faults with real processes: Redis unreachable (a server pointed at a closed port: the
shared Redis is never restarted), database connections dropped between and in the
middle of requests, a Celery worker child killed with SIGKILL mid-task, and a chain
reorganisation deeper than the network's confirmations. Each ends with the money
invariants (and, on chain, reconciliation) checked: nothing paid twice, nothing lost.

The node killed between sending a withdrawal and its receipt, then restarted without
its pool, is tests/chain/test_withdrawal_node_restart.py: the same signed transaction is
sent again and the user is paid once. Redis killed and restarted empty under a running
gunicorn, Celery worker and beat is tests/reliability/test_redis_restart.py.
"""

import os
import random
import signal
import subprocess
import threading
import time
from collections import Counter

import pytest
import requests
from django.db import connection, transaction

from chain.client import ETHER
from chain.reconciliation import reconciliation_run
from chain.watcher import deposits_watch_run
from exchange.models import Balance, LedgerEntry, LedgerKind, Order, OrderStatus, Token, Transfer
from tests.celery_worker import worker_process
from tests.chain.contract import ONE, deposit_ether
from tests.reliability.invariants import assert_money_exact
from tests.reliability.seed import seed_exchange
from tests.reliability.servers import (
    closed_port_url,
    gunicorn_server,
)
from tests.reliability.test_concurrency import raise_rate_limits
from tests.signing import address_of, signed_order
from tests.trading import place

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres_only]

ANSWER_WITHIN = 15  # seconds: a request that takes longer is hanging


def _deposited(seeded) -> dict:
    return {
        token.id: sum(int(b.total) for b in token.balances.all())
        for token in (seeded.eth, seeded.tst)
    }


def _is_spec_error(body) -> bool:
    return isinstance(body, dict) and isinstance(body.get("code"), int) and "reason" in body


# --- Redis unreachable ----------------------------------------------------------------


def test_with_redis_unreachable_the_api_still_answers_and_health_says_503(settings, tmp_path):
    seeded = seed_exchange(settings)
    maker = seeded.accounts[2]
    order = signed_order(
        maker,
        contract=seeded.network.exchange_address,
        give_token=seeded.tst,
        give_amount=ONE,
        take_token=seeded.eth,
        take_amount=ONE // 100,
    )
    from tests.reliability.test_concurrency import withdrawal_payload

    requests_to_send = [
        ("get", "/tokens", None),
        ("get", f"/accounts/{address_of(maker)}", None),
        ("post", "/get_orderbook", {"market": "ETH_TST"}),
        ("post", "/get_ticker", {}),
        ("post", "/create_orders", order),  # a write: the cache is not needed for it
        ("post", "/create_transfers", withdrawal_payload(maker, seeded.eth, ONE // 10)),
    ]
    with gunicorn_server(tmp_path, workers=1, threads=2, REDIS_URL=closed_port_url()) as server:
        for method, path, body in requests_to_send:
            started = time.monotonic()
            response = requests.request(method, server.url + path, json=body, timeout=ANSWER_WITHIN)
            assert time.monotonic() - started < ANSWER_WITHIN
            assert response.status_code < 500, (path, response.text, server.log()[-3000:])
            if response.status_code >= 400:
                assert _is_spec_error(response.json()), response.text
        health = requests.get(server.url + "/healthz", timeout=ANSWER_WITHIN)
        assert health.status_code == 503
        checks = health.json()["checks"]
        assert checks["cache"]["ok"] is False and checks["database"]["ok"] is True
    # The withdrawal is held and PENDING: beat dispatches it once the broker is back.
    assert Order.objects.filter(hash=order["orderHash"]).exists()
    assert Transfer.objects.filter(account=address_of(maker), status="PENDING").count() == 1
    assert_money_exact(seeded.network, _deposited(seeded))


# --- database connections dropped -----------------------------------------------------


def _terminate_server_connections(exclude_pid: int | None = None) -> int:
    # The timeout (PostgreSQL 14+) waits until each backend has exited: without it the
    # server's next health check could still find the connection alive and its next
    # query fail, so the test raced the drop instead of testing what follows it.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            + (" AND pid <> %s" if exclude_pid else ""),
            [exclude_pid] if exclude_pid else [],
        )
        return cursor.fetchone()[0]


def test_connections_dropped_between_requests_are_replaced_not_failed(settings, tmp_path):
    seed_exchange(settings)
    raise_rate_limits()
    with gunicorn_server(tmp_path, workers=1, threads=4) as server:
        for _ in range(3):
            assert requests.get(server.url + "/tokens", timeout=ANSWER_WITHIN).status_code == 200
            assert _terminate_server_connections() >= 1
            response = requests.get(server.url + "/tokens", timeout=ANSWER_WITHIN)
            assert response.status_code == 200, (response.text, server.log()[-2000:])


def test_a_connection_dropped_mid_request_answers_503_changes_nothing_and_the_next_succeeds(
    settings, tmp_path
):
    seeded = seed_exchange(settings)
    raise_rate_limits()
    maker = seeded.accounts[2]
    payload = signed_order(
        maker,
        contract=seeded.network.exchange_address,
        give_token=seeded.tst,
        give_amount=ONE,
        take_token=seeded.eth,
        take_amount=ONE // 100,
    )
    with gunicorn_server(tmp_path, workers=1, threads=2) as server:
        answer = {}

        def submit():
            response = requests.post(
                server.url + "/create_orders", json=payload, timeout=ANSWER_WITHIN
            )
            answer.update(status=response.status_code, body=response.json())

        with transaction.atomic():
            # The maker's balance row is locked here, so the server's order_place waits on
            # it, in the middle of its transaction, until its connection is cut.
            Balance.objects.select_for_update().get(account=address_of(maker), token=seeded.tst)
            client = threading.Thread(target=submit)
            client.start()
            waiting = None
            deadline = time.monotonic() + ANSWER_WITHIN
            while waiting is None and time.monotonic() < deadline:
                with connection.cursor() as cursor:
                    # Inside a transaction the activity view is a snapshot: refresh it.
                    cursor.execute("SELECT pg_stat_clear_snapshot()")
                    cursor.execute(
                        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                        "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                    )
                    row = cursor.fetchone()
                waiting = row and row[0]
                time.sleep(0.05)
            assert waiting, "the request never reached the lock"
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(%s)", [waiting])
            client.join(ANSWER_WITHIN)
            assert not client.is_alive(), "the request hung"
        assert answer["status"] == 503, answer
        assert _is_spec_error(answer["body"]), answer
        assert not Order.objects.filter(hash=payload["orderHash"]).exists()
        assert_money_exact(seeded.network, _deposited(seeded))

        retry = requests.post(server.url + "/create_orders", json=payload, timeout=ANSWER_WITHIN)
        assert retry.status_code == 201, retry.text
    assert_money_exact(seeded.network, _deposited(seeded))


# --- a Celery worker killed mid-task ----------------------------------------------------


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(line) for line in out.stdout.split()]


@pytest.fixture
def prefork_worker(settings, tmp_path):
    """A Celery worker with one prefork child (the parent sees a child die)."""
    from relayer.celery import app

    app.control.purge()
    env = {"REDIS_URL": settings.REDIS_URL}
    with worker_process(env, log_path=tmp_path / "worker.log", pool="prefork") as worker:
        yield worker


def _wait(condition, *, worker, limit: float = 60.0, what: str) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert worker.poll() is None, worker.log()[-3000:]
        assert time.monotonic() < deadline, f"{what}: {worker.log()[-3000:]}"
        time.sleep(0.1)


def test_a_worker_killed_mid_task_has_the_task_redone_exactly_once(settings, prefork_worker):
    from exchange.tasks import orders_expire_task

    seeded = seed_exchange(settings)
    maker = seeded.accounts[2]
    order = place(
        maker, give_token=seeded.tst, give_amount=7 * ONE, take_token=seeded.eth, take_amount=ONE
    )
    Order.objects.filter(pk=order.pk).update(expiry_ms=1)  # it has expired: the sweep's job
    _wait(lambda: _children(prefork_worker.pid), worker=prefork_worker, what="no pool child")

    with transaction.atomic():
        # The maker's balance row is locked here: the sweep locks the order, then waits
        # for the balance inside its transaction, where the child is killed.
        Balance.objects.select_for_update().get(account=address_of(maker), token=seeded.tst)
        orders_expire_task.delay()

        def waiting_on_lock() -> bool:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_stat_clear_snapshot()")
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                )
                return cursor.fetchone()[0] > 0

        _wait(waiting_on_lock, worker=prefork_worker, what="the task never reached the lock")
        (child,) = _children(prefork_worker.pid)
        os.kill(child, signal.SIGKILL)
        # The killed child's backend is still queued on the lock: cut it, as the
        # database would once it noticed the client had gone.
        _terminate_server_connections()
    # acks_late + reject_on_worker_lost: the message goes back to the queue and a new
    # child runs the task again; its effect happens once.
    _wait(
        lambda: Order.objects.get(pk=order.pk).status == OrderStatus.EXPIRED,
        worker=prefork_worker,
        what="the task was not redone",
    )
    releases = LedgerEntry.objects.filter(kind=LedgerKind.RELEASE, reference=order.hash)
    assert releases.count() == 1
    assert "WorkerLostError" in prefork_worker.log() or "SIGKILL" in prefork_worker.log()
    assert_money_exact(seeded.network, _deposited(seeded))


# --- a reorganisation deeper than the confirmations -----------------------------------


def _watch(deployment, network):
    return deposits_watch_run(network=network, client=deployment.client)


def test_a_reorg_deeper_than_the_confirmations_never_credits_twice_and_reconciles(
    deployment, chain_network, settings
):
    settings.FEE_ACCOUNT = deployment.fee_account.address
    chain_network.confirmations = 2
    chain_network.save()
    user, other = deployment.users[0], deployment.users[1]
    deposit_ether(deployment, other, 2 * ONE)  # before the fork: stays
    deployment.node.mine(2)
    _watch(deployment, chain_network)

    fork_point = deployment.node.snapshot()
    receipt = deposit_ether(deployment, user, ONE)
    raw = deployment.node.rpc("eth_getRawTransactionByHash", [receipt.transaction_hash])
    deployment.node.mine(4)  # confirmed twice over
    _watch(deployment, chain_network)
    eth = Token.objects.get(network=chain_network, address=ETHER)
    assert Balance.objects.get(account=user.address, token=eth).total == ONE

    # The chain is replaced from before the deposit by a longer one (6 blocks deep,
    # deeper than the 2 confirmations), where the same signed deposit is mined again.
    deployment.node.revert(fork_point)
    deployment.node.mine(3)
    deployment.node.rpc("eth_sendRawTransaction", [raw])
    deployment.node.mine(4)
    for _ in range(2):
        _watch(deployment, chain_network)

    assert Balance.objects.get(account=user.address, token=eth).total == ONE
    credits = LedgerEntry.objects.filter(
        kind=LedgerKind.DEPOSIT, balance__account=user.address, balance__token=eth
    )
    assert credits.count() == 1
    assert Counter(Transfer.objects.filter(kind="deposit").values_list("account", flat=True)) == {
        user.address: 1,
        other.address: 1,
    }
    run = reconciliation_run(network=chain_network, client=deployment.client)
    assert run.ok, run.difference_list


def test_a_credited_deposit_a_deep_reorg_removes_is_reported_by_reconciliation(
    deployment, chain_network, settings
):
    settings.FEE_ACCOUNT = deployment.fee_account.address
    user = deployment.users[0]
    fork_point = deployment.node.snapshot()
    deposit_ether(deployment, user, ONE)
    deployment.node.mine(3)
    _watch(deployment, chain_network)
    deployment.node.revert(fork_point)
    deployment.node.mine(6)  # never mined again
    _watch(deployment, chain_network)

    run = reconciliation_run(network=chain_network, client=deployment.client)
    assert not run.ok
    assert [(d["check"], d["account"]) for d in run.difference_list] == [("balance", user.address)]


# --- made-up networkIds -------------------------------------------------------------


def _random_network_ids(count: int) -> list[int]:
    rng = random.Random(19)
    return [rng.randrange(1, 2**63) for _ in range(count)]


def _assert_bounded_then_served(seeded, api) -> None:
    from exchange.api import networks
    from exchange.api.kept import MISSING_KEPT

    # The real network, plus at most MISSING_KEPT remembered misses: flat, whatever comes.
    assert len(networks._networks) <= 1 + MISSING_KEPT
    assert api.get("/tokens", {"networkId": seeded.network.id}).status_code == 200


def test_random_network_ids_keep_the_per_process_memory_bounded(settings, api):
    """Eight times the bound in the default suite; 10,000 requests with RUN_SLOW=1."""
    from exchange.api.errors import FieldError
    from exchange.api.kept import MISSING_KEPT
    from exchange.api.networks import network_from_params

    seeded = seed_exchange(settings)
    raise_rate_limits()
    refused = 0
    for network_id in _random_network_ids(8 * MISSING_KEPT):  # what every endpoint calls first
        try:
            network_from_params({"networkId": network_id})
        except FieldError:
            refused += 1
    answers = Counter(
        api.get("/tokens", {"networkId": network_id}).status_code
        for network_id in _random_network_ids(300)
    )
    assert refused == 8 * MISSING_KEPT and answers == {400: 300}
    _assert_bounded_then_served(seeded, api)


@pytest.mark.slow
def test_ten_thousand_requests_with_random_network_ids_keep_memory_bounded(settings, api):
    seeded = seed_exchange(settings)
    raise_rate_limits()
    answers = Counter(
        api.get("/tokens", {"networkId": network_id}).status_code
        for network_id in _random_network_ids(10_000)
    )
    assert answers == {400: 10_000}
    _assert_bounded_then_served(seeded, api)
