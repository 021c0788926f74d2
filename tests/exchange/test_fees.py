"""Trade fees accrue without locking the fee account's balance and are rolled up later
(exchange/services/fees.py)."""

import pytest
from django.conf import settings

from exchange.models import Balance, FeeAccrual, LedgerEntry, LedgerKind
from exchange.services.fees import fees_pending, fees_roll_up
from exchange.services.trades import trade_execute
from exchange.tasks import fees_roll_up_task
from tests.trading import balance, fill, place, token_sums

pytestmark = pytest.mark.django_db

ETH = 10**18
FEE = settings.FEE_ACCOUNT


@pytest.fixture
def bid(maker, market):
    return place(
        maker,
        give_token=market.base,
        give_amount=2 * ETH,
        take_token=market.quote,
        take_amount=4000 * ETH,
    )


def test_a_trade_accrues_its_fees_and_leaves_the_fee_balance_alone(
    network, market, fees, maker, taker, bid
):
    market.base.trade_gas_fee = 10**14
    market.base.save()
    before = token_sums()

    [trade] = trade_execute(network=network, fills=[fill(taker, bid, 1000 * ETH)])

    assert balance(FEE, market.quote) == (0, 0) and balance(FEE, market.base) == (0, 0)
    accrued = set(FeeAccrual.objects.values_list("token_id", "kind", "amount", "reference"))
    assert accrued == {
        (market.quote.id, LedgerKind.TRADE_FEE, ETH, str(trade.uuid)),
        (market.base.id, LedgerKind.TRADE_FEE, 10**15, str(trade.uuid)),
        (market.base.id, LedgerKind.GAS_FEE, 10**14, str(trade.uuid)),
    }
    assert fees_pending(network) == {market.quote.id: ETH, market.base.id: 10**15 + 10**14}
    assert token_sums() == before  # the accruals count as the fee account's


def test_the_roll_up_books_one_entry_per_accrual_once(network, market, fees, maker, taker, bid):
    market.base.trade_gas_fee = 10**14
    market.base.save()
    trades = [
        trade_execute(network=network, fills=[fill(taker, bid, amount)])[0]
        for amount in (1000 * ETH, 500 * ETH)
    ]

    assert fees_roll_up(network=network) == 6
    assert fees_roll_up(network=network) == 0
    assert not FeeAccrual.objects.exists() and fees_pending(network) == {}
    assert balance(FEE, market.quote) == (ETH + ETH // 2, 0)
    assert balance(FEE, market.base) == (10**15 + 10**15 // 2 + 2 * 10**14, 0)
    entries = LedgerEntry.objects.filter(balance__account=FEE)
    assert sorted(entries.values_list("kind", "reference")) == sorted(
        (kind, str(trade.uuid))
        for trade in trades
        for kind in (LedgerKind.TRADE_FEE, LedgerKind.TRADE_FEE, LedgerKind.GAS_FEE)
    )
    # Every fee balance equals the sum of its entries, as for any balance.
    for row in Balance.objects.filter(account=FEE):
        assert int(row.total) == sum(int(e.total_delta) for e in row.entries.all())


def test_the_task_rolls_up_every_network(network, market, fees, maker, taker, bid):
    trade_execute(network=network, fills=[fill(taker, bid, 1000 * ETH)])

    assert fees_roll_up_task() == 2
    assert balance(FEE, market.quote) == (ETH, 0)
