"""Registers an ERC-20 already on chain, reading its symbol, name and decimals."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from chain.client import ChainError, exchange_client
from chain.deployment import token_add
from chain.management.commands.deploy_exchange import _network
from exchange.validators import validate_address


class Command(BaseCommand):
    help = "Register the ERC-20 at --address on --network (symbol, name, decimals from chain)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--network", type=int, required=True)
        parser.add_argument("--address", required=True)

    def handle(self, *args: str, network: int, address: str, **options: object) -> None:
        row = _network(network, None)
        try:
            validate_address(address)
            token = token_add(network=row, client=exchange_client(row), address=address)
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        except (ChainError, ValueError) as error:
            raise CommandError(f"could not read the token: {error}") from None
        self.stdout.write(
            f"token={token.symbol} name={token.name!r} decimals={token.decimals} address={token.address}"
        )
