"""The suite's own node: when anvil comes back from evm_revert broken, the `deployment`
fixture (tests/anvil.py) replaces it with a fresh node on the same port and the same
deployment, and the next test finds the chain as every test expects it."""

from chain.client import ETHER
from tests.anvil import _head, _redeploy
from tests.chain.contract import ONE, deposit_ether


def test_a_replaced_node_serves_the_same_deployment_at_the_same_head(
    chain_deployment, deployed_number
):
    node = chain_deployment.node
    user = chain_deployment.users[0]
    deposit_ether(chain_deployment, user, ONE)
    node.mine(5)
    old_process = node.process

    _redeploy(chain_deployment)

    assert node.process is not old_process and old_process.poll() is not None
    number, block_hash = _head(node)
    assert number == deployed_number and block_hash is not None
    assert chain_deployment.client.balance_of(ETHER, user.address) == 0
    assert deposit_ether(chain_deployment, user, ONE).succeeded
    assert chain_deployment.client.balance_of(ETHER, user.address) == ONE
    node.revert(node.snapshot())  # snapshots work on the new node
    _redeploy(chain_deployment)  # the next test starts from the deployment, untouched
