"""The node itself stops after the operator's transaction was sent and comes back
without it (its pool is gone): the worker finds out and the user is paid exactly once."""

import pytest

from chain.anvil import AnvilNode, start_anvil, stop_anvil
from chain.client import ETHER, ChainUnavailable, ExchangeClient
from chain.watcher import deposits_watch_run
from chain.withdrawals import withdrawals_confirm_run, withdrawals_dispatch_run
from exchange.models import Balance, Network, Token, Transfer
from exchange.protocol import hashing
from exchange.services.withdrawals import withdrawal_request
from relayer.ports import free_port
from tests.anvil import CHAIN_ID, deploy
from tests.chain.contract import ONE, deposit_ether, token_balance
from tests.signing import next_nonce

pytestmark = pytest.mark.django_db

FEE = ONE // 100


@pytest.fixture
def own_node(tmp_path):
    port, state = free_port(), ("--state", str(tmp_path / "state.json"))
    nodes = [start_anvil(port=port, extra_args=state)]

    def restart() -> AnvilNode:
        stop_anvil(nodes[-1])
        nodes.append(start_anvil(port=port, extra_args=state))
        return nodes[-1]

    try:
        yield nodes[0], restart
    finally:
        stop_anvil(nodes[-1])


def test_a_node_restarted_without_the_sent_transaction_pays_the_user_once(own_node, settings):
    node, restart = own_node
    deployment = deploy(node)
    settings.FEE_ACCOUNT = deployment.fee_account.address
    network = Network.objects.create(
        id=CHAIN_ID,
        name="Own anvil",
        rpc_url=node.rpc_url,
        exchange_address=deployment.exchange,
        confirmations=1,
    )
    Token.objects.create(
        network=network, address=ETHER, symbol="ETH", name="Ether", decimals=18, withdrawal_fee=FEE
    )
    user = deployment.users[0]
    deposit_ether(deployment, user, 3 * ONE)
    deposits_watch_run(network=network, client=deployment.client)
    nonce = next_nonce()
    digest = hashing.withdraw_hash(
        contract=deployment.exchange, token=ETHER, amount=ONE, account=user.address, nonce=nonce
    )
    withdrawal = withdrawal_request(
        network=network,
        account=user.address,
        token_address=ETHER,
        amount=ONE,
        nonce=nonce,
        signature=user.sign_hash(digest),
    )
    wallet_before = token_balance(deployment, ETHER, user.address)
    operator_nonce_before = deployment.client.nonce(deployment.operator.address, pending=False)

    node.rpc("evm_setAutomine", [False])  # sent, but not mined before the node stops
    assert withdrawals_dispatch_run(network=network, client=deployment.client).sent == [
        withdrawal.id
    ]
    sent_hash = Transfer.objects.get(id=withdrawal.id).transaction_hash
    stop_anvil(node)
    with pytest.raises(ChainUnavailable):
        withdrawals_confirm_run(network=network, client=deployment.client)

    node = restart()
    client = ExchangeClient(
        rpc_url=node.rpc_url,
        exchange_address=deployment.exchange,
        operator_key=deployment.operator.key,
    )
    assert client.receipt(sent_hash) is None
    assert client.rpc("eth_getTransactionByHash", [sent_hash]) is None  # the pool is gone

    assert withdrawals_confirm_run(network=network, client=client).resent == [withdrawal.id]
    client.wait_for_receipt(sent_hash)
    for _ in range(3):
        withdrawals_confirm_run(network=network, client=client)
        withdrawals_dispatch_run(network=network, client=client)

    withdrawal.refresh_from_db()
    assert (withdrawal.status, withdrawal.transaction_hash) == ("COMPLETE", sent_hash)
    assert client.nonce(deployment.operator.address, pending=False) == operator_nonce_before + 1
    assert client.ether_balance(user.address) == wallet_before + ONE - FEE
    assert client.balance_of(ETHER, user.address) == 2 * ONE
    balance = Balance.objects.get(account=user.address)
    assert (balance.total, balance.held) == (2 * ONE, 0)
