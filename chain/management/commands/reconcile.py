"""Compares the off-chain ledger with the exchange contract (chain/reconciliation.py):
prints every difference and exits with status 1 if there is any (or the node cannot be
read). Each run is recorded as a ReconciliationRun, which the admin lists."""

import sys

from django.core.management.base import BaseCommand, CommandError, CommandParser

from chain.client import exchange_client
from chain.reconciliation import Difference, reconciliation_run
from chain.tasks import _chain_networks


class Command(BaseCommand):
    help = "Reconcile the ledger with the contract; exit 1 on any difference."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--network", type=int, help="Only this network id.")

    def handle(self, *args: str, network: int | None = None, **options: object) -> None:
        networks = _chain_networks()
        if network is not None:
            networks = networks.filter(pk=network)
            if not networks.exists():
                raise CommandError(
                    f"network {network} is unknown, disabled, or has no RPC URL or contract"
                )
        failed = False
        for row in networks:
            run = reconciliation_run(network=row, client=exchange_client(row))
            if run.error:
                failed = True
                self.stderr.write(f"network {row.id}: could not reconcile: {run.error}")
                continue
            differences = run.difference_list
            header = (
                f"network {row.id} at block {run.block_number}: "
                f"{run.balances_checked} balances checked, {len(differences)} difference(s)"
            )
            if not differences:
                self.stdout.write(self.style.SUCCESS(header))
                continue
            failed = True
            self.stdout.write(self.style.ERROR(header))
            for item in differences:
                self.stdout.write(f"  {Difference(**item)}")
        if failed:
            sys.exit(1)
