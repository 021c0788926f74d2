"""An exchange on anvil for the settlement and reconciliation tests: funds deposited on
chain and credited by the real watcher, orders placed with order_place, trades booked by
trade_execute, and the settler run against the node.

    def test_x(chain_exchange):  # ETH_TST market, fees, two makers with TST, a taker with ETH
        order = chain_exchange.ask(chain_exchange.makers[0], give_tst=100 * ONE, take_eth=ONE)
        trades = chain_exchange.take(chain_exchange.taker, [(order, ONE // 2)])
        chain_exchange.settle()
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from eth_account import Account
from eth_account.signers.local import LocalAccount

from chain.client import ETHER, ExchangeClient
from chain.settler import SettleResult, trades_settle_run
from chain.watcher import deposits_watch_run
from exchange.models import FeeSchedule, Market, Network, Order, Token, Trade
from tests.anvil import Deployment, DevAccount
from tests.chain.contract import ONE, deposit_ether, deposit_token
from tests.trading import execute, fill, place

GAS_FEE = ONE // 1000  # TST charged to the taker per trade
MAKER_FUNDS = 1000 * ONE  # TST each maker deposits
TAKER_FUNDS = 10 * ONE  # ETH the taker deposits


def signer_of(account: DevAccount) -> LocalAccount:
    return Account.from_key(account.key)


@dataclass
class Exchange:
    deployment: Deployment
    network: Network
    market: Market
    eth: Token
    tst: Token
    makers: list[DevAccount]
    taker: DevAccount

    @property
    def client(self) -> ExchangeClient:
        return self.deployment.client

    def deposit(self, account: DevAccount, token: Token, amount: int) -> None:
        """On chain only: the watcher credits it (watch())."""
        if token.address == ETHER:
            deposit_ether(self.deployment, account, amount)
        else:
            deposit_token(self.deployment, account, token.address, amount)

    def watch(self) -> None:
        deposits_watch_run(network=self.network, client=self.client)

    def ask(
        self, maker: DevAccount, *, give_tst: int, take_eth: int, chain_id: int | None = None
    ) -> Order:
        """Signed with EIP-712 on chain `chain_id` if given, else eth_sign."""
        return place(
            signer_of(maker),
            give_token=self.tst,
            give_amount=give_tst,
            take_token=self.eth,
            take_amount=take_eth,
            chain_id=chain_id,
        )

    def take(
        self, taker: DevAccount, fills: list[tuple[Order, int]], *, chain_id: int | None = None
    ) -> list[Trade]:
        """One create_trades request: all fills or none (EIP-712 on `chain_id` if given)."""
        return execute(
            self.network,
            [fill(signer_of(taker), order, amount, chain_id=chain_id) for order, amount in fills],
        )

    def settle(
        self, *, client: ExchangeClient | None = None, receipt_wait: float = 10
    ) -> SettleResult:
        return trades_settle_run(
            network=self.network, client=client or self.client, receipt_wait=receipt_wait
        )

    def operator_nonce(self, *, pending: bool = True) -> int:
        return self.client.nonce(self.deployment.operator.address, pending=pending)


@pytest.fixture
def chain_exchange(chain_network, deployment, settings) -> Exchange:
    """ETH_TST with fees (maker 0.1%, taker 0.2%, a TST gas fee), two makers holding TST and
    a taker holding ETH, all deposited on chain and credited by the watcher."""
    settings.FEE_ACCOUNT = deployment.fee_account.address
    eth = Token.objects.get(network=chain_network, address=ETHER)
    tst = Token.objects.get(network=chain_network, address=deployment.tst)
    tst.trade_gas_fee = GAS_FEE
    tst.save(update_fields=["trade_gas_fee"])
    market = Market.objects.create(network=chain_network, base=eth, quote=tst)
    FeeSchedule.objects.create(
        network=chain_network,
        maker_fee=Decimal("0.001"),
        taker_fee=Decimal("0.002"),
        effective_at=timezone.now() - timedelta(hours=1),
    )
    makers, taker = deployment.users[:2], deployment.users[2]
    ex = Exchange(deployment, chain_network, market, eth, tst, list(makers), taker)
    for maker in makers:
        ex.deposit(maker, tst, MAKER_FUNDS)
    ex.deposit(taker, eth, TAKER_FUNDS)
    ex.watch()
    return ex
