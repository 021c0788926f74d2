"""Deploys the demo tokens TST and SIX on a local node and lists ETH_TST and ETH_SIX."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from chain.client import ChainError, exchange_client
from chain.deployment import demo_tokens_deploy
from chain.management.commands.deploy_exchange import _network


class Command(BaseCommand):
    help = (
        "Deploy TST (18 decimals) and SIX (6 decimals), mint 1,000,000 of each to the node's "
        "dev accounts 1-4, and register the tokens and the markets ETH_TST and ETH_SIX."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--network", type=int, default=31337)
        parser.add_argument("--rpc-url", help="Set the network's RPC URL first.")

    def handle(self, *args: str, network: int, rpc_url: str | None, **options: object) -> None:
        row = _network(network, rpc_url)
        client = exchange_client(row)
        try:
            holders = [address.lower() for address in client.rpc("eth_accounts", [])[1:5]]
            tokens = demo_tokens_deploy(network=row, client=client, holders=holders)
        except (ChainError, ValueError) as error:
            raise CommandError(str(error)) from None
        for token in tokens:
            self.stdout.write(f"token={token.symbol} address={token.address}")
        self.stdout.write(f"minted to: {', '.join(holders)}")
