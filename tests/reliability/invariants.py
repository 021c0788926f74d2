"""The money invariants every reliability test ends with, on one network."""

from collections import defaultdict

from django.db.models import Sum

from exchange.models import (
    Balance,
    LedgerEntry,
    Network,
    Order,
    OrderStatus,
    Trade,
    Transfer,
    TransferKind,
    TransferStatus,
)
from exchange.services.orders import order_remaining_give

PENDING = [TransferStatus.PENDING, TransferStatus.PROCESSING]


def assert_holds_are_open_orders_plus_pending_withdrawals(network: Network) -> None:
    expected: dict = defaultdict(int)
    for order in Order.objects.filter(network=network, status=OrderStatus.OPEN):
        expected[(order.account, order.give_token_id)] += order_remaining_give(order)
    for account, token_id, amount in Transfer.objects.filter(
        network=network, kind=TransferKind.WITHDRAWAL, status__in=PENDING
    ).values_list("account", "token_id", "amount"):
        expected[(account, token_id)] += int(amount)
    held = {
        (account, token): int(held)
        for account, token, held in Balance.objects.filter(network=network).values_list(
            "account", "token_id", "held"
        )
        if held
    }
    assert held == {key: value for key, value in expected.items() if value}


def assert_no_balance_negative(network: Network) -> None:
    for total, held in Balance.objects.filter(network=network).values_list("total", "held"):
        assert 0 <= held <= total


def assert_balances_are_their_ledger(network: Network) -> None:
    sums = {
        row["balance"]: (row["total"], row["held"])
        for row in LedgerEntry.objects.filter(balance__network=network)
        .values("balance")
        .annotate(total=Sum("total_delta"), held=Sum("held_delta"))
    }
    for balance_id, total, held in Balance.objects.filter(network=network).values_list(
        "id", "total", "held"
    ):
        assert sums.get(balance_id, (0, 0)) == (total, held), f"balance {balance_id}"


def assert_tokens_conserved(network: Network, deposited: dict, withdrawn: dict) -> None:
    """Each token's sum of balances (fee account included) is what came in minus what
    left in completed withdrawals (amount minus the fee the fee account keeps)."""
    for token_id in set(deposited) | set(withdrawn):
        total = Balance.objects.filter(network=network, token_id=token_id).aggregate(
            total=Sum("total")
        )["total"]
        assert (total or 0) == deposited.get(token_id, 0) - withdrawn.get(token_id, 0)


def assert_no_overfill(network: Network) -> None:
    filled = {
        row["order"]: row["amount"]
        for row in Trade.objects.filter(network=network)
        .values("order")
        .annotate(amount=Sum("take_amount"))
    }
    for order in Order.objects.filter(network=network):
        assert order.filled <= order.take_amount, f"order {order.hash} overfilled"
        assert filled.get(order.id, 0) == order.filled, f"order {order.hash} trades != filled"
        if order.filled == order.take_amount:
            assert order.status == OrderStatus.FILLED


def assert_money_exact(network: Network, deposited: dict, withdrawn: dict | None = None) -> None:
    assert_no_balance_negative(network)
    assert_holds_are_open_orders_plus_pending_withdrawals(network)
    assert_balances_are_their_ledger(network)
    assert_no_overfill(network)
    assert_tokens_conserved(network, deposited, withdrawn or {})
