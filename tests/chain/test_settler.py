"""The trade settler against a real anvil node: trades booked by trade_execute are settled
on chain in id order; a refusal quarantines one trade; unknown outcomes never settle twice."""

import pytest

from chain.client import ChainUnavailable
from chain.outbox import broadcast
from chain.reconciliation import reconcile_network
from chain.settler import TRADES, trade_fields, trades_claim
from exchange.models import Balance, Network, SettlementStatus, Trade
from exchange.services.trade_settlement import (
    settlement_halt,
    settlement_resume,
    trade_settlement_retry,
)
from tests.chain.contract import ONE
from tests.chain.settling import GAS_FEE
from tests.chain.test_withdrawals import dead_client

pytestmark = pytest.mark.django_db


def statuses(trades) -> list[str]:
    return [Trade.objects.get(id=t.id).settlement_status for t in trades]


def contract_balance(ex, account, token) -> int:
    return ex.client.balance_of(token.address, account.address)


def ledger_total(account, token) -> int:
    return int(Balance.objects.get(account=account.address, token=token).total)


def claimed(ex, trade) -> object:
    """The trade claimed (signed and stored, SENT) by the settler's own claim, not sent."""
    trade = Trade.objects.select_related("order__give_token", "order__take_token").get(id=trade.id)
    data = ex.client.trade_data(**trade_fields(trade))
    [(_, signed)] = trades_claim(network=ex.network, batch=[(trade.id, data)], client=ex.client)
    return signed


def trade_broadcast(*, trade_id, signed, client) -> str:
    return broadcast(TRADES, row_id=trade_id, signed=signed, client=client)


def halted(network) -> bool:
    return Network.objects.get(pk=network.pk).settlement_halted


def test_it_settles_a_multi_order_trade_on_chain_and_the_contract_matches_the_ledger(
    chain_exchange,
):
    ex = chain_exchange
    first = ex.ask(ex.makers[0], give_tst=100 * ONE, take_eth=ONE)
    second = ex.ask(ex.makers[1], give_tst=200 * ONE, take_eth=3 * ONE)
    trades = ex.take(ex.taker, [(first, ONE // 2), (second, 3 * ONE)])
    assert statuses(trades) == ["UNSETTLED", "UNSETTLED"]
    # In flight: the contract lags the ledger, and reconciliation accounts for it.
    assert reconcile_network(network=ex.network, client=ex.client).differences == []

    result = ex.settle()

    assert result.settled == [t.id for t in trades] and not result.halted
    for trade in Trade.objects.filter(id__in=[t.id for t in trades]):
        assert trade.settlement_status == SettlementStatus.SETTLED
        receipt = ex.client.receipt(trade.transaction_hash)
        assert receipt.succeeded and receipt.gas_used == trade.gas_used > 0
        assert trade.block_number == receipt.block_number and trade.settled_at is not None
        assert ex.client.traded(trade.hash)
        events = [e for e in ex.client.exchange_events(trade.transaction_hash) if e.name == "Trade"]
        assert [(e.args["tradeHash"], e.args["gasFee"]) for e in events] == [(trade.hash, GAS_FEE)]
    # Every party's contract balance is its ledger total, fees included.
    fee_account = type("A", (), {"address": ex.deployment.fee_account.address})
    for account in [*ex.makers, ex.taker, fee_account]:
        for token in (ex.eth, ex.tst):
            if Balance.objects.filter(account=account.address, token=token).exists():
                assert contract_balance(ex, account, token) == ledger_total(account, token)
    assert ex.client.order_fills(first.hash) == ONE // 2
    assert reconcile_network(network=ex.network, client=ex.client).differences == []


def test_trades_are_sent_in_id_order_and_a_second_run_sends_nothing(chain_exchange):
    ex = chain_exchange
    order = ex.ask(ex.makers[0], give_tst=100 * ONE, take_eth=ONE)
    trades = [ex.take(ex.taker, [(order, ONE // 10)])[0] for _ in range(3)]

    ex.settle()
    nonce_after = ex.operator_nonce()
    again = ex.settle()

    nonces = [Trade.objects.get(id=t.id).operator_nonce for t in trades]
    assert nonces == sorted(nonces) and len(set(nonces)) == 3
    assert again.settled == again.mined == again.resent == []
    assert ex.operator_nonce() == nonce_after


def test_a_trade_waits_for_the_networks_confirmations_before_it_is_settled(chain_exchange):
    ex = chain_exchange
    ex.network.confirmations = 3
    ex.network.save()
    order = ex.ask(ex.makers[0], give_tst=100 * ONE, take_eth=ONE)
    first, second = (ex.take(ex.taker, [(order, ONE // 4)])[0] for _ in range(2))

    result = ex.settle()

    # Both mined (the second is signed once the first is mined), neither confirmed yet.
    assert result.mined == [first.id, second.id] and result.settled == []
    assert statuses([first, second]) == ["SENT", "SENT"]
    assert Trade.objects.get(id=first.id).gas_used > 0
    ex.deployment.node.mine(2)
    assert ex.settle().settled == [first.id, second.id]
    assert statuses([first, second]) == ["SETTLED", "SETTLED"]


def test_a_trade_the_contract_refuses_is_quarantined_and_the_others_keep_settling(
    chain_exchange, fund
):
    ex = chain_exchange
    # The ledger credits a maker whose funds never reached the contract: the ledgers
    # disagree, and the contract refuses the trade at gas estimation.
    phantom = ex.deployment.users[3]
    fund(phantom.address, ex.tst, 500 * ONE)
    bad_order = ex.ask(phantom, give_tst=100 * ONE, take_eth=ONE)
    good_order = ex.ask(ex.makers[0], give_tst=100 * ONE, take_eth=ONE)
    bad = ex.take(ex.taker, [(bad_order, ONE // 2)])[0]
    good = ex.take(ex.taker, [(good_order, ONE // 2)])[0]

    result = ex.settle()

    assert result.failed == [bad.id] and result.settled == [good.id] and not result.halted
    bad.refresh_from_db()
    assert bad.settlement_status == SettlementStatus.FAILED
    assert "maker balance too low" in bad.settlement_error
    assert not Network.objects.get(pk=ex.network.pk).settlement_halted
    assert statuses([bad, good]) == ["FAILED", "SETTLED"]
    # The quarantined trade is never sent again on its own.
    nonce_before = ex.operator_nonce()
    assert ex.settle().failed == []
    assert ex.operator_nonce() == nonce_before


def test_an_operator_halt_still_stops_settlement_until_resumed(chain_exchange):
    ex = chain_exchange
    order = ex.ask(ex.makers[0], give_tst=100 * ONE, take_eth=ONE)
    trade = ex.take(ex.taker, [(order, ONE // 2)])[0]
    settlement_halt(network_id=ex.network.id, reason="operator: investigating")

    assert ex.settle().halted
    assert statuses([trade]) == ["UNSETTLED"]

    assert settlement_resume(network_id=ex.network.id)
    assert ex.settle().settled == [trade.id]


def test_a_reverted_settlement_transaction_quarantines_the_trade(chain_exchange):
    ex = chain_exchange
    order = ex.ask(ex.makers[0], give_tst=100 * ONE, take_eth=ONE)
    trade = ex.take(ex.taker, [(order, ONE // 2)])[0]
    signed = claimed(ex, trade)  # estimated: fine so far
    # Before it is mined, the maker takes its funds out through the escape hatch.
    ex.deployment.node.mine(25)
    ex.client.transact(
        "Exchange",
        ex.deployment.exchange,
        "withdraw",
        ex.tst.address,
        contract_balance(ex, ex.makers[0], ex.tst),
        private_key=ex.makers[0].key,
    )
    assert trade_broadcast(trade_id=trade.id, signed=signed, client=ex.client) == "sent"
    assert not ex.client.wait_for_receipt(signed.hash).succeeded

    result = ex.settle()

    assert result.failed == [trade.id] and not result.halted
    trade.refresh_from_db()
    assert trade.settlement_status == SettlementStatus.FAILED
    assert trade.settlement_error == f"reverted in {signed.hash}"
    assert trade.gas_used > 0
    assert not ex.client.traded(trade.hash)


def test_an_unknown_send_is_resolved_by_sending_the_same_transaction_once(chain_exchange):
    ex = chain_exchange
    order = ex.ask(ex.makers[0], give_tst=100 * ONE, take_eth=ONE)
    trade = ex.take(ex.taker, [(order, ONE // 2)])[0]
    nonce_before = ex.operator_nonce()
    signed = claimed(ex, trade)
    # The node does not answer the send: it may or may not have the transaction.
    assert trade_broadcast(trade_id=trade.id, signed=signed, client=dead_client(ex.deployment)) == (
        "unknown"
    )
    with pytest.raises(ChainUnavailable):
        ex.settle(client=dead_client(ex.deployment))
    trade.refresh_from_db()
    assert trade.settlement_status == "SENT" and trade.transaction_hash == signed.hash
    assert trade.broadcast_at is None

    first = ex.settle()
    second = ex.settle()

    assert first.resent == [trade.id] and second.settled == [trade.id]
    trade.refresh_from_db()
    assert trade.transaction_hash == signed.hash  # the very same transaction
    assert ex.operator_nonce() == nonce_before + 1  # one transaction, mined once
    assert ex.client.order_fills(order.hash) == ONE // 2


def test_with_no_receipt_the_settler_waits_and_never_signs_a_second_transaction(chain_exchange):
    ex = chain_exchange
    node = ex.deployment.node
    order = ex.ask(ex.makers[0], give_tst=100 * ONE, take_eth=ONE)
    trade, second = (ex.take(ex.taker, [(order, ONE // 4)])[0] for _ in range(2))
    node.rpc("evm_setAutomine", [False])
    try:
        # Both go in one batch; nothing is mined.
        assert ex.settle(receipt_wait=0).waiting == [trade.id, second.id]
        later = ex.take(ex.taker, [(order, ONE // 4)])[0]
        for _ in range(3):
            assert ex.settle(receipt_wait=0).waiting == [trade.id, second.id]
        trade.refresh_from_db()
        assert int(node.rpc("txpool_status")["pending"], 16) == 2
        assert statuses([later]) == ["UNSETTLED"]  # never signed over an unmined batch

        # The node forgets them (a restart without its pool): the same ones again.
        second.refresh_from_db()
        node.rpc("anvil_dropAllTransactions")
        assert ex.settle(receipt_wait=0).resent == [trade.id, second.id]
        for sent in (trade, second):
            assert node.rpc("eth_getTransactionByHash", [sent.transaction_hash]) is not None
        node.rpc("evm_mine")
    finally:
        node.rpc("evm_setAutomine", [True])

    result = ex.settle()
    assert result.settled == [trade.id, second.id, later.id]
    for sent in (trade, second):
        assert Trade.objects.get(id=sent.id).transaction_hash == sent.transaction_hash
    assert ex.client.order_fills(order.hash) == 3 * ONE // 4


def test_a_trade_the_contract_settled_elsewhere_is_settled_and_never_sent_again(chain_exchange):
    ex = chain_exchange
    order = ex.ask(ex.makers[0], give_tst=100 * ONE, take_eth=ONE)
    trade = ex.take(ex.taker, [(order, ONE // 2)])[0]
    signed = claimed(ex, trade)  # stored, never broadcast
    # Meanwhile an operator by hand used the nonce for something else, then settled the
    # trade in another transaction: the stored one can never be mined.
    operator = ex.deployment.operator.address
    ex.client.transact("Exchange", ex.deployment.exchange, "setAdmin", operator, True)
    trade = Trade.objects.select_related("order__give_token", "order__take_token").get(id=trade.id)
    ex.client.wait_for_receipt(ex.client.send_trade(**trade_fields(trade)))
    nonce_after = ex.operator_nonce()

    result = ex.settle()

    assert result.settled == [trade.id]
    trade.refresh_from_db()
    assert trade.settlement_status == SettlementStatus.SETTLED
    assert signed.hash in trade.settlement_error and "another transaction" in trade.settlement_error
    assert ex.operator_nonce() == nonce_after
    assert ex.client.order_fills(order.hash) == ONE // 2


def test_a_trade_already_settled_on_chain_before_it_is_sent_is_marked_settled(chain_exchange):
    ex = chain_exchange
    order = ex.ask(ex.makers[0], give_tst=100 * ONE, take_eth=ONE)
    trade = ex.take(ex.taker, [(order, ONE // 2)])[0]
    trade = Trade.objects.select_related("order__give_token", "order__take_token").get(id=trade.id)
    ex.client.wait_for_receipt(ex.client.send_trade(**trade_fields(trade)))
    nonce_after = ex.operator_nonce()

    result = ex.settle()

    assert result.settled == [trade.id] and not result.halted
    assert "already" in Trade.objects.get(id=trade.id).settlement_error
    assert ex.operator_nonce() == nonce_after


def test_a_retried_failed_trade_settles_once_the_cause_is_fixed(chain_exchange, fund):
    ex = chain_exchange
    phantom = ex.deployment.users[3]
    fund(phantom.address, ex.tst, 500 * ONE)
    order = ex.ask(phantom, give_tst=100 * ONE, take_eth=ONE)
    trade = ex.take(ex.taker, [(order, ONE // 2)])[0]
    assert ex.settle().failed == [trade.id]
    # The missing funds reach the contract (the maker deposits them); retry, resume.
    ex.deposit(phantom, ex.tst, 500 * ONE)
    assert trade_settlement_retry(trade_id=trade.id)

    assert ex.settle().settled == [trade.id]
    assert ex.client.traded(trade.hash)


def test_a_stored_transaction_whose_nonce_was_taken_is_signed_again_once(chain_exchange):
    ex = chain_exchange
    order = ex.ask(ex.makers[0], give_tst=100 * ONE, take_eth=ONE)
    trade = ex.take(ex.taker, [(order, ONE // 2)])[0]
    signed = claimed(ex, trade)  # stored, never broadcast
    operator = ex.deployment.operator.address
    ex.client.transact("Exchange", ex.deployment.exchange, "setAdmin", operator, True)

    first = ex.settle()
    second = ex.settle()

    assert first.resent == [trade.id] and second.settled == [trade.id]
    trade.refresh_from_db()
    assert trade.transaction_hash != signed.hash and trade.operator_nonce > signed.nonce
    assert ex.client.receipt(trade.transaction_hash).succeeded
    assert ex.client.receipt(signed.hash) is None
    assert ex.client.order_fills(order.hash) == ONE // 2
