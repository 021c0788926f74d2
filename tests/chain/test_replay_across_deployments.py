"""Issue #13, finding 2: signatures replayed across deployments. Two anvil chains with
other chain ids (31338, 31339), fresh, so the operator key has the same nonce on both: a
plain CREATE would put the exchange at the same address on both. deploy_exchange binds
the address to the chain (CREATE2, chain-id salt), and a signature made for one
deployment is refused on the other, by the API and by the contract."""

import pytest
from django.core.exceptions import ValidationError as ModelValidationError
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.urls import reverse
from eth_account import Account

from chain.anvil import start_anvil, stop_anvil
from chain.client import ETHER, ContractReverted, ExchangeClient
from exchange.models import Market, Network, Token
from exchange.protocol import hashing
from tests.factories import NetworkFactory
from tests.signing import signed_order

pytestmark = pytest.mark.django_db

ONE = 10**18


@pytest.fixture(scope="module")
def two_chains():
    nodes = [start_anvil(chain_id=31338), start_anvil(chain_id=31339)]
    try:
        yield nodes
    finally:
        for node in nodes:
            stop_anvil(node)


@pytest.fixture
def deployed(two_chains, settings, db):
    """deploy_exchange on both chains, from the same operator key (account 0)."""
    operator = two_chains[0].accounts[0]
    settings.OPERATOR_PRIVATE_KEY = operator.key
    snapshots = [node.snapshot() for node in two_chains]
    networks = []
    for node in two_chains:
        network = Network.objects.create(id=node.chain_id, name=f"chain {node.chain_id}")
        call_command("deploy_exchange", "--network", str(node.chain_id), "--rpc-url", node.rpc_url)
        network.refresh_from_db()
        ether = Token.objects.create(
            network=network, address=ETHER, symbol="ETH", name="Ether", decimals=18
        )
        other = Token.objects.create(
            network=network, address="0x" + "11" * 20, symbol="OTH", name="Other", decimals=18
        )
        Market.objects.create(network=network, base=ether, quote=other)
        networks.append(network)
    yield networks
    for node, snapshot in zip(two_chains, snapshots, strict=True):
        node.revert(snapshot)


def test_the_same_operator_key_deploys_to_a_different_address_on_each_chain(two_chains, deployed):
    first, second = deployed
    assert first.exchange_address and second.exchange_address
    assert first.exchange_address != second.exchange_address
    # Same key, same nonce, same code and salt: only the chain id told them apart.
    assert [
        node.rpc("eth_getTransactionCount", [two_chains[0].accounts[0].address, "latest"])
        for node in two_chains
    ] == ["0x2", "0x2"]
    operator = two_chains[0].accounts[0].address
    for node, network in zip(two_chains, deployed, strict=True):
        client = ExchangeClient(rpc_url=node.rpc_url, exchange_address=network.exchange_address)
        assert client.is_admin(operator)
        assert client.call("Exchange", network.exchange_address, "owner").lower() == operator


def test_an_order_signed_for_one_deployment_is_refused_on_the_other(two_chains, deployed, api):
    first, second = deployed
    maker = Account.create()
    order = signed_order(
        maker,
        contract=first.exchange_address,
        give_token=ETHER,
        give_amount=ONE,
        take_token="0x" + "11" * 20,
        take_amount=100 * ONE,
    )
    replayed = {key: value for key, value in order.items() if key != "orderHash"}

    response = api.post(f"/create_orders?networkId={second.id}", replayed, format="json")

    assert response.status_code == 400
    [error] = response.json()["validationErrors"]
    assert (error["field"], error["code"]) == ("signature", 1005)
    assert f"not to {maker.address.lower()}" in error["reason"]


def test_a_withdrawal_signed_for_one_deployment_is_refused_by_the_other_contract(
    two_chains, deployed
):
    first, second = deployed
    user = two_chains[1].accounts[1]
    operator = two_chains[1].accounts[0]
    client = ExchangeClient(
        rpc_url=two_chains[1].rpc_url,
        exchange_address=second.exchange_address,
        operator_key=operator.key,
    )
    client.transact("Exchange", second.exchange_address, "deposit", value=ONE, private_key=user.key)
    nonce = 1_700_000_000_000
    for_first = hashing.withdraw_hash(
        contract=first.exchange_address, token=ETHER, amount=ONE, account=user.address, nonce=nonce
    )

    with pytest.raises(ContractReverted, match="bad signature"):
        client.prepare_admin_withdraw(
            token=ETHER,
            amount=ONE,
            user=user.address,
            nonce=nonce,
            signature=user.sign_hash(for_first),
            fee=0,
        )
    assert client.balance_of(ETHER, user.address) == ONE


def test_deploy_exchange_refuses_a_node_of_another_chain(two_chains, settings):
    settings.OPERATOR_PRIVATE_KEY = two_chains[0].accounts[0].key
    Network.objects.create(id=5, name="Goerli, they said", rpc_url=two_chains[0].rpc_url)

    with pytest.raises(CommandError, match="is chain 31338, not network 5"):
        call_command("deploy_exchange", "--network", "5")

    assert Network.objects.get(id=5).exchange_address == ""


def test_two_networks_cannot_share_an_exchange_address(admin_client):
    address = "0x" + "ab" * 20
    NetworkFactory(id=7001, exchange_address=address)
    twin = Network(id=7002, name="twin", exchange_address=address)

    with pytest.raises(ModelValidationError, match="signatures made for one deployment"):
        twin.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        Network.objects.create(id=7002, name="twin", exchange_address=address)
    response = admin_client.post(
        reverse("admin:exchange_network_add"),
        {"id": 7003, "name": "twin", "exchange_address": address, "confirmations": 2},
    )
    assert response.status_code == 200  # the form again, with the error
    assert "signatures made for one deployment" in response.content.decode()
    assert not Network.objects.filter(id=7003).exists()
