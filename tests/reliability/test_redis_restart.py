"""Redis crashes and comes back empty, with everything running as deployed: gunicorn, a
Celery worker with beat inside it, anvil. Redis holds the broker's queue, the cache's
rate-limit counters and the chain tasks' locks, and keeps nothing on disk; PostgreSQL
holds every piece of money state. So while Redis is down the API still answers (503 from
/healthz, the spec's errors, no hang), a withdrawal asked for meanwhile is held and
PENDING, and once Redis is back beat's next tick finds it in the database: paid exactly
once, reconciliation clean."""

import time

import pytest
import requests

from chain.client import ETHER
from chain.reconciliation import reconciliation_run
from exchange.models import Balance, Token, Transfer
from tests.celery_worker import chain_worker_env, worker_process
from tests.chain.contract import ONE, deposit_ether, token_balance
from tests.chain.settling import signer_of
from tests.reliability.servers import gunicorn_server, private_redis
from tests.signing import signed_withdrawal

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres_only]

ANSWER_WITHIN = 15  # seconds: a request that takes longer is hanging
FEE = ONE // 100


def _eventually(condition, *, within: float, what: str, worker) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert worker.poll() is None, worker.log()[-3000:]
        assert time.monotonic() < deadline, f"not within {within} s: {what}"
        time.sleep(0.2)


def _get(url: str) -> requests.Response:
    started = time.monotonic()
    response = requests.get(url, timeout=ANSWER_WITHIN)
    assert time.monotonic() - started < ANSWER_WITHIN
    return response


def _withdraw(server, network, user, amount: int) -> requests.Response:
    payload = signed_withdrawal(
        signer_of(user), contract=network.exchange_address, token=ETHER, amount=amount
    )
    return requests.post(
        f"{server.url}/create_transfers?networkId={network.id}", json=payload, timeout=ANSWER_WITHIN
    )


def test_redis_killed_and_restarted_empty_loses_nothing_and_pays_once(
    deployment, chain_network, settings, tmp_path
):
    settings.FEE_ACCOUNT = deployment.fee_account.address
    Token.objects.filter(network=chain_network, address=ETHER).update(withdrawal_fee=FEE)
    user = deployment.users[0]
    env = {**chain_worker_env(deployment, ""), "CHAIN_TICK_SECONDS": "1"}

    with (
        private_redis(tmp_path) as redis,
        gunicorn_server(
            tmp_path, workers=1, threads=2, REDIS_URL=redis.url(), FEE_ACCOUNT=env["FEE_ACCOUNT"]
        ) as server,
        worker_process(
            {**env, "REDIS_URL": redis.url()},
            log_path=tmp_path / "celery-worker.log",
            beat_schedule=tmp_path / "beat-schedule",
        ) as worker,
    ):
        deposit_ether(deployment, user, 3 * ONE)
        _eventually(
            lambda: Balance.objects.filter(account=user.address, total=3 * ONE).exists(),
            within=60,
            what="the deposit credited by beat's watcher tick",
            worker=worker,
        )
        assert _get(server.url + "/healthz").status_code == 200

        redis.kill()
        health = _get(server.url + "/healthz")
        assert health.status_code == 503
        checks = health.json()["checks"]
        assert checks["cache"]["ok"] is False and checks["broker"]["ok"] is False
        assert checks["database"]["ok"] is True
        account = _get(f"{server.url}/accounts/{user.address}?networkId={chain_network.id}")
        assert account.status_code == 200, account.text
        during = _withdraw(server, chain_network, user, ONE)
        assert during.status_code < 500 and during.json() == {"success": "0"}, during.text
        pending = Transfer.objects.get(kind="withdrawal", account=user.address)
        assert pending.status == "PENDING"
        assert Balance.objects.get(account=user.address).held == ONE

        wallet_before = token_balance(deployment, ETHER, user.address)
        redis.start()  # the same port, empty: the queue, locks and counters are gone
        _eventually(
            lambda: _get(server.url + "/healthz").status_code == 200,
            within=30,
            what="/healthz back to 200",
            worker=worker,
        )
        _eventually(
            lambda: Transfer.objects.get(id=pending.id).status == "COMPLETE",
            within=90,
            what="the withdrawal asked for during the outage paid by beat's ticks",
            worker=worker,
        )
        after = _withdraw(server, chain_network, user, ONE)
        assert after.json() == {"success": "0"}, after.text
        _eventually(
            lambda: Transfer.objects.filter(kind="withdrawal", status="COMPLETE").count() == 2,
            within=60,
            what="a withdrawal asked for after the restart paid",
            worker=worker,
        )

    # Paid exactly once each: the wallet got (amount - fee) twice, the ledger agrees.
    assert token_balance(deployment, ETHER, user.address) == wallet_before + 2 * (ONE - FEE)
    balance = Balance.objects.get(account=user.address)
    assert (balance.total, balance.held) == (ONE, 0)
    run = reconciliation_run(network=chain_network, client=deployment.client)
    assert run.difference_list == [], run.difference_list
