"""One node transport: every node call, batches and health checks included, goes through
ExchangeClient (web3's HTTPProvider) and honours the client's one timeout."""

import pytest

from chain import rpc_batch
from chain.client import ChainUnavailable, ExchangeClient, node_head
from relayer.ports import free_port
from tests.edge.test_health_cache import SilentNode


@pytest.fixture
def silent_node():
    node = SilentNode()
    yield node
    node.close()


def test_a_batch_to_a_silent_node_ends_at_the_clients_timeout(silent_node):
    client = ExchangeClient(rpc_url=silent_node.url, timeout=1)

    with pytest.raises(ChainUnavailable):
        rpc_batch.batch(client, [("eth_blockNumber", []), ("eth_chainId", [])])

    assert silent_node.accepted == 1  # one request, no retries


def test_the_node_check_is_the_clients(deployment):
    assert node_head(deployment.node.rpc_url, timeout=1) == deployment.client.head()


def test_the_node_check_of_a_node_that_is_not_there_is_chain_unavailable():
    with pytest.raises(ChainUnavailable):
        node_head(f"http://127.0.0.1:{free_port()}", timeout=1)


def test_the_node_check_of_a_silent_node_ends_at_its_timeout(silent_node):
    with pytest.raises(ChainUnavailable):
        node_head(silent_node.url, timeout=1)
