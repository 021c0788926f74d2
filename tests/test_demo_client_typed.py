"""relayer.demo_client --typed against a live server: its orders, fills and withdrawals are
signed as EIP-712 typed data, and the server accepts and stores them as such."""

import io

import pytest

from exchange.models import Order, Trade, Transfer
from relayer import demo_client
from relayer.demo import DEV_ACCOUNTS
from relayer.demo_client import DemoClient, locate
from tests.factories import MarketFactory, TokenFactory

pytestmark = pytest.mark.django_db(transaction=True)

MAKER, TAKER = 1, 2


@pytest.fixture
def demo_env(live_server, network, ether, fees, fund):
    tst = TokenFactory(network=network, symbol="TST", name="Test Token", decimals=18)
    MarketFactory(network=network, base=ether, quote=tst)
    fund(DEV_ACCOUNTS[MAKER][0], ether, 10**18)
    fund(DEV_ACCOUNTS[TAKER][0], tst, 1000 * 10**18)
    # The API and a chain that no test reaches (orders, fills and withdrawals are API calls).
    return ["--api", live_server.url, "--rpc", "http://127.0.0.1:9"]


def test_typed_orders_fills_and_withdrawals_are_eip712(demo_env, capsys):
    typed = [*demo_env, "--typed"]
    assert demo_client.main([*typed, "order", "1", "ETH_TST", "buy", "100", "0.001", "-q"]) == 0
    order_hash = capsys.readouterr().out.strip()
    assert demo_client.main([*typed, "fill", "2", order_hash, "40"]) == 0
    client = DemoClient(locate(*demo_env[1::2]), out=io.StringIO(), typed=True)
    assert client.withdraw(MAKER, "ETH", "0.5", wait=False) == {"success": "0"}

    assert Order.objects.get(hash=order_hash).signature_type == "eip712"
    assert Trade.objects.get().signature_type == "eip712"
    assert Transfer.objects.get(kind="withdrawal").signature_type == "eip712"


def test_without_typed_it_signs_with_eth_sign(demo_env, capsys):
    assert demo_client.main([*demo_env, "order", "1", "ETH_TST", "buy", "100", "0.001", "-q"]) == 0
    order_hash = capsys.readouterr().out.strip()
    assert Order.objects.get(hash=order_hash).signature_type == "eth_sign"
