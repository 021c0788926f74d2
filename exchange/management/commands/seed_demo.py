"""Creates the demo reference data: the local network 31337, Ether, a fee schedule
and an operator login. Safe to run again: it changes nothing that exists."""

import secrets
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from exchange.models import FeeSchedule, Network, Token
from exchange.validators import ETHER_ADDRESS

LOCAL_NETWORK_ID = 31337


class Command(BaseCommand):
    help = "Create the demo network, Ether, a fee schedule and an operator login."

    def add_arguments(self, parser):
        parser.add_argument("--rpc-url", default="http://127.0.0.1:8545")
        parser.add_argument("--operator", default="operator")

    @transaction.atomic
    def handle(self, *args, rpc_url: str, operator: str, **options):
        network, _ = Network.objects.get_or_create(
            pk=LOCAL_NETWORK_ID,
            defaults={"name": "Local (anvil)", "rpc_url": rpc_url, "confirmations": 2},
        )
        Token.objects.get_or_create(
            network=network,
            address=ETHER_ADDRESS,
            defaults={"symbol": "ETH", "name": "Ether", "decimals": 18},
        )
        if not network.fee_schedules.exists():
            FeeSchedule.objects.create(
                network=network, maker_fee=Decimal("0.001"), taker_fee=Decimal("0.002")
            )
        self._operator_login(operator)

    def _operator_login(self, username: str) -> None:
        User = get_user_model()
        if User.objects.filter(username=username).exists():
            self.stdout.write(f"Operator login: {username} (password unchanged)")
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email="", password=password)
        self.stdout.write(self.style.SUCCESS(f"Operator login: {username} / {password}"))
