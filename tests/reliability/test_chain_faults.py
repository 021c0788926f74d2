"""The chain workers against a sick node (tests/reliability/nodes.py, in front of the
suite's real anvil): no node call while a database transaction (the operator nonce row
lock) is open, one HTTP request per node call within its timeout, a watcher that backs
off and halves its range on a node error instead of retrying the same block for ever.

The same faults under a real Celery worker (killed mid-send, node down, silent node)
are in tests/reliability/test_chain_worker_faults.py.
"""

import psycopg
import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client

from chain.client import ETHER, ChainUnavailable, ExchangeClient
from chain.models import WatcherCursor
from chain.rpc_batch import batch
from chain.tasks import LOCK_TTL_SECONDS
from chain.watcher import deposits_watch_run
from chain.withdrawals import withdrawals_confirm_run, withdrawals_dispatch_run
from exchange.models import (
    Balance,
    LedgerEntry,
    SettlementStatus,
    Token,
    Trade,
    Transfer,
    TransferStatus,
)
from tests.chain.contract import ONE, deposit_ether
from tests.chain.test_withdrawals import request_withdrawal
from tests.reliability.nodes import NodeProxy, SilentNode

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres_only]


def _dsn() -> str:
    db = connection.settings_dict
    return (
        f"host={db['HOST']} port={db['PORT'] or 5432} dbname={db['NAME']} "
        f"user={db['USER'] or 'postgres'}"
        + (f" password={db['PASSWORD']}" if db["PASSWORD"] else "")
    )


class TransactionWitness:
    """Watches every node request: which arrived while a database session of the test
    database sat inside an open transaction (holding its row locks)."""

    def __init__(self):
        self.inside: list[str] = []
        self._db = psycopg.connect(_dsn(), autocommit=True)

    def __call__(self, names: list[str]) -> None:
        open_transactions = self._db.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%%'"
        ).fetchone()[0]
        if open_transactions:
            self.inside.extend(names)

    def close(self) -> None:
        self._db.close()


def _client_via(proxy: NodeProxy, deployment) -> ExchangeClient:
    return ExchangeClient(
        rpc_url=proxy.url,
        exchange_address=deployment.exchange,
        operator_key=deployment.operator.key,
        timeout=10,
    )


def test_no_node_call_is_made_while_the_operator_nonce_lock_is_held(chain_exchange):
    ex = chain_exchange
    order = ex.ask(ex.makers[0], give_tst=100 * ONE, take_eth=ONE)
    ex.take(ex.taker, [(order, ONE // 2)])
    withdrawal = request_withdrawal(
        ex.deployment, ex.network, ex.makers[1], 10 * ONE, ex.tst.address
    )
    witness = TransactionWitness()
    with NodeProxy(ex.deployment.node.rpc_url) as proxy:
        proxy.watchers.append(witness)
        try:
            # Fresh clients: nothing cached (chain id, fees), as in a new worker process.
            ex.settle(client=_client_via(proxy, ex.deployment))
            client = _client_via(proxy, ex.deployment)
            withdrawals_dispatch_run(network=ex.network, client=client)
            withdrawals_confirm_run(network=ex.network, client=client)
        finally:
            witness.close()
    assert Trade.objects.get().settlement_status == SettlementStatus.SETTLED
    withdrawal.refresh_from_db()
    assert withdrawal.status == TransferStatus.COMPLETE
    # The settler and the dispatcher share the operator nonce row: while it is locked,
    # only the database and the local signer run.
    assert {"eth_estimateGas", "eth_chainId", "eth_sendRawTransaction"} <= set(proxy.seen)
    assert witness.inside == []


# ---- one timeout, no retries ----------------------------------------------------------


def test_a_silent_node_costs_one_request_per_call_and_every_socket_is_released(deployment):
    with SilentNode() as node:
        client = ExchangeClient(
            rpc_url=node.url,
            exchange_address=deployment.exchange,
            operator_key=deployment.operator.key,
            timeout=1,
        )
        calls = [
            client.head,
            lambda: client.block(1),
            lambda: client.deposit_logs(0, 10),
            lambda: client.balance_of(deployment.tst, deployment.users[0].address),
            lambda: client.sign_transaction(to=deployment.exchange, data=b""),
            lambda: batch(client, [("eth_blockNumber", []), ("eth_chainId", [])]),
        ]
        for call in calls:
            with pytest.raises(ChainUnavailable):
                call()
        # web3's default retried each call 5 times (about 52 s for a 10 s timeout).
        assert node.accepted == len(calls)
        assert node.open_connections() == 0


# ---- the watcher on a node error that is not "unavailable" -----------------------------

RANGE_CAP = 8  # blocks per eth_getLogs this "provider" accepts


def _cap_log_range(call: dict, answer: dict) -> dict:
    query = call["params"][0]
    span = int(query["toBlock"], 16) - int(query["fromBlock"], 16) + 1
    if span <= RANGE_CAP:
        return answer
    error = {"code": -32005, "message": f"query exceeds max block range {RANGE_CAP}"}
    return {"jsonrpc": "2.0", "id": call["id"], "error": error}


def _mangle_block(number: int):
    def rewrite(call: dict, answer: dict) -> dict:
        for log in answer.get("result") or []:
            if int(log["blockNumber"], 16) == number:
                log["data"] = "0x1234"
        return answer

    return rewrite


def _watch_again(network, client, **limits) -> WatcherCursor:
    """One watcher run once its pause is over (the clock is not waited for)."""
    WatcherCursor.objects.filter(network=network).update(retry_at=None)
    deposits_watch_run(network=network, client=client, **limits)
    return WatcherCursor.objects.get(network=network)


def _eth_credited(network, account: str) -> int:
    eth = Token.objects.get(network=network, address=ETHER)
    balance = Balance.objects.filter(account=account, token=eth).first()
    return int(balance.total) if balance else 0


def test_a_log_range_the_node_refuses_is_halved_until_it_answers_and_no_block_is_skipped(
    chain_network, deployment
):
    user = deployment.users[0]
    deposit_ether(deployment, user, ONE)
    deployment.node.mine(30)
    deposit_ether(deployment, user, 2 * ONE)
    with NodeProxy(deployment.node.rpc_url) as proxy:
        proxy.rewrites["eth_getLogs"] = _cap_log_range
        client = _client_via(proxy, deployment)
        deposits_watch_run(network=chain_network, client=client, max_block_range=64)
        cursor = WatcherCursor.objects.get(network=chain_network)
        assert cursor.failures == 1 and cursor.block_number is None
        assert "max block range" in cursor.last_error and cursor.retry_at is not None

        # While it backs off, the node is not asked for logs at all.
        asked = proxy.seen.count("eth_getLogs")
        deposits_watch_run(network=chain_network, client=client, max_block_range=64)
        assert proxy.seen.count("eth_getLogs") == asked

        for _ in range(10):
            cursor = _watch_again(chain_network, client, max_block_range=64)
            if cursor.failures == 0:
                break
        head = deployment.client.head()
        while cursor.block_number < head:
            cursor = _watch_again(chain_network, client, max_block_range=64)
    assert cursor.range_limit <= RANGE_CAP and cursor.failures == 0 and cursor.last_error == ""
    assert _eth_credited(chain_network, user.address) == 3 * ONE


def test_an_undecodable_log_holds_the_watcher_at_its_block_visibly_until_it_decodes(
    chain_network, deployment
):
    client = Client()
    user = deployment.users[0]
    deployment.node.mine(3)
    block = deposit_ether(deployment, user, ONE).block_number
    deployment.node.mine(3)
    with NodeProxy(deployment.node.rpc_url) as proxy:
        chain_network.rpc_url = proxy.url
        chain_network.save()
        proxy.rewrites["eth_getLogs"] = _mangle_block(block)
        node = _client_via(proxy, deployment)
        cursor = None
        for _ in range(12):
            cursor = _watch_again(chain_network, node)
        # Down to one block per call, and never past the deposit's block.
        assert cursor.range_limit == 1 and cursor.next_block == block
        assert cursor.failures >= 2 and "undecodable Deposit log" in cursor.last_error
        assert _eth_credited(chain_network, user.address) == 0

        health = client.get("/healthz")
        assert health.status_code == 503
        watcher = health.json()["checks"][f"watcher:{chain_network.id}"]
        assert watcher["ok"] is False
        assert watcher["error"].startswith(f"stuck at block {block} after")
        assert "undecodable Deposit log" in watcher["lastError"]
        metrics = client.get("/metrics").content.decode()
        assert (
            f'relayer_deposit_watcher_failures{{network="{chain_network.id}"}} '
            f"{float(cursor.failures)}" in metrics
        )
        client.force_login(User.objects.create_superuser("operator", password="pw-operator"))
        page = client.get("/admin/dashboard/").content.decode()
        assert f"stuck at block {block} ({cursor.failures} failed scans" in page

        del proxy.rewrites["eth_getLogs"]  # the node answers properly again
        cursor = _watch_again(chain_network, node)
        assert cursor.failures == 0 and cursor.block_number >= block
        assert _eth_credited(chain_network, user.address) == ONE
        health = client.get("/healthz").json()["checks"][f"watcher:{chain_network.id}"]
        assert health["ok"] is True


# ---- a reorganisation across a deposit not yet confirmed --------------------------------


def test_a_deposit_a_reorg_removes_before_its_confirmations_is_never_credited(
    chain_network, deployment
):
    chain_network.confirmations = 3
    chain_network.save()
    user = deployment.users[0]
    fork_point = deployment.node.snapshot()
    deposit_ether(deployment, user, ONE)
    deposits_watch_run(network=chain_network, client=deployment.client)
    deposit = Transfer.objects.get(kind="deposit", account=user.address)
    assert deposit.status == TransferStatus.PENDING  # seen, 1 confirmation of 3

    deployment.node.revert(fork_point)  # the block is replaced by a longer chain without it
    deployment.node.mine(5)
    for _ in range(2):
        deposits_watch_run(network=chain_network, client=deployment.client)

    deposit.refresh_from_db()
    assert deposit.status == TransferStatus.FAILED
    assert _eth_credited(chain_network, user.address) == 0
    assert not LedgerEntry.objects.filter(balance__account=user.address).exists()


# ---- time limits ---------------------------------------------------------------------------


def test_every_task_has_a_soft_and_a_hard_time_limit_below_the_chain_locks_ttl():
    from relayer.celery import app

    app.loader.import_default_modules()
    tasks = {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}
    assert "chain.tasks.deposits_watch" in tasks and "exchange.orders_expire" in tasks
    for name, task in tasks.items():
        soft = task.soft_time_limit or app.conf.task_soft_time_limit
        hard = task.time_limit or app.conf.task_time_limit
        assert soft and hard, name
        assert soft < hard < LOCK_TTL_SECONDS, name
