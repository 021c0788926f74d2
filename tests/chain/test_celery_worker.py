"""End to end through a real Celery worker process on the Redis broker: a deposit is
credited and a withdrawal requested over the API is paid on chain, by the worker alone."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from chain import hashing
from chain.client import ETHER
from chain.tasks import deposits_watch, withdrawals_confirm
from exchange.models import Balance, Token, Transfer
from relayer.celery import app
from tests.chain.contract import ONE, deposit_ether, token_balance
from tests.signing import next_nonce

ROOT = Path(__file__).resolve().parents[2]
FEE = ONE // 100


def _database_url() -> str:
    """The test database (pytest-django's test_<name>) for the worker process."""
    db = connection.settings_dict
    user = db["USER"] or "postgres"
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{user}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def celery_worker(deployment, settings):
    app.control.purge()  # only this suite's Redis db: tasks left by an earlier run
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "OPERATOR_PRIVATE_KEY": deployment.operator.key,
        "FEE_ACCOUNT": deployment.fee_account.address,
        "CHAIN_RPC_TIMEOUT": "5",
    }
    worker = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "celery"),
            "-A",
            "relayer",
            "worker",
            "--pool=solo",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        yield worker
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        worker.stderr.close()


def wait_for(condition, *, nudge, worker, limit: float = 90.0):
    """Re-sends `nudge` (a task) every second until `condition()` holds; fails after `limit`
    seconds only so that a broken worker cannot hang the suite."""
    deadline = time.monotonic() + limit
    while not condition():
        assert worker.poll() is None, worker.stderr.read().decode()[-3000:]
        assert time.monotonic() < deadline, "the worker did not finish the work"
        nudge()
        time.sleep(1)


@pytest.mark.django_db(transaction=True)
def test_a_celery_worker_credits_a_deposit_and_pays_a_withdrawal(
    api, deployment, chain_network, celery_worker, settings
):
    settings.FEE_ACCOUNT = deployment.fee_account.address
    Token.objects.filter(network=chain_network, address=ETHER).update(withdrawal_fee=FEE)
    user = deployment.users[3]
    deposit_ether(deployment, user, 3 * ONE)

    wait_for(
        lambda: Transfer.objects.filter(kind="deposit", status="COMPLETE").exists(),
        nudge=lambda: deposits_watch.delay(chain_network.id),
        worker=celery_worker,
    )
    assert Balance.objects.get(account=user.address).total == 3 * ONE

    wallet_before = token_balance(deployment, ETHER, user.address)
    nonce = next_nonce()
    digest = hashing.withdraw_hash(
        contract=deployment.exchange, token=ETHER, amount=2 * ONE, account=user.address, nonce=nonce
    )
    response = api.post(
        f"/create_transfers?networkId={chain_network.id}",
        {
            "account": user.address,
            "amount": str(2 * ONE),
            "tokenAddress": ETHER,
            "nonce": str(nonce),
            "signature": user.sign_hash(digest),
        },
        format="json",
    )
    assert response.json() == {"success": "0"}

    # The request enqueued the dispatch on commit; the worker sends it by itself.
    wait_for(
        lambda: Transfer.objects.filter(kind="withdrawal", broadcast_at__isnull=False).exists(),
        nudge=lambda: None,
        worker=celery_worker,
    )
    wait_for(
        lambda: Transfer.objects.filter(kind="withdrawal", status="COMPLETE").exists(),
        nudge=lambda: withdrawals_confirm.delay(chain_network.id),
        worker=celery_worker,
    )

    withdrawal = Transfer.objects.get(kind="withdrawal")
    assert deployment.client.receipt(withdrawal.transaction_hash).succeeded
    assert token_balance(deployment, ETHER, user.address) == wallet_before + 2 * ONE - FEE
    balance = Balance.objects.get(account=user.address)
    assert (balance.total, balance.held) == (ONE, 0)
    records = api.post(
        f"/get_transfers?networkId={chain_network.id}", {"account": user.address}, format="json"
    ).json()["records"]
    assert [(r["type"], r["status"]) for r in records] == [
        ("withdrawal", "COMPLETE"),
        ("deposit", "COMPLETE"),
    ]
