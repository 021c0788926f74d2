"""Runs the chain workers in the foreground, without Celery: the deposit watcher, the
withdrawal dispatcher, the withdrawal confirmer and the trade settler of every enabled network with an RPC
URL and an exchange contract (or one, --network), once or every --interval seconds.
They take the same per-network locks as the Celery tasks, so running both is safe."""

import time

from django.core.management.base import BaseCommand, CommandParser

from chain.tasks import (
    _chain_networks,
    deposits_watch,
    trades_settle,
    withdrawals_confirm,
    withdrawals_dispatch,
)


class Command(BaseCommand):
    help = "Watch deposits, send and confirm withdrawals, settle trades, in the foreground."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--network", type=int, help="Only this network id.")
        parser.add_argument(
            "--interval", type=float, default=0, help="Repeat every N seconds (default: once)."
        )

    def handle(
        self, *args: str, network: int | None = None, interval: float = 0, **options: object
    ) -> None:
        while True:
            networks = _chain_networks()
            if network is not None:
                networks = networks.filter(pk=network)
            for network_id in networks.values_list("id", flat=True):
                # Calling a task runs it here, in this process.
                deposits_watch(network_id)
                withdrawals_dispatch(network_id)
                withdrawals_confirm(network_id)
                trades_settle(network_id)
                self.stdout.write(f"network {network_id}: ran the chain workers")
            if not interval:
                return
            time.sleep(interval)
