"""The chain workers against a sick node (tests/reliability/nodes.py, in front of the
suite's real anvil): no node call while a database transaction (the operator nonce row
lock) is open, one HTTP request per node call within its timeout, a watcher that backs
off and halves its range on a node error instead of retrying the same block for ever.

The same faults under a real Celery worker (killed mid-send, node down, silent node)
are in tests/reliability/test_chain_worker_faults.py.
"""

import psycopg
import pytest
from django.db import connection

from chain.client import ChainUnavailable, ExchangeClient
from chain.rpc_batch import batch
from chain.withdrawals import withdrawals_confirm_run, withdrawals_dispatch_run
from exchange.models import SettlementStatus, Trade, TransferStatus
from tests.chain.contract import ONE
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
