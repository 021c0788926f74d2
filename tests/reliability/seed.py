"""A small exchange for the reliability tests, built through the real services: a network
(the default one) with ETH and TST, the ETH_TST market, fees, funded accounts, open
orders on both sides, a trade, a pending withdrawal and a deposit."""

from dataclasses import dataclass

from eth_account import Account
from eth_account.signers.local import LocalAccount

from exchange.models import Market, Network, Token
from exchange.protocol import hashing
from exchange.services.withdrawals import withdrawal_request
from tests.factories import (
    DepositFactory,
    FeeScheduleFactory,
    MarketFactory,
    NetworkFactory,
    TokenFactory,
)
from tests.signing import FUNDS, address_of, new_signer, next_nonce, sign_hash
from tests.trading import execute, fill, place

NETWORK_ID = 31337
CONTRACT = "0x" + "ab" * 20
ONE = 10**18
# The first seeded account (the maker of the seed's orders) has a fixed key, so the
# fuzzer's schema can carry its address as an example.
MAKER = Account.from_key("0x" + "5eed" * 16)


@dataclass
class Seeded:
    network: Network
    eth: Token
    tst: Token
    market: Market
    accounts: list[LocalAccount]


def fund(signer: LocalAccount, token: Token, amount: int, reference: str) -> None:
    from exchange.services.deposits import deposit_credit

    deposit_credit(token=token, account=address_of(signer), amount=amount, reference=reference)


def withdraw(network: Network, signer: LocalAccount, token: Token, amount: int):
    nonce = next_nonce()
    digest = hashing.withdraw_hash(
        contract=network.exchange_address,
        token=token.address,
        amount=amount,
        account=address_of(signer),
        nonce=nonce,
    )
    return withdrawal_request(
        network=network,
        account=address_of(signer),
        token_address=token.address,
        amount=amount,
        nonce=nonce,
        signature=sign_hash(signer, digest),
    )


def seed_exchange(settings, *, accounts: int = 3) -> Seeded:
    network = NetworkFactory.create(id=NETWORK_ID, name="Local", exchange_address=CONTRACT)
    settings.DEFAULT_NETWORK_ID = network.id
    eth = TokenFactory.create(network=network, ether=True)
    tst = TokenFactory.create(network=network, symbol="TST", name="Test Token", decimals=18)
    market = MarketFactory.create(network=network, base=eth, quote=tst)
    FeeScheduleFactory(network=network)
    signers = [MAKER] + [new_signer() for _ in range(accounts - 1)]
    for index, signer in enumerate(signers):
        fund(signer, eth, FUNDS, f"seed:eth:{index}:{address_of(signer)}")
        fund(signer, tst, FUNDS, f"seed:tst:{index}:{address_of(signer)}")
    maker, taker = signers[0], signers[1]
    bid = place(maker, give_token=eth, give_amount=ONE, take_token=tst, take_amount=1000 * ONE)
    place(maker, give_token=tst, give_amount=500 * ONE, take_token=eth, take_amount=ONE)
    execute(network, [fill(taker, bid, 100 * ONE)])
    withdraw(network, taker, eth, ONE)
    DepositFactory(network=network, token=tst, account=address_of(taker), status="COMPLETE")
    return Seeded(network, eth, tst, market, signers)
