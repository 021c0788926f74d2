"""Amounts and prices stay exact on the database in use: run on PostgreSQL by
`make test` and on the embedded SQLite by `make test-sqlite` (relayer/sqlite_exact)."""

import pytest
from django.db.models import Sum

from exchange.models import Balance, LedgerEntry, OrderSide, Transfer, TransferStatus
from exchange.models.fields import UINT256_MAX
from exchange.selectors.orders import orderbook_side
from exchange.services.withdrawals import withdrawal_complete, withdrawal_request
from tests.exchange.test_withdrawals import signed_withdrawal
from tests.signing import address_of, new_signer
from tests.trading import balance, execute, fill, place

pytestmark = pytest.mark.django_db

# 18-decimal amounts beyond 2^63 and beyond a float's 53 bits.
MILLION = 10**24
FEE_ACCOUNT = "0x" + "fe" * 20


def ledger_matches_balances() -> None:
    """Every balance equals the sum of its ledger entries, in SQL and in Python."""
    sums = {
        row["balance_id"]: (row["total"], row["held"])
        for row in LedgerEntry.objects.values("balance_id")
        .annotate(total=Sum("total_delta"), held=Sum("held_delta"))
        .order_by()
    }
    for row in Balance.objects.all():
        entries = LedgerEntry.objects.filter(balance=row).values_list("total_delta", "held_delta")
        in_python = (sum(int(t) for t, _ in entries), sum(int(h) for _, h in entries))
        # A balance row created for a lock and never changed has no entries.
        assert (int(row.total), int(row.held)) == in_python == sums.get(row.pk, (0, 0))


@pytest.mark.parametrize("amount", [UINT256_MAX, MILLION + 1])
def test_a_balance_round_trips_exactly(token, fund, amount):
    signer = new_signer()
    fund(signer, token, amount)

    assert balance(signer, token) == (amount, 0)
    assert Balance.objects.filter(token=token, total=amount).count() == 1
    assert Balance.objects.filter(token=token, total__lt=amount).count() == 0
    ledger_matches_balances()


def test_the_order_book_orders_prices_that_differ_past_a_floats_precision(market, fund):
    maker = new_signer()
    fund(maker, market.quote, 3 * MILLION)
    expiry_ms = 4_000_000_000_000
    # Asks (give QUOTE, take BASE), lowest price first; the cheaper one arrives last.
    dearer = place(
        maker, give_token=market.quote, give_amount=MILLION,
        take_token=market.base, take_amount=MILLION + 2, expiry_ms=expiry_ms,
    )  # fmt: skip
    cheaper = place(
        maker, give_token=market.quote, give_amount=MILLION,
        take_token=market.base, take_amount=MILLION + 1, expiry_ms=expiry_ms,
    )  # fmt: skip

    book = list(orderbook_side(market, OrderSide.ASK, 0).values_list("id", "price"))

    assert [order_id for order_id, _ in book] == [cheaper.id, dearer.id]
    assert book[0][1] < book[1][1]
    assert (cheaper.price, dearer.price) == tuple(price for _, price in book)


def test_deposit_trade_and_withdrawal_keep_the_ledger_equal_to_the_balances(network, market, fund):
    maker, taker = new_signer(), new_signer()
    fund(maker, market.quote, 5 * MILLION + 1)
    fund(taker, market.base, 7 * MILLION + 3)
    order = place(
        maker, give_token=market.quote, give_amount=3 * MILLION + 1,
        take_token=market.base, take_amount=2 * MILLION + 7,
    )  # fmt: skip
    execute(network, [fill(taker, order, MILLION + 5)])
    fee = 10**15 + 1
    market.quote.withdrawal_fee = fee
    market.quote.save()
    withdrawal = withdrawal_request(
        **signed_withdrawal(taker, network=network, token=market.quote, amount=MILLION // 3)
    )
    Transfer.objects.filter(id=withdrawal.id).update(
        status=TransferStatus.PROCESSING, transaction_hash="0x" + "aa" * 32
    )
    assert withdrawal_complete(
        withdrawal_id=withdrawal.id, block_number=7, block_hash="0x" + "bb" * 32,
        fee_account=FEE_ACCOUNT,
    )  # fmt: skip

    ledger_matches_balances()
    totals = {
        token_id: sum(int(total) for total in Balance.objects.filter(token_id=token_id)
                      .values_list("total", flat=True))
        for token_id in (market.base_id, market.quote_id)
    }  # fmt: skip
    # Nothing created or lost but what left the exchange (the fee stays), to the unit.
    assert totals == {
        market.base_id: 7 * MILLION + 3,
        market.quote_id: 5 * MILLION + 1 - (MILLION // 3 - fee),
    }
    assert Balance.objects.filter(token=market.quote).aggregate(total=Sum("total")) == {
        "total": totals[market.quote_id]
    }
    assert balance(address_of(maker), market.base)[0] > 0
