"""manage.py bootstrap without a chain call: an existing exchange registered, markets of
listed tokens, the operator login, and each refusal named (the production-shape test runs
it for real, deploying on anvil)."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from exchange.models import FeeSchedule, Market, Network, Token

pytestmark = pytest.mark.django_db
EXCHANGE = "0x" + "AB" * 20


@pytest.fixture
def env(monkeypatch, settings):
    settings.DEFAULT_NETWORK_ID = 777
    values = {
        "OPERATOR_PASSWORD": "first-password",
        "BOOTSTRAP_RPC_URL": "http://127.0.0.1:1",
        "BOOTSTRAP_EXCHANGE_ADDRESS": EXCHANGE,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def bootstrap() -> str:
    out = io.StringIO()
    call_command("bootstrap", stdout=out)
    return out.getvalue()


def test_it_sets_up_an_empty_database_once_and_then_changes_nothing(env):
    first = bootstrap()
    network = Network.objects.get(pk=777)
    assert (network.rpc_url, network.exchange_address) == ("http://127.0.0.1:1", EXCHANGE.lower())
    assert Token.objects.filter(network=network, symbol="ETH").count() == 1
    assert FeeSchedule.objects.filter(network=network).count() == 1
    operator = get_user_model().objects.get(username="operator")
    assert operator.is_superuser and operator.check_password("first-password")
    assert "operator login created" in first

    again = bootstrap()
    assert again.strip().splitlines() == first.strip().splitlines()[-1:]
    assert FeeSchedule.objects.filter(network=network).count() == 1
    assert get_user_model().objects.count() == 1


def test_the_password_follows_the_environment(env):
    bootstrap()
    env.setenv("OPERATOR_PASSWORD", "second-password")
    assert "password set from OPERATOR_PASSWORD" in bootstrap()
    assert get_user_model().objects.get(username="operator").check_password("second-password")


def test_markets_of_listed_tokens(env):
    bootstrap()
    network = Network.objects.get(pk=777)
    Token.objects.create(
        network=network, address="0x" + "cd" * 20, symbol="TKA", name="A", decimals=18
    )
    env.setenv("BOOTSTRAP_MARKETS", "ETH_TKA")
    assert "markets=ETH_TKA" in bootstrap()
    assert Market.objects.get(network=network).name == "ETH_TKA"
    env.setenv("BOOTSTRAP_MARKETS", "ETH_NOPE")
    with pytest.raises(CommandError, match="market ETH_NOPE: no token"):
        bootstrap()


def test_refusals_are_named(env):
    env.delenv("OPERATOR_PASSWORD")
    with pytest.raises(CommandError, match="OPERATOR_PASSWORD must be set"):
        bootstrap()
    env.setenv("OPERATOR_PASSWORD", "x")
    env.setenv("BOOTSTRAP_EXCHANGE_ADDRESS", "0x123")
    with pytest.raises(CommandError, match="not an address"):
        bootstrap()
    env.setenv("BOOTSTRAP_EXCHANGE_ADDRESS", EXCHANGE)
    bootstrap()
    env.setenv("BOOTSTRAP_EXCHANGE_ADDRESS", "0x" + "ef" * 20)
    with pytest.raises(CommandError, match="already has the exchange"):
        bootstrap()
