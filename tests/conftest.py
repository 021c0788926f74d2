import pytest
from rest_framework.test import APIClient

from tests.factories import FeeScheduleFactory, MarketFactory, NetworkFactory, TokenFactory


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def network(settings):
    network = NetworkFactory(id=31337, name="Local", exchange_address="0x" + "ab" * 20)
    settings.DEFAULT_NETWORK_ID = network.id
    return network


@pytest.fixture
def ether(network):
    return TokenFactory(network=network, ether=True)


@pytest.fixture
def token(network):
    return TokenFactory(network=network, symbol="TST", name="Test Token", decimals=18)


@pytest.fixture
def market(network, ether, token):
    return MarketFactory(network=network, base=ether, quote=token)


@pytest.fixture
def fees(network):
    return FeeScheduleFactory(network=network)


# Shared signing fixtures (tests/signing.py).
from tests.signing import fund, trader  # noqa: E402, F401
from tests.trading import maker, taker  # noqa: E402, F401
