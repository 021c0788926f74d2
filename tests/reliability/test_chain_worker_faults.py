"""The chain workers' faults under a real Celery worker (prefork, one child) on the
suite's Redis, database and anvil, the node reached through tests/reliability/nodes.py:

- the worker's child killed with SIGKILL while its send is in flight (the transaction
  reached the node, the answer never came back), in dispatch and in settlement: the
  user is paid once, the trade settled once, and the work resumes;
- the node down (its port refusing connections) for NODE_OUTAGE_SECONDS (5 s; 60 s with
  RUN_SLOW=1), with beat running the production schedule: /healthz says the node is
  down meanwhile, and the first watcher run after it is back credits what was deposited
  during the outage;
- a node that accepts connections and never answers: every run ends after one request
  of CHAIN_RPC_TIMEOUT, its socket closed, and the pool child takes the next task;
- a node call that would hang past the task's soft time limit: the run is stopped, its
  lock released, and the child takes the next task.
"""

import os
import signal
import time
from collections.abc import Callable

import pytest
from django.test import Client

from chain.client import TRADE_TOPIC, WITHDRAW_TOPIC
from chain.tasks import (
    deposits_watch,
    deposits_watch_all,
    trades_settle,
    withdrawals_confirm,
    withdrawals_dispatch,
)
from chain.watcher import deposits_watch_run
from exchange.models import Balance, SettlementStatus, Trade, Transfer, TransferStatus
from exchange.tasks import orders_expire_task
from relayer.celery import app
from tests.celery_worker import chain_worker_env, worker_process
from tests.chain.contract import ONE, deposit_ether, token_balance
from tests.chain.test_withdrawals import request_withdrawal
from tests.reliability.nodes import NodeProxy, SilentNode
from tests.reliability.test_faults import _children

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres_only]

NODE_OUTAGE_SECONDS = 60 if os.environ.get("RUN_SLOW") == "1" else 5
WAIT = 90  # seconds before a test gives up on a broken worker (never a measured figure)


@pytest.fixture
def chain_worker(deployment, settings, tmp_path):
    """Starts a prefork worker (one child) with the chain worker's environment plus
    `env`; with beat=True, beat runs inside it on the production schedule."""
    app.control.purge()
    started = []

    def start(beat: bool = False, **env: str):
        context = worker_process(
            {**chain_worker_env(deployment, settings.REDIS_URL), **env},
            log_path=tmp_path / f"worker-{len(started)}.log",
            pool="prefork",
            beat_schedule=tmp_path / "beat-schedule" if beat else None,
        )
        started.append(context)
        return context.__enter__()

    yield start
    for context in reversed(started):
        context.__exit__(None, None, None)


def _until(condition: Callable[[], bool], *, worker, what: str, nudge=None) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert worker.poll() is None, worker.log()[-3000:]
        assert time.monotonic() < deadline, f"{what}: {worker.log()[-3000:]}"
        if nudge:
            nudge()
        time.sleep(0.5)


def _kill_child(worker) -> None:
    _until(lambda: len(_children(worker.pid)) == 1, worker=worker, what="no pool child")
    (child,) = _children(worker.pid)
    os.kill(child, signal.SIGKILL)


def _events(deployment, topic: str) -> list[dict]:
    return deployment.node.rpc(
        "eth_getLogs",
        [
            {
                "fromBlock": "0x0",
                "toBlock": "latest",
                "address": deployment.exchange,
                "topics": [topic],
            }
        ],
    )


def _use_node(network, url: str) -> None:
    network.rpc_url = url
    network.save(update_fields=["rpc_url"])


def _fund(deployment, network, user, amount: int) -> None:
    deposit_ether(deployment, user, amount)
    deposits_watch_run(network=network, client=deployment.client)
    assert Balance.objects.get(account=user.address).total == amount


# ---- kill -9 mid-send --------------------------------------------------------------------


def test_a_worker_killed_mid_dispatch_pays_the_withdrawal_once(
    chain_network, deployment, chain_worker
):
    user = deployment.users[0]
    _fund(deployment, chain_network, user, 5 * ONE)
    withdrawal = request_withdrawal(deployment, chain_network, user, 2 * ONE)
    wallet_before = token_balance(deployment, "0x" + "00" * 20, user.address)
    with NodeProxy(deployment.node.rpc_url) as proxy:
        _use_node(chain_network, proxy.url)
        sent = proxy.hold("eth_sendRawTransaction", forward=True)
        worker = chain_worker()
        withdrawals_dispatch.delay(chain_network.id)
        _until(sent.is_set, worker=worker, what="the withdrawal was never sent")
        _kill_child(worker)  # the node has the transaction; the worker never heard back
        proxy.release("eth_sendRawTransaction", drop=True)
        _until(
            lambda: Transfer.objects.get(pk=withdrawal.pk).status == TransferStatus.COMPLETE,
            worker=worker,
            what="the withdrawal did not complete",
            nudge=lambda: (
                withdrawals_dispatch.delay(chain_network.id),
                withdrawals_confirm.delay(chain_network.id),
            ),
        )
    assert "WorkerLostError" in worker.log() or "SIGKILL" in worker.log()
    withdrawal.refresh_from_db()
    paid = token_balance(deployment, "0x" + "00" * 20, user.address) - wallet_before
    assert paid == 2 * ONE - int(withdrawal.fee)
    assert len(_events(deployment, WITHDRAW_TOPIC)) == 1
    assert deployment.client.withdrawn(withdrawal.hash)


def test_a_worker_killed_mid_settlement_settles_the_trade_once(chain_exchange, chain_worker):
    ex = chain_exchange
    order = ex.ask(ex.makers[0], give_tst=100 * ONE, take_eth=ONE)
    (trade,) = ex.take(ex.taker, [(order, ONE // 2)])
    with NodeProxy(ex.deployment.node.rpc_url) as proxy:
        _use_node(ex.network, proxy.url)
        sent = proxy.hold("eth_sendRawTransaction", forward=True)
        worker = chain_worker()
        trades_settle.delay(ex.network.id)
        _until(sent.is_set, worker=worker, what="the trade was never sent")
        _kill_child(worker)
        proxy.release("eth_sendRawTransaction", drop=True)
        _until(
            lambda: Trade.objects.get(pk=trade.pk).settlement_status == SettlementStatus.SETTLED,
            worker=worker,
            what="the trade was not settled",
            nudge=lambda: trades_settle.delay(ex.network.id),
        )
    assert "WorkerLostError" in worker.log() or "SIGKILL" in worker.log()
    assert len(_events(ex.deployment, TRADE_TOPIC)) == 1
    assert ex.client.traded(trade.hash)


# ---- the node down, then back ----------------------------------------------------------


def test_a_node_down_for_a_while_is_reported_and_the_jobs_resume_when_it_is_back(
    chain_network, deployment, chain_worker
):
    user, depositor = deployment.users[0], deployment.users[1]
    _fund(deployment, chain_network, user, 5 * ONE)
    with NodeProxy(deployment.node.rpc_url) as proxy:
        _use_node(chain_network, proxy.url)
        worker = chain_worker(beat=True)
        _until(
            lambda: "event=deposits_watched" in worker.log(), worker=worker, what="no watcher run"
        )

        proxy.down()
        outage_started = time.monotonic()
        deposit_ether(deployment, depositor, ONE)  # straight to anvil: the relayer cannot see it
        withdrawal = request_withdrawal(deployment, chain_network, user, ONE)
        mark = len(worker.log())
        _until(
            lambda: "event=node_unavailable" in worker.log()[mark:],
            worker=worker,
            what="the outage was not noticed",
        )
        health = Client().get("/healthz")
        assert health.status_code == 503
        assert health.json()["checks"][f"node:{chain_network.id}"]["ok"] is False
        time.sleep(max(0.0, NODE_OUTAGE_SECONDS - (time.monotonic() - outage_started)))
        assert not Balance.objects.filter(account=depositor.address).exists()

        back = len(worker.log())
        proxy.up()
        _until(
            lambda: (
                Transfer.objects.get(pk=withdrawal.pk).status == TransferStatus.COMPLETE
                and Balance.objects.filter(account=depositor.address, total=ONE).exists()
            ),
            worker=worker,
            what="the jobs did not resume",
        )
        assert Client().get("/healthz").status_code == 200
    # The first watcher run after the node came back credited the deposit (one tick).
    first_run = next(
        line for line in worker.log()[back:].splitlines() if "event=deposits_watched" in line
    )
    assert "credited=1" in first_run, first_run


# ---- a node that never answers -----------------------------------------------------------


def test_a_silent_node_fails_each_run_within_its_timeout_and_frees_the_pool_slot(
    chain_network, chain_worker
):
    with SilentNode() as node:
        _use_node(chain_network, node.url)
        worker = chain_worker(CHAIN_RPC_TIMEOUT="2")
        for _ in range(2):
            deposits_watch.delay(chain_network.id)
            withdrawals_confirm.delay(chain_network.id)
        orders_expire_task.delay()
        _until(
            lambda: (
                worker.log().count("event=node_unavailable") == 4
                and "exchange.orders_expire" in worker.log().split("event=node_unavailable")[-1]
            ),
            worker=worker,
            what="the runs did not end",
        )
        assert worker.log().count("ReadTimeout") == 4
        assert node.accepted == 4  # one request per run: no retries
        assert node.open_connections() == 0


def test_a_run_hung_past_its_soft_time_limit_is_stopped_and_the_next_task_runs(
    chain_network, chain_worker
):
    with SilentNode() as node:
        _use_node(chain_network, node.url)
        # The node call alone would wait 60 s; the worker's time limit is 2 s. The tick
        # (sent here as beat would) enqueues the run from the worker, with its limits.
        worker = chain_worker(CHAIN_RPC_TIMEOUT="60", CELERY_TASK_SOFT_TIME_LIMIT="2")
        deposits_watch_all.delay()
        deposits_watch_all.delay()
        _until(
            lambda: worker.log().count("event=run_time_limit") == 2,
            worker=worker,
            what="the hung runs were not stopped",
        )
        # The second run got the network's lock: the first released it when stopped.
        assert node.accepted == 2
        assert "SoftTimeLimitExceeded" in worker.log()
