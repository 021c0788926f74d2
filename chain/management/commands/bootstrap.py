"""Makes a fresh production database ready to trade, and is safe to run on every start
(compose runs it as a one-shot service after `migrate`): the operator login, the network,
the exchange contract (deployed with the operator key, or an existing address
registered), Ether, the tokens, the markets and a fee schedule. Each step changes nothing
that is already there, so a second run prints the same state and does nothing."""

from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from chain.client import ChainError, exchange_client
from chain.deployment import (
    demo_tokens_deploy,
    ether_get_or_create,
    exchange_deploy,
    token_add,
)
from exchange.models import FeeSchedule, Market, Network, Token
from exchange.validators import ADDRESS_RE
from relayer.env import env_bool, env_int, env_list, env_str


class Command(BaseCommand):
    help = (
        "Idempotently set up the operator login, the network (DEFAULT_NETWORK_ID), the "
        "exchange contract, tokens, markets and a fee schedule from BOOTSTRAP_* variables."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--network", type=int, default=settings.DEFAULT_NETWORK_ID)

    def handle(self, *args: str, network: int, **options: object) -> None:
        username = env_str("OPERATOR_USERNAME", "operator")
        password = env_str("OPERATOR_PASSWORD", "")
        rpc_url = env_str("BOOTSTRAP_RPC_URL", "")
        exchange = env_str("BOOTSTRAP_EXCHANGE_ADDRESS", "")
        tokens = env_list("BOOTSTRAP_TOKENS", [])
        markets = env_list("BOOTSTRAP_MARKETS", [])
        demo_tokens = env_bool("BOOTSTRAP_DEMO_TOKENS", False)
        confirmations = env_int("BOOTSTRAP_CONFIRMATIONS", 2, minimum=1)

        self._operator(username, password)
        row = self._network(network, rpc_url, confirmations)
        ether = ether_get_or_create(network=row)
        if not row.fee_schedules.exists():
            FeeSchedule.objects.create(
                network=row, maker_fee=Decimal("0.001"), taker_fee=Decimal("0.002")
            )
            self.stdout.write("fee schedule: maker 0.001, taker 0.002")
        try:
            self._exchange(row, exchange)
            row.refresh_from_db()
            client = exchange_client(row)
            if demo_tokens:
                holders = [a.lower() for a in client.rpc("eth_accounts", [])[1:5]]
                demo_tokens_deploy(network=row, client=client, holders=holders)
            for address in tokens:
                address = _address(address)
                if not Token.objects.filter(network=row, address=address).exists():
                    token_add(network=row, client=client, address=address)
        except (ChainError, ValueError) as error:
            raise CommandError(str(error)) from None
        for name in markets:
            self._market(row, name)
        listed = ", ".join(Token.objects.filter(network=row).values_list("symbol", flat=True))
        names = ", ".join(m.name for m in Market.objects.filter(network=row).order_by("id"))
        self.stdout.write(
            f"network={row.id} exchange={row.exchange_address} tokens={listed} "
            f"markets={names or '-'} ether={ether.address}"
        )

    def _operator(self, username: str, password: str) -> None:
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is None:
            if not password:
                raise CommandError("OPERATOR_PASSWORD must be set to create the operator login")
            User.objects.create_superuser(username=username, email="", password=password)
            self.stdout.write(f"operator login created: {username}")
        elif password and not user.check_password(password):
            user.set_password(password)
            user.save(update_fields=["password"])
            self.stdout.write(f"operator login {username}: password set from OPERATOR_PASSWORD")

    @transaction.atomic
    def _network(self, network_id: int, rpc_url: str, confirmations: int) -> Network:
        row, created = Network.objects.select_for_update().get_or_create(
            pk=network_id,
            defaults={
                "name": f"Chain {network_id}",
                "rpc_url": rpc_url,
                "confirmations": confirmations,
            },
        )
        if created:
            self.stdout.write(f"network {network_id} created")
        elif rpc_url and row.rpc_url != rpc_url:
            row.rpc_url = rpc_url
            row.save(update_fields=["rpc_url", "updated_at"])
        if not row.rpc_url:
            raise CommandError(f"network {network_id} has no RPC URL: set BOOTSTRAP_RPC_URL")
        return row

    def _exchange(self, row: Network, address: str) -> None:
        if address:
            address = _address(address)
            if row.exchange_address and row.exchange_address != address:
                raise CommandError(
                    f"network {row.id} already has the exchange {row.exchange_address}, "
                    f"not BOOTSTRAP_EXCHANGE_ADDRESS {address}: change it in the admin"
                )
            if not row.exchange_address:
                row.exchange_address = address
                row.save(update_fields=["exchange_address", "updated_at"])
                self.stdout.write(f"exchange registered: {address}")
        elif not row.exchange_address:
            deployed = exchange_deploy(
                network=row,
                client=exchange_client(row),
                fee_account=settings.FEE_ACCOUNT,
            )
            self.stdout.write(f"exchange deployed: {deployed}")

    def _market(self, row: Network, name: str) -> None:
        base_symbol, _, quote_symbol = name.strip().upper().partition("_")
        try:
            base = Token.objects.get(network=row, symbol=base_symbol)
            quote = Token.objects.get(network=row, symbol=quote_symbol)
        except Token.DoesNotExist:
            raise CommandError(f"market {name}: no token {base_symbol} or {quote_symbol}") from None
        Market.objects.get_or_create(network=row, base=base, quote=quote)


def _address(value: str) -> str:
    value = value.strip()
    if not ADDRESS_RE.match(value):
        raise CommandError(f"{value!r} is not an address (0x and 40 hex digits)")
    return value.lower()
