"""Issue #13, finding 1: the escape hatch. A maker inactive for the contract's
inactivityReleasePeriod (20 blocks on the test deployment) calls withdraw() directly.
The watcher debits it, cancels its orders; while it can escape, nothing it does is booked
past what the contract still holds; a trade it escaped from is quarantined, the others
settle, and the operator's reversal leaves a clean reconciliation."""

import pytest

from chain.escape_hatch import escape_exposure_refresh
from chain.reconciliation import reconcile_network
from chain.withdrawals import withdrawals_confirm_run, withdrawals_dispatch_run
from exchange.models import (
    AccountRestriction,
    LedgerEntry,
    Order,
    OrderStatus,
    SettlementStatus,
    StreamEvent,
    Trade,
    Transfer,
    TransferKind,
    TransferStatus,
)
from exchange.services.errors import FieldError
from exchange.services.trade_reversal import ReversalRefused, trade_reverse
from tests.anvil import INACTIVITY_BLOCKS
from tests.chain.contract import ONE
from tests.chain.settling import MAKER_FUNDS, signer_of
from tests.chain.test_withdrawals import request_withdrawal
from tests.signing import signed_order
from tests.trading import balance

pytestmark = pytest.mark.django_db


def escape(ex, account, token, amount: int):
    """The user's own withdraw() call, once the inactivity period is over."""
    ex.deployment.node.mine(INACTIVITY_BLOCKS)
    return ex.client.transact(
        "Exchange",
        ex.deployment.exchange,
        "withdraw",
        token.address,
        amount,
        private_key=account.key,
    )


def clean(ex) -> list:
    return reconcile_network(network=ex.network, client=ex.client).differences


def field_errors(refusal: FieldError) -> dict:
    return {refusal.field: refusal.reason}


def test_a_direct_withdrawal_is_debited_once_confirmed_and_cancels_the_accounts_orders(
    chain_exchange,
):
    ex = chain_exchange
    ex.network.confirmations = 2
    ex.network.save()
    maker = ex.makers[0]
    order = ex.ask(maker, give_tst=100 * ONE, take_eth=ONE)
    receipt = escape(ex, maker, ex.tst, 400 * ONE)

    ex.watch()  # one confirmation of two: recorded, not debited
    direct = Transfer.objects.get(kind=TransferKind.DIRECT)
    assert (direct.status, direct.account, direct.amount) == ("PENDING", maker.address, 400 * ONE)
    assert (direct.transaction_hash, direct.block_hash) == (
        receipt.transaction_hash,
        receipt.block_hash,
    )
    assert balance(maker.address, ex.tst) == (MAKER_FUNDS, 100 * ONE)
    assert clean(ex) == []  # reconciliation counts the pending one

    ex.deployment.node.mine(1)
    ex.watch()
    ex.watch()  # once only

    direct.refresh_from_db()
    assert direct.status == TransferStatus.COMPLETE and direct.shortfall == 0
    assert Order.objects.get(id=order.id).status == OrderStatus.CANCELLED
    # The cancel is streamed, as every other cancel (orders_close).
    cancelled = StreamEvent.objects.filter(type="order", data__orderHash=order.hash).last()
    assert cancelled.data["status"] == "cancelled"
    assert balance(maker.address, ex.tst) == (MAKER_FUNDS - 400 * ONE, 0)
    debits = LedgerEntry.objects.filter(reference=f"transfer:{direct.id}")
    assert [(e.kind, int(e.total_delta)) for e in debits] == [("WITHDRAWAL", -400 * ONE)]
    assert clean(ex) == []


def test_the_operators_own_admin_withdraw_is_not_debited_twice(chain_exchange):
    ex = chain_exchange
    maker = ex.makers[0]
    withdrawal = request_withdrawal(ex.deployment, ex.network, maker, 30 * ONE, ex.tst.address)
    withdrawals_dispatch_run(network=ex.network, client=ex.client)
    ex.deployment.node.mine(1)
    withdrawals_confirm_run(network=ex.network, client=ex.client)
    assert Transfer.objects.get(id=withdrawal.id).status == TransferStatus.COMPLETE

    ex.watch()  # reads the Withdraw event of that adminWithdraw

    assert not Transfer.objects.filter(kind=TransferKind.DIRECT).exists()
    assert balance(maker.address, ex.tst) == (MAKER_FUNDS - 30 * ONE, 0)
    assert clean(ex) == []


def test_a_direct_withdrawal_whose_block_leaves_the_chain_is_never_debited(chain_exchange):
    ex = chain_exchange
    ex.network.confirmations = 3
    ex.network.save()
    maker = ex.makers[0]
    ex.deployment.node.mine(INACTIVITY_BLOCKS)
    before = ex.deployment.node.snapshot()
    ex.client.transact(
        "Exchange", ex.deployment.exchange, "withdraw", ex.tst.address, ONE, private_key=maker.key
    )
    ex.watch()
    assert Transfer.objects.get(kind=TransferKind.DIRECT).status == "PENDING"

    ex.deployment.node.revert(before)  # its block leaves the chain
    ex.deployment.node.mine(5)
    ex.watch()

    assert Transfer.objects.get(kind=TransferKind.DIRECT).status == "FAILED"
    assert balance(maker.address, ex.tst) == (MAKER_FUNDS, 0)
    assert clean(ex) == []


def test_the_phantom_sale_is_refused_while_the_withdrawal_waits_for_confirmations(
    chain_exchange, api
):
    """The attack of the issue: the maker withdraws everything directly, then sells the
    balance the ledger still shows before the watcher has debited it."""
    ex = chain_exchange
    ex.network.confirmations = 5
    ex.network.save()
    maker, victim = ex.makers[0], ex.taker
    resting = ex.ask(maker, give_tst=165 * ONE, take_eth=ONE // 100)  # placed while active
    escape(ex, maker, ex.tst, MAKER_FUNDS)
    ex.watch()  # seen, not yet confirmed: the ledger still shows the 1000 TST
    assert balance(maker.address, ex.tst) == (MAKER_FUNDS, 165 * ONE)

    refreshed = escape_exposure_refresh(network=ex.network, client=ex.client)
    assert maker.address in refreshed.exposed
    assert AccountRestriction.objects.filter(account=maker.address, kind="ESCAPE_HATCH").exists()

    # A new ask: refused in the spec's format.
    payload = signed_order(
        signer_of(maker),
        contract=ex.network.exchange_address,
        give_token=ex.tst,
        give_amount=100 * ONE,
        take_token=ex.eth,
        take_amount=ONE // 100,
    )
    response = api.post(f"/create_orders?networkId={ex.network.id}", payload, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == 100
    [error] = body["validationErrors"]
    assert (error["field"], error["code"]) == ("giveAmount", 1004)
    assert "can pay 0 of token" in error["reason"]
    # The victim's fill of the resting ask: refused, nothing booked.
    with pytest.raises(FieldError) as refusal:
        ex.take(victim, [(resting, ONE // 100)])
    assert "can pay 0 of token" in field_errors(refusal.value)["[0].orderHash"]
    assert not Trade.objects.exists()

    ex.deployment.node.mine(5)
    ex.watch()
    assert balance(maker.address, ex.tst) == (0, 0)
    assert Order.objects.get(id=resting.id).status == OrderStatus.CANCELLED
    assert clean(ex) == []


def test_a_trade_the_maker_escaped_from_is_quarantined_the_others_settle_and_reversal_is_clean(
    chain_exchange,
):
    ex = chain_exchange
    maker, honest, victim = ex.makers[0], ex.makers[1], ex.taker
    phantom_ask = ex.ask(maker, give_tst=MAKER_FUNDS, take_eth=ONE)
    honest_ask = ex.ask(honest, give_tst=100 * ONE, take_eth=ONE)
    [phantom] = ex.take(victim, [(phantom_ask, ONE)])  # booked while the maker was active
    victim_eth_before = balance(victim.address, ex.eth)
    # Before it settles, the maker takes everything out through the escape hatch.
    escape(ex, maker, ex.tst, MAKER_FUNDS)
    [later] = ex.take(victim, [(honest_ask, ONE // 2)])

    result = ex.settle()

    assert result.failed == [phantom.id] and result.settled == [later.id]
    assert not result.halted
    phantom.refresh_from_db()
    assert phantom.settlement_status == SettlementStatus.FAILED
    assert "maker balance too low" in phantom.settlement_error

    ex.watch()  # the direct withdrawal: the ledger had sold it all, nothing to debit yet
    direct = Transfer.objects.get(kind=TransferKind.DIRECT)
    assert (direct.status, int(direct.shortfall)) == ("COMPLETE", MAKER_FUNDS)
    assert balance(maker.address, ex.tst) == (0, 0)

    trade_reverse(trade_id=phantom.id)

    phantom.refresh_from_db()
    assert phantom.settlement_status == SettlementStatus.REVERSED
    # The victim gets back the 1 ETH it paid for TST that no longer existed.
    assert balance(victim.address, ex.eth) == (victim_eth_before[0] + ONE - ONE // 2, 0)
    assert balance(victim.address, ex.tst)[0] == int(later.give_amount) - int(
        later.taker_fee
    ) - int(later.gas_fee)
    assert balance(maker.address, ex.tst) == (0, 0)  # given back, then the shortfall repaid
    assert balance(maker.address, ex.eth) == (0, 0)
    assert Transfer.objects.get(id=direct.id).shortfall == 0
    assert clean(ex) == []
    with pytest.raises(ReversalRefused):
        trade_reverse(trade_id=phantom.id)


def test_exposure_follows_the_accounts_activity(chain_exchange, settings):
    ex = chain_exchange
    settings.ESCAPE_HATCH_MARGIN_BLOCKS = 0
    maker = ex.makers[0]
    assert (
        maker.address not in escape_exposure_refresh(network=ex.network, client=ex.client).exposed
    )

    ex.deployment.node.mine(INACTIVITY_BLOCKS)
    opened = escape_exposure_refresh(network=ex.network, client=ex.client)
    assert maker.address in opened.exposed and maker.address in opened.opened
    assert opened.period == INACTIVITY_BLOCKS

    ex.deposit(maker, ex.tst, ONE)  # activity: lastActiveBlock moves
    closed = escape_exposure_refresh(network=ex.network, client=ex.client)

    assert maker.address in closed.closed and maker.address not in closed.exposed
    assert not AccountRestriction.objects.filter(
        account=maker.address, kind="ESCAPE_HATCH", resolved_at__isnull=True
    ).exists()
