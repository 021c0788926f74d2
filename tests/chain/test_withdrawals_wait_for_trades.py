"""A withdrawal waits until its account's earlier trades are settled on chain, so the
contract always holds the funds it pays (chain/withdrawals.py, waiting_for_trades)."""

import pytest

from chain.withdrawals import WAITING_FOR_TRADES, withdrawals_confirm_run, withdrawals_dispatch_run
from exchange.models import Transfer, TransferStatus
from tests.chain.contract import ONE, token_balance
from tests.chain.test_reconciliation import request_withdrawal

pytestmark = pytest.mark.django_db


def status(withdrawal: Transfer) -> str:
    return Transfer.objects.get(id=withdrawal.id).status


def test_a_withdrawal_of_trade_proceeds_waits_for_the_trade_to_settle(chain_exchange):
    ex = chain_exchange
    order = ex.ask(ex.makers[0], give_tst=100 * ONE, take_eth=ONE)
    (trade,) = ex.take(ex.taker, [(order, ONE // 2)])
    # The taker withdraws TST it only has through the trade, which the contract lacks.
    withdrawal = request_withdrawal(ex, ex.taker, ex.tst, 40 * ONE)

    result = withdrawals_dispatch_run(network=ex.network, client=ex.client)

    assert result.deferred == [withdrawal.id] and result.sent == []
    withdrawal.refresh_from_db()
    assert withdrawal.status == TransferStatus.PENDING and withdrawal.error == WAITING_FOR_TRADES
    assert withdrawal.transaction_hash == ""

    ex.network.confirmations = 2
    ex.network.save()
    ex.settle()  # mined, not yet confirmed: still not SETTLED, the withdrawal still waits
    assert withdrawals_dispatch_run(network=ex.network, client=ex.client).deferred == [
        withdrawal.id
    ]
    ex.deployment.node.mine(1)
    assert ex.settle().settled == [trade.id]

    wallet_before = token_balance(ex.deployment, ex.tst.address, ex.taker.address)
    assert withdrawals_dispatch_run(network=ex.network, client=ex.client).sent == [withdrawal.id]
    ex.deployment.node.mine(1)
    assert withdrawals_confirm_run(network=ex.network, client=ex.client).completed == [
        withdrawal.id
    ]
    assert token_balance(ex.deployment, ex.tst.address, ex.taker.address) == (
        wallet_before + 40 * ONE
    )


def test_the_makers_withdrawal_waits_too_and_a_failed_trade_keeps_it_waiting(chain_exchange, fund):
    ex = chain_exchange
    phantom = ex.deployment.users[3]
    fund(phantom.address, ex.tst, 500 * ONE)
    order = ex.ask(phantom, give_tst=100 * ONE, take_eth=ONE)
    ex.take(ex.taker, [(order, ONE // 2)])
    withdrawal = request_withdrawal(ex, phantom, ex.eth, ONE // 4)  # the maker's ETH proceeds
    assert ex.settle().failed  # the contract refuses the trade: the ledgers disagree

    result = withdrawals_dispatch_run(network=ex.network, client=ex.client)

    assert result.deferred == [withdrawal.id]
    assert status(withdrawal) == TransferStatus.PENDING


def test_other_accounts_and_trades_after_the_withdrawal_do_not_hold_it_back(chain_exchange):
    ex = chain_exchange
    # Requested before the taker's trade: the hold already kept its funds out of trading.
    early = request_withdrawal(ex, ex.taker, ex.eth, ONE)
    order = ex.ask(ex.makers[0], give_tst=100 * ONE, take_eth=ONE)
    ex.take(ex.taker, [(order, ONE // 2)])
    # An account with no trade at all.
    untouched = request_withdrawal(ex, ex.makers[1], ex.tst, 10 * ONE)

    result = withdrawals_dispatch_run(network=ex.network, client=ex.client)

    assert result.sent == [early.id, untouched.id] and result.deferred == []


def test_the_fee_accounts_withdrawal_waits_for_every_earlier_trade(chain_exchange):
    ex = chain_exchange
    order = ex.ask(ex.makers[0], give_tst=100 * ONE, take_eth=ONE)
    ex.take(ex.taker, [(order, ONE // 2)])
    fees = ex.deployment.fee_account
    withdrawal = request_withdrawal(ex, fees, ex.tst, ONE // 10_000)

    assert withdrawals_dispatch_run(network=ex.network, client=ex.client).deferred == [
        withdrawal.id
    ]
    ex.settle()
    assert withdrawals_dispatch_run(network=ex.network, client=ex.client).sent == [withdrawal.id]
