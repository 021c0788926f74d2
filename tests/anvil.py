"""A local Ethereum node for the tests: one anvil per test session, one deployment of the
exchange and test tokens on it, and a snapshot per test so every test starts from that state.

Fixtures (registered in tests/conftest.py):
- `anvil` (session): an `AnvilNode` (rpc_url, chain_id, accounts: 10 funded `DevAccount`s).
- `chain_deployment` (session): a `Deployment`: the Exchange (admin and operator: account 0,
  fee account: account 9, inactivity period INACTIVITY_BLOCKS) and three tokens, with
  1,000,000 of each minted to accounts 1-4; `client` is an ExchangeClient whose operator is
  account 0.
- `deployment` (function): the same Deployment, with the chain reverted to it after the test
  (evm_snapshot / evm_revert), and checked: anvil 1.7.1 has, rarely and only under load (seen
  in CI, never reproduced on a quiet machine), come back from evm_revert with its head number
  left high and the blocks above the snapshot gone, so that every later test reading a block
  by number got null. The fixture compares the head's number and hash with the snapshot's;
  on a mismatch it warns, naming the test, and starts a fresh node on the same port with the
  same deployment (same addresses: a fresh chain and the same deployer nonces).
- `chain_network` (function, db): a Network row for the anvil node and the deployment
  (confirmations 1) with Token rows ETH, TST (18 decimals), SIX (6 decimals).
"""

from __future__ import annotations

import warnings

import pytest

from chain.anvil import (  # noqa: F401  (re-exported for the tests)
    CHAIN_ID,
    INACTIVITY_BLOCKS,
    MINTED,
    Deployment,
    DevAccount,
    deploy,
    start_anvil,
    stop_anvil,
)
from chain.client import ETHER


@pytest.fixture(scope="session")
def anvil():
    node = start_anvil()
    try:
        yield node
    finally:
        stop_anvil(node)


@pytest.fixture(scope="session")
def chain_deployment(anvil) -> Deployment:
    return deploy(anvil)


def _head(node) -> tuple[int, str | None]:
    """The head's number and hash; the hash is None if the node cannot serve the head block
    or the one below it (the broken state seen after evm_revert)."""
    number = int(node.rpc("eth_blockNumber"), 16)
    blocks = [
        node.rpc("eth_getBlockByNumber", [hex(n), False]) for n in {number, max(0, number - 1)}
    ]
    return number, blocks[0]["hash"] if all(blocks) else None


def _redeploy(deployment: Deployment) -> None:
    """A fresh node on the same port, the process swapped in place (every client keeps its
    URL), and the same contracts at the same addresses."""
    node = deployment.node
    port = int(node.rpc_url.rsplit(":", 1)[1])
    stop_anvil(node)
    node.process = start_anvil(port=port, chain_id=node.chain_id).process
    fresh = deploy(node)
    assert (fresh.exchange, fresh.tst, fresh.six, fresh.usdt) == (
        deployment.exchange,
        deployment.tst,
        deployment.six,
        deployment.usdt,
    )


@pytest.fixture(scope="session")
def deployed_number(chain_deployment: Deployment) -> int:
    return _head(chain_deployment.node)[0]


@pytest.fixture
def deployment(request, chain_deployment: Deployment, deployed_number: int):
    node = chain_deployment.node
    before = _head(node)
    if before[1] is None:
        _replace_broken_node(chain_deployment, f"before {request.node.nodeid}", before)
        before = _head(node)
    snapshot = node.snapshot()
    try:
        yield chain_deployment
    finally:
        try:
            node.revert(snapshot)
            after = _head(node)
        except RuntimeError as error:
            after = (-1, str(error))
        if after != before:
            _replace_broken_node(chain_deployment, f"after {request.node.nodeid}", after)
            # Chain state set up outside this test (a module's snapshot) is gone with it.
            assert before[0] == deployed_number, "a module-scoped chain fixture lost its state"


def _replace_broken_node(deployment: Deployment, when: str, head: tuple[int, str | None]) -> None:
    warnings.warn(
        f"anvil's chain was broken {when} (head {head}): a fresh node replaces it",
        stacklevel=2,
    )
    _redeploy(deployment)


@pytest.fixture
def chain_network(db, deployment: Deployment):
    from exchange.models import Network, Token

    network = Network.objects.create(
        id=CHAIN_ID,
        name="Local (anvil)",
        rpc_url=deployment.node.rpc_url,
        exchange_address=deployment.exchange,
        confirmations=1,
    )
    Token.objects.create(network=network, address=ETHER, symbol="ETH", name="Ether", decimals=18)
    Token.objects.create(
        network=network, address=deployment.tst, symbol="TST", name="Test Token", decimals=18
    )
    Token.objects.create(
        network=network, address=deployment.six, symbol="SIX", name="Six Decimals", decimals=6
    )
    return network
