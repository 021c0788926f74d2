"""deploy_exchange, deploy_demo_tokens and add_token against anvil."""

import pytest
from django.core.management import CommandError, call_command

from chain.client import ETHER, ExchangeClient
from exchange.models import Market, Network, Token

pytestmark = pytest.mark.django_db


@pytest.fixture
def local_network(deployment, settings):
    settings.OPERATOR_PRIVATE_KEY = deployment.operator.key
    return Network.objects.create(id=31337, name="Local", rpc_url=deployment.node.rpc_url)


def test_deploy_exchange_deploys_records_the_address_and_makes_the_operator_admin(
    deployment, local_network
):
    call_command(
        "deploy_exchange", "--network", "31337", "--fee-account", deployment.fee_account.address
    )

    local_network.refresh_from_db()
    address = local_network.exchange_address
    assert address and address != deployment.exchange
    client = ExchangeClient(rpc_url=deployment.node.rpc_url, exchange_address=address)
    assert client.is_admin(deployment.operator.address)
    assert client.call("Exchange", address, "feeAccount").lower() == deployment.fee_account.address
    assert client.call("Exchange", address, "inactivityReleasePeriod") == 100_000


def test_deploy_exchange_sets_the_rpc_url_and_inactivity_period(deployment, local_network):
    local_network.rpc_url = ""
    local_network.save()
    call_command(
        "deploy_exchange",
        "--network",
        "31337",
        "--rpc-url",
        deployment.node.rpc_url,
        "--inactivity-blocks",
        "50",
    )
    local_network.refresh_from_db()
    assert local_network.rpc_url == deployment.node.rpc_url
    client = ExchangeClient(rpc_url=deployment.node.rpc_url)
    assert client.call("Exchange", local_network.exchange_address, "inactivityReleasePeriod") == 50


def test_deploy_exchange_refuses_an_unknown_network_or_a_missing_key(
    deployment, local_network, settings
):
    with pytest.raises(CommandError, match="no network 5"):
        call_command("deploy_exchange", "--network", "5")
    settings.OPERATOR_PRIVATE_KEY = ""
    with pytest.raises(CommandError, match="no operator key"):
        call_command("deploy_exchange", "--network", "31337")


def test_deploy_demo_tokens_lists_tst_and_six_with_markets_and_mints_to_accounts_1_to_4(
    deployment, local_network
):
    call_command("deploy_demo_tokens", "--network", "31337")

    tokens = {token.symbol: token for token in Token.objects.filter(network=local_network)}
    assert set(tokens) == {"ETH", "TST", "SIX"}
    assert (tokens["TST"].decimals, tokens["SIX"].decimals) == (18, 6)
    # A settlement costs 0.01 of each demo token: dust fills are refused (issue #13).
    assert (tokens["TST"].trade_gas_fee, tokens["SIX"].trade_gas_fee) == (10**16, 10**4)
    assert tokens["ETH"].trade_gas_fee == 0
    assert tokens["ETH"].address == ETHER
    assert sorted(market.name for market in Market.objects.filter(network=local_network)) == [
        "ETH_SIX",
        "ETH_TST",
    ]
    for account in deployment.users:
        assert (
            deployment.client.call("TestToken", tokens["SIX"].address, "balanceOf", account.address)
            == 10**12
        )
        assert (
            deployment.client.call("TestToken", tokens["TST"].address, "balanceOf", account.address)
            == 10**24
        )

    call_command("deploy_demo_tokens", "--network", "31337")  # again: nothing new
    assert Token.objects.filter(network=local_network).count() == 3
    assert Market.objects.filter(network=local_network).count() == 2


def test_add_token_reads_symbol_name_and_decimals_from_chain(deployment, local_network):
    call_command(
        "add_token", "--network", "31337", "--address", deployment.usdt.upper().replace("0X", "0x")
    )

    token = Token.objects.get(network=local_network, symbol="USDT")
    assert (token.name, token.decimals, token.address) == ("Tether-like", 6, deployment.usdt)


def test_add_token_refuses_a_bad_address_a_non_token_and_a_duplicate(deployment, local_network):
    with pytest.raises(CommandError, match="not an Ethereum address"):
        call_command("add_token", "--network", "31337", "--address", "0x1234")
    with pytest.raises(CommandError, match="could not read the token"):
        call_command("add_token", "--network", "31337", "--address", deployment.users[0].address)
    call_command("add_token", "--network", "31337", "--address", deployment.tst)
    with pytest.raises(CommandError):
        call_command("add_token", "--network", "31337", "--address", deployment.tst)
    assert Token.objects.filter(network=local_network).count() == 1
