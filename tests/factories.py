from datetime import UTC, datetime
from decimal import Decimal

import factory

from exchange.models import FeeSchedule, Market, Network, Token, Transfer, TransferKind
from exchange.validators import ETHER_ADDRESS

FEES_EFFECTIVE_SINCE = datetime(2020, 1, 1, tzinfo=UTC)


class NetworkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Network
        django_get_or_create = ("id",)

    id = factory.Sequence(lambda n: 1000 + n)
    name = factory.LazyAttribute(lambda network: f"Network {network.id}")
    rpc_url = "http://127.0.0.1:8545"
    confirmations = 2


class TokenFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Token

    class Params:
        ether = factory.Trait(address=ETHER_ADDRESS, symbol="ETH", name="Ether", decimals=18)

    network = factory.SubFactory(NetworkFactory)
    address = factory.Sequence(lambda n: f"0x{n + 1:040x}")
    symbol = factory.Sequence(lambda n: f"TK{n}")
    name = factory.LazyAttribute(lambda token: f"Token {token.symbol}")
    decimals = 18


class MarketFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Market

    network = factory.SubFactory(NetworkFactory)
    base = factory.SubFactory(TokenFactory, network=factory.SelfAttribute("..network"))
    quote = factory.SubFactory(TokenFactory, network=factory.SelfAttribute("..network"))
    # The factory's tokens carry no trade gas fee, so fills could not pay for their
    # settlement: allowed here; the dust rule is tested in tests/exchange/test_dust_fills.py.
    allow_unpaid_settlement = True


class FeeScheduleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FeeSchedule

    network = factory.SubFactory(NetworkFactory)
    maker_fee = Decimal("0.001")
    taker_fee = Decimal("0.002")
    # A fixed point well before every date the tests use, never the wall clock: a schedule
    # effective from "now - 1 day" made trades dated 2026-11-20 predate it, and pay no fee.
    effective_at = FEES_EFFECTIVE_SINCE


class DepositFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Transfer

    network = factory.SubFactory(NetworkFactory)
    kind = TransferKind.DEPOSIT
    account = factory.Sequence(lambda n: f"0x{0xD0000 + n:040x}")
    token = factory.SubFactory(TokenFactory, network=factory.SelfAttribute("..network"))
    amount = 10**18
    transaction_hash = factory.Sequence(lambda n: f"0x{n + 1:064x}")
    log_index = 0
    block_number = 100
    block_hash = factory.Sequence(lambda n: f"0x{0xB10C00 + n:064x}")
