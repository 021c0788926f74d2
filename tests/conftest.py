import time

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from exchange.api import rate_counters
from exchange.api.markets import markets_forget
from exchange.api.networks import networks_forget
from exchange.selectors.access import rate_limits_forget
from tests.factories import FeeScheduleFactory, MarketFactory, NetworkFactory, TokenFactory

# The local Ethereum node and the deployed exchange; signing helpers and funded traders;
# trading helpers (maker and taker fixtures); an exchange on anvil (tests/chain/settling.py);
# a real Celery worker process (tests/celery_worker.py).
pytest_plugins = [
    "tests.anvil",
    "tests.signing",
    "tests.trading",
    "tests.chain.settling",
    "tests.celery_worker",
]


def pytest_addoption(parser):
    parser.addoption(
        "--clock-shift-days",
        type=int,
        default=0,
        help="run each test with the clock moved this many days ahead (time-machine), to "
        "find date bombs; tests marked real_clock keep the real clock",
    )


@pytest.fixture(autouse=True)
def _clock_shift(request):
    """--clock-shift-days N: the test runs N days in the future (the clock keeps ticking
    from there). Tests that compare with something outside this process's clock (anvil's
    block timestamps, a server's) are marked real_clock and run on the real one."""
    days = request.config.getoption("--clock-shift-days")
    if not days or request.node.get_closest_marker("real_clock"):
        yield
        return
    import datetime

    import time_machine

    destination = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=days)
    with time_machine.travel(destination, tick=True):
        yield


def pytest_collection_modifyitems(config, items):
    """On SQLite (make test-sqlite), tests marked postgres_only are skipped."""
    from django.db import connection

    if connection.vendor == "postgresql":
        return
    skip = pytest.mark.skip(reason="postgres_only: needs PostgreSQL, not " + connection.vendor)
    for item in items:
        if item.get_closest_marker("postgres_only"):
            item.add_marker(skip)


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


@pytest.fixture(autouse=True)
def _fresh_rate_limits(monkeypatch):
    """Each test starts with no rate-limit counters and re-reads the policy rows. The
    counters' clock stands still, so no fixed window can end in the middle of a test."""
    frozen = time.time()
    monkeypatch.setattr(rate_counters, "clock", lambda: int(frozen))
    cache.clear()
    rate_limits_forget()
    networks_forget()
    markets_forget()
    yield
    rate_limits_forget()
    networks_forget()
    markets_forget()
