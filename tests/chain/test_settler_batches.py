"""The settler's pipelined batches against a real anvil node: many trades per run, signed
with consecutive operator nonces and mined in that order; a revert inside a batch quarantines one trade
with the rest resolved on their own receipts; a crash between claim and broadcast resends
the very same transactions; and afterwards the database is exactly the contract's
`traded` map."""

import pytest

from chain import settler
from exchange.models import Network, SettlementStatus, Trade
from tests.chain.contract import ONE
from tests.chain.settling import Exchange

pytestmark = pytest.mark.django_db


def trades_of(ids: list[int]) -> list[Trade]:
    by_id = Trade.objects.in_bulk(ids)
    return [by_id[i] for i in ids]


def assert_database_is_the_traded_map(ex: Exchange) -> None:
    """SETTLED here exactly when the contract says the tradeHash is traded."""
    for trade in Trade.objects.all():
        assert ex.client.traded(trade.hash) == (
            trade.settlement_status == SettlementStatus.SETTLED
        ), (trade.id, trade.settlement_status)


def mined_in_nonce_order(ex: Exchange, trades: list[Trade]) -> bool:
    positions = []
    for trade in sorted(trades, key=lambda t: t.operator_nonce or 0):
        receipt = ex.client.receipt(trade.transaction_hash)
        assert receipt is not None
        index = ex.client.rpc("eth_getTransactionByHash", [trade.transaction_hash])
        positions.append((receipt.block_number, int(index["transactionIndex"], 16)))
    return positions == sorted(positions)


def test_thirty_trades_settle_in_one_run_with_consecutive_nonces_in_id_order(chain_exchange):
    ex = chain_exchange
    orders = [ex.ask(maker, give_tst=100 * ONE, take_eth=ONE) for maker in ex.makers]
    booked = [ex.take(ex.taker, [(orders[i % 2], ONE // 100)])[0] for i in range(30)]
    nonce_before = ex.operator_nonce()

    result = ex.settle()

    ids = [t.id for t in booked]
    assert result.settled == ids and not result.halted
    trades = trades_of(ids)
    nonces = [t.operator_nonce for t in trades]
    assert nonces == list(range(nonce_before, nonce_before + 30))
    assert mined_in_nonce_order(ex, trades)
    assert ex.operator_nonce() == nonce_before + 30  # one transaction per trade
    assert all(t.gas_used < settler.TRADE_GAS_LIMIT for t in trades)
    assert ex.client.order_fills(orders[0].hash) == 15 * ONE // 100
    assert_database_is_the_traded_map(ex)


def test_a_run_sends_batch_after_batch_each_once_the_one_before_is_mined(
    chain_exchange, monkeypatch
):
    monkeypatch.setattr(settler, "BATCH_SIZE", 4)
    ex = chain_exchange
    order = ex.ask(ex.makers[0], give_tst=100 * ONE, take_eth=ONE)
    booked = [ex.take(ex.taker, [(order, ONE // 100)])[0] for _ in range(10)]

    result = ex.settle()

    assert result.settled == [t.id for t in booked]
    assert mined_in_nonce_order(ex, trades_of(result.settled))
    assert_database_is_the_traded_map(ex)


def test_a_trade_that_needs_an_earlier_one_of_the_batch_waits_for_it_and_settles(
    chain_exchange,
):
    ex = chain_exchange
    maker = ex.makers[0]
    ask = ex.ask(maker, give_tst=100 * ONE, take_eth=ONE)
    first = ex.take(ex.taker, [(ask, ONE // 2)])[0]
    # The maker spends the Ether the first trade pays it, which the contract only has
    # once that trade is mined: alone against the latest block, the second is refused.
    from tests.chain.settling import signer_of
    from tests.trading import place

    bid = place(
        signer_of(maker),
        give_token=ex.eth,
        give_amount=ONE // 4,
        take_token=ex.tst,
        take_amount=25 * ONE,
    )
    second = ex.take(ex.taker, [(bid, 10 * ONE)])[0]

    result = ex.settle()

    # Not failed, not halted: it led the next batch and settled after the first.
    assert result.settled == [first.id, second.id] and not result.halted
    first, second = trades_of([first.id, second.id])
    assert second.operator_nonce == first.operator_nonce + 1
    assert_database_is_the_traded_map(ex)


def test_a_refused_trade_behind_others_is_never_sent_and_the_rest_settles(chain_exchange, fund):
    ex = chain_exchange
    phantom = ex.deployment.users[3]
    fund(phantom.address, ex.tst, 500 * ONE)  # credited here, never deposited on chain
    good_order = ex.ask(ex.makers[0], give_tst=100 * ONE, take_eth=ONE)
    bad_order = ex.ask(phantom, give_tst=100 * ONE, take_eth=ONE)
    before = ex.take(ex.taker, [(good_order, ONE // 4)])[0]
    bad = ex.take(ex.taker, [(bad_order, ONE // 4)])[0]
    after = ex.take(ex.taker, [(good_order, ONE // 4)])[0]
    nonce_before = ex.operator_nonce()

    result = ex.settle()

    assert result.settled == [before.id, after.id] and result.failed == [bad.id]
    assert not result.halted
    assert [t.settlement_status for t in trades_of([before.id, bad.id, after.id])] == [
        "SETTLED",
        "FAILED",
        "SETTLED",
    ]
    assert "maker balance too low" in Trade.objects.get(id=bad.id).settlement_error
    assert ex.operator_nonce() == nonce_before + 2  # the refused one was never sent
    assert_database_is_the_traded_map(ex)


def test_a_revert_inside_a_batch_quarantines_it_and_the_later_trades_settle(
    chain_exchange, fund, monkeypatch
):
    monkeypatch.setattr(settler, "BATCH_SIZE", 4)
    ex = chain_exchange
    maker, other = ex.makers
    # The ledger credits the maker 1000 TST more than the contract holds: each of its two
    # trades alone fits the contract's balance (the simulation passes), both do not.
    fund(maker.address, ex.tst, 1000 * ONE)
    ask_one = ex.ask(maker, give_tst=800 * ONE, take_eth=ONE)
    ask_two = ex.ask(maker, give_tst=800 * ONE, take_eth=ONE)
    good = ex.ask(other, give_tst=100 * ONE, take_eth=ONE)
    first = ex.take(ex.taker, [(ask_one, 3 * ONE // 4)])[0]  # 600 TST
    bad = ex.take(ex.taker, [(ask_two, 9 * ONE // 16)])[0]  # 450 TST: 1050 > 1000
    later = [ex.take(ex.taker, [(good, ONE // 10)])[0] for _ in range(2)]
    next_batch = ex.take(ex.taker, [(good, ONE // 10)])[0]
    nonce_before = ex.operator_nonce()

    result = ex.settle()

    assert result.failed == [bad.id] and not result.halted
    # The later trades of the batch settle on their own receipts, the next batch after.
    assert result.settled == [first.id, *[t.id for t in later], next_batch.id]
    bad_trade = Trade.objects.get(id=bad.id)
    assert bad_trade.settlement_error == f"reverted in {bad_trade.transaction_hash}"
    assert not ex.client.receipt(bad_trade.transaction_hash).succeeded
    assert not Network.objects.get(pk=ex.network.pk).settlement_halted
    # Nothing is sent twice.
    assert ex.settle().settled == []
    assert ex.operator_nonce() == nonce_before + 5
    assert ex.client.order_fills(ask_two.hash) == 0
    assert ex.client.order_fills(good.hash) == 3 * ONE // 10
    assert_database_is_the_traded_map(ex)


def test_a_crash_between_claim_and_broadcast_resends_the_very_same_transactions(
    chain_exchange, monkeypatch
):
    ex = chain_exchange
    order = ex.ask(ex.makers[0], give_tst=100 * ONE, take_eth=ONE)
    booked = [ex.take(ex.taker, [(order, ONE // 10)])[0] for _ in range(5)]
    ids = [t.id for t in booked]
    nonce_before = ex.operator_nonce()

    def killed(*_args, **_kwargs):
        raise SystemExit("the worker died after the claim committed")

    with monkeypatch.context() as patched:
        patched.setattr(settler.outbox, "broadcast_batch", killed)
        with pytest.raises(SystemExit):
            ex.settle()
    stored = trades_of(ids)
    assert {t.settlement_status for t in stored} == {"SENT"}
    assert all(t.broadcast_at is None for t in stored)
    assert ex.operator_nonce() == nonce_before  # nothing reached the node

    assert ex.settle().resent == ids
    assert ex.settle().settled == ids

    for before, after in zip(stored, trades_of(ids), strict=True):
        assert after.transaction_hash == before.transaction_hash  # the very same ones
        assert after.operator_nonce == before.operator_nonce
        assert ex.client.receipt(after.transaction_hash).succeeded
    assert ex.operator_nonce() == nonce_before + 5
    assert ex.client.order_fills(order.hash) == 5 * ONE // 10
    assert_database_is_the_traded_map(ex)
