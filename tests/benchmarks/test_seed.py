"""The benchmark's seeded data obeys the exchange's own rules, at a tiny scale."""

import pytest
from django.db.models import F, Sum

from benchmarks.seed import seed
from chain.hashing import order_hash
from chain.signatures import recover_signer
from exchange.models import Balance, Candle, LedgerEntry, Market, Order, Trade
from exchange.services.candles import candles_rebuild

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded():
    return seed(scale=0.001, log=lambda message: None, vacuum=False)


def test_every_balance_is_the_sum_of_its_ledger_entries(seeded):
    entries = {
        row["balance_id"]: row
        for row in LedgerEntry.objects.values("balance_id").annotate(
            total=Sum("total_delta"), held=Sum("held_delta")
        )
    }
    balances = list(Balance.objects.all())
    assert len(balances) == len(seeded.accounts) * 6
    for balance in balances:
        assert (balance.total, balance.held) == (
            entries[balance.id]["total"],
            entries[balance.id]["held"],
        )
    last = LedgerEntry.objects.order_by("balance_id", "-id").distinct("balance_id")
    assert all(
        (e.total_after, e.held_after) == (e.balance.total, e.balance.held)
        for e in last.select_related("balance")
    )


def test_the_held_funds_are_the_open_orders_give_amounts(seeded):
    held = Balance.objects.aggregate(held=Sum("held"))["held"]
    assert held == Order.objects.filter(status="OPEN").aggregate(give=Sum("give_amount"))["give"]


def test_open_orders_carry_their_real_hash_and_the_makers_signature(seeded):
    for order in Order.objects.filter(status="OPEN").select_related("give_token", "take_token")[
        :20
    ]:
        expected = order_hash(
            contract=seeded.contract,
            account=order.account,
            give_token=order.give_token.address,
            give_amount=int(order.give_amount),
            take_token=order.take_token.address,
            take_amount=int(order.take_amount),
            nonce=int(order.nonce),
            expiry_ms=order.expiry_ms,
        )
        assert order.hash == expected
        assert recover_signer(expected, order.signature) == order.account


def test_the_seeded_candles_equal_the_ones_rebuilt_from_the_trades(seeded):
    fields = ["market_id", "period", "bucket_start", "open", "high", "low", "close"]
    fields += ["base_volume", "quote_volume", "trade_count", "first_trade_id", "last_trade_id"]
    seeded_rows = list(
        Candle.objects.order_by("market_id", "period", "bucket_start").values(*fields)
    )
    assert seeded_rows
    for market in Market.objects.all():
        candles_rebuild(market=market)
    rebuilt = list(Candle.objects.order_by("market_id", "period", "bucket_start").values(*fields))
    assert seeded_rows == rebuilt


def test_the_hot_account_takes_one_trade_in_a_hundred_and_never_its_own_order(seeded):
    assert Trade.objects.filter(taker=seeded.hot_account).count() == seeded.hot_trades
    assert not Trade.objects.filter(maker=seeded.hot_account).exists()
    assert not Trade.objects.filter(maker=F("taker")).exists()
