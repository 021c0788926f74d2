"""Deploys the exchange contract on a network with the operator key and records it."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from chain.client import ChainError, exchange_client
from chain.deployment import DEFAULT_INACTIVITY_BLOCKS, exchange_deploy
from exchange.models import Network


class Command(BaseCommand):
    help = "Deploy the Exchange contract (owner and admin: the operator key) on a network."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--network", type=int, required=True, help="The network (chain) id.")
        parser.add_argument("--rpc-url", help="Set the network's RPC URL first.")
        parser.add_argument("--fee-account", help="Where fees go; default: the operator.")
        parser.add_argument(
            "--inactivity-blocks",
            type=int,
            default=DEFAULT_INACTIVITY_BLOCKS,
            help="Blocks without activity after which a user may withdraw directly.",
        )

    def handle(
        self,
        *args: str,
        network: int,
        rpc_url: str | None,
        fee_account: str | None,
        inactivity_blocks: int,
        **options: object,
    ) -> None:
        row = _network(network, rpc_url)
        try:
            address = exchange_deploy(
                network=row,
                client=exchange_client(row),
                fee_account=fee_account,
                inactivity_blocks=inactivity_blocks,
            )
        except (ChainError, ValueError) as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"network={row.id} exchange={address}")


def _network(network_id: int, rpc_url: str | None) -> Network:
    try:
        row = Network.objects.get(pk=network_id)
    except Network.DoesNotExist:
        raise CommandError(
            f"no network {network_id}: create it in the admin (or run seed_demo for 31337)"
        ) from None
    if rpc_url:
        row.rpc_url = rpc_url
        row.save(update_fields=["rpc_url", "updated_at"])
    if not row.rpc_url:
        raise CommandError(f"network {network_id} has no RPC URL: pass --rpc-url")
    return row
