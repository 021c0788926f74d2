"""A local Ethereum node for the tests: one anvil per test session, one deployment of the
exchange and test tokens on it, and a snapshot per test so every test starts from that state.

Fixtures (registered in tests/conftest.py):
- `anvil` (session): an `AnvilNode` (rpc_url, chain_id, accounts: 10 funded `DevAccount`s).
- `chain_deployment` (session): a `Deployment`: the Exchange (admin and operator: account 0,
  fee account: account 9, inactivity period INACTIVITY_BLOCKS) and three tokens, with
  1,000,000 of each minted to accounts 1-4; `client` is an ExchangeClient whose operator is
  account 0.
- `deployment` (function): the same Deployment, with the chain reverted to it after the test
  (evm_snapshot / evm_revert).
- `chain_network` (function, db): a Network row for the anvil node and the deployment
  (confirmations 1) with Token rows ETH, TST (18 decimals), SIX (6 decimals).
"""

from __future__ import annotations

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


@pytest.fixture
def deployment(chain_deployment: Deployment):
    snapshot = chain_deployment.node.snapshot()
    try:
        yield chain_deployment
    finally:
        chain_deployment.node.revert(snapshot)


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
