"""Putting contracts on a chain and registering them: the exchange, demo tokens, a listed
token. Used by the deploy_exchange, deploy_demo_tokens and add_token commands."""

from django.db import transaction
from eth_hash.auto import keccak

from chain.client import ETHER, ExchangeClient
from exchange.models import Market, Network, Token

# About two weeks of 12-second blocks: long enough that the operator is clearly gone.
DEFAULT_INACTIVITY_BLOCKS = 100_000
# The caller's part of the CREATE2 salt (the deployer adds the chain id and the caller).
DEFAULT_SALT = bytes(32)
DEMO_TOKENS = (("TST", "Test Token", 18), ("SIX", "Six Decimals", 6))
# The demo tokens' trade gas fee, in whole-token hundredths (0.01 TST, 0.01 SIX): what one
# settlement costs in that token. A fill pays it (when the maker gives the token) or pays
# at least as much in maker fee (when the maker takes it); one that cannot is dust and is
# refused (Market.allow_unpaid_settlement off). Ether keeps 0: the walk-through's numbers.
DEMO_GAS_FEE_HUNDREDTHS = 1
DEMO_MINT_WHOLE_TOKENS = 1_000_000


class DeploymentRefused(ValueError):
    """The exchange would not be bound to this network alone."""


def exchange_deploy(
    *,
    network: Network,
    client: ExchangeClient,
    fee_account: str | None = None,
    inactivity_blocks: int = DEFAULT_INACTIVITY_BLOCKS,
    salt: bytes = DEFAULT_SALT,
) -> str:
    """Deploys the Exchange with the operator key (owner and admin) and records its address.

    PROTOCOL.md's rule "one contract address, one deployment": every signature covers the
    exchange's address, so the same address on two networks would let a signature made
    for one be replayed on the other. The exchange is created through a fresh
    ExchangeDeployer with CREATE2 and a salt bound to the chain id (the contract binds it:
    keccak256(chainid, caller, salt)), so the same operator key lands on another address on
    every chain; the node must be the network's chain, and no other network may already
    use the address (Network's unique constraint refuses it too)."""
    operator = client.operator_address
    if operator is None:
        raise ValueError("no operator key: set OPERATOR_PRIVATE_KEY or OPERATOR_PRIVATE_KEY_FILE")
    chain_id = client.chain_id()
    if chain_id != network.id:
        raise DeploymentRefused(
            f"the node at {network.rpc_url} is chain {chain_id}, not network {network.id}: "
            "a network's id is its chain id"
        )
    deployer = client.deploy("ExchangeDeployer")
    init_code = client.creation_code("Exchange", fee_account or operator, inactivity_blocks)
    address: str = client.call(
        "ExchangeDeployer", deployer, "addressOf", keccak(init_code), salt, operator
    ).lower()
    taken = Network.objects.exclude(pk=network.pk).filter(exchange_address=address).first()
    if taken is not None:
        raise DeploymentRefused(f"network {taken.id} already uses the address {address}")
    client.transact("ExchangeDeployer", deployer, "deploy", init_code, salt)
    with transaction.atomic():
        network = Network.objects.select_for_update().get(pk=network.pk)
        network.exchange_address = address
        network.save(update_fields=["exchange_address", "updated_at"])
    return address


def ether_get_or_create(*, network: Network) -> Token:
    token, _ = Token.objects.get_or_create(
        network=network,
        address=ETHER,
        defaults={"symbol": "ETH", "name": "Ether", "decimals": 18},
    )
    return token


def demo_tokens_deploy(
    *, network: Network, client: ExchangeClient, holders: list[str]
) -> list[Token]:
    """Deploys TST (18 decimals) and SIX (6), mints each holder 1,000,000 of each, and
    registers the tokens (trade gas fee 0.01 of each) and the markets ETH_TST and ETH_SIX. A token whose symbol the
    network already has is not deployed again."""
    ether = ether_get_or_create(network=network)
    tokens = []
    for symbol, name, decimals in DEMO_TOKENS:
        token = Token.objects.filter(network=network, symbol=symbol).first()
        if token is None:
            address = client.deploy("TestToken", name, symbol, decimals)
            for holder in holders:
                client.transact(
                    "TestToken", address, "mint", holder, DEMO_MINT_WHOLE_TOKENS * 10**decimals
                )
            token = Token.objects.create(
                network=network,
                address=address,
                symbol=symbol,
                name=name,
                decimals=decimals,
                trade_gas_fee=DEMO_GAS_FEE_HUNDREDTHS * 10 ** (decimals - 2),
            )
        Market.objects.get_or_create(network=network, base=ether, quote=token)
        tokens.append(token)
    return tokens


def token_add(*, network: Network, client: ExchangeClient, address: str) -> Token:
    """Registers the ERC-20 at `address`, reading its symbol, name and decimals from chain."""
    info = client.token_info(address)
    token = Token(
        network=network,
        address=info.address,
        symbol=info.symbol,
        name=info.name[:64],
        decimals=info.decimals,
    )
    token.full_clean()
    token.save()
    return token
