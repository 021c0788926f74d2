"""A trade booked by trade_execute settles on the real contract (anvil) with exactly the
numbers the ledger booked: after settlement every party's balance on the contract equals
its ledger balance, to the base unit (awkward ratio, 6 vs 18 decimals, fees and gas)."""

from decimal import Decimal

import pytest
from eth_account import Account

from chain.client import ETHER
from exchange.models import Balance, FeeSchedule, Market, Order, Token
from exchange.services.deposits import deposit_credit
from tests.chain.contract import deposit_ether, deposit_token, settle
from tests.trading import execute, fill, place

ONE = 10**18


@pytest.mark.django_db
def test_the_contract_ends_where_the_ledger_booked(chain_network, deployment, settings):
    network = chain_network
    settings.FEE_ACCOUNT = deployment.fee_account.address
    eth = Token.objects.get(network=network, address=ETHER)
    six = Token.objects.get(network=network, address=deployment.six)
    six.trade_gas_fee = 1234
    six.save()
    Market.objects.create(network=network, base=eth, quote=six)
    FeeSchedule.objects.create(
        network=network, maker_fee=Decimal("0.001"), taker_fee=Decimal("0.0025"),
        effective_at="2020-01-01T00:00:00Z",
    )  # fmt: skip
    maker_dev, taker_dev = deployment.users[0], deployment.users[1]
    # The same deposits on chain and (as the watcher would credit them) in the ledger.
    deposit_token(deployment, maker_dev, deployment.six, 500 * 10**6)
    deposit_credit(token=six, account=maker_dev.address, amount=500 * 10**6, reference="m")
    deposit_ether(deployment, taker_dev, 2 * ONE)
    deposit_credit(token=eth, account=taker_dev.address, amount=2 * ONE, reference="t")
    maker, taker = Account.from_key(maker_dev.key), Account.from_key(taker_dev.key)

    # 333.333333 SIX for 0.100000000000000007 ETH, filled in three awkward parts.
    ask = place(
        maker, give_token=six, give_amount=333_333_333, take_token=eth, take_amount=10**17 + 7
    )
    trades = execute(
        network,
        [
            fill(taker, ask, 3 * 10**16 + 1),
            fill(taker, ask, 3 * 10**16 + 1),
            fill(taker, ask, 4 * 10**16 + 5),
        ],
    )
    assert Order.objects.get(pk=ask.pk).status == "FILLED"

    for trade in trades:
        receipt = settle(
            deployment,
            {
                "maker": ask.account,
                "give_token": six.address,
                "give_amount": int(ask.give_amount),
                "take_token": eth.address,
                "take_amount": int(ask.take_amount),
                "order_nonce": int(ask.nonce),
                "expiry_ms": ask.expiry_ms,
                "maker_signature": ask.signature,
                "taker": trade.taker,
                "amount": int(trade.take_amount),
                "trade_nonce": int(trade.nonce),
                "taker_signature": trade.signature,
                "maker_fee": int(trade.maker_fee),
                "taker_fee": int(trade.taker_fee),
                "gas_fee": int(trade.gas_fee),
            },
        )
        assert receipt.succeeded
        assert deployment.client.traded(trade.hash)

    for account in (maker_dev.address, taker_dev.address, deployment.fee_account.address):
        for token in (eth, six):
            booked = Balance.objects.filter(account=account, token=token).first()
            on_chain = deployment.client.balance_of(token.address, account)
            assert on_chain == (int(booked.total) if booked else 0), (account, token.symbol)
    assert deployment.client.balance_of(six.address, deployment.fee_account.address) > 3 * 1234
