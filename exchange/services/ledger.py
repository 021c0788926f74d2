"""The only code that changes a balance: lock the rows, apply a delta, write the entry.

Callers run inside transaction.atomic(). Rows are locked in id order, so two
transactions that need the same balances can never deadlock.
"""

from collections.abc import Iterable
from decimal import Decimal

from django.db import transaction

from exchange.models import Balance, LedgerEntry, LedgerKind, Network, Token

BalanceKey = tuple[str, int]  # (account, token id)


class InsufficientBalance(Exception):
    def __init__(self, balance: Balance, needed: Decimal):
        super().__init__(
            f"available {balance.available} of token {balance.token_id} is less than {needed}"
        )
        self.balance = balance
        self.needed = needed


def balances_lock(*, network: Network, keys: Iterable[BalanceKey]) -> dict[BalanceKey, Balance]:
    """Creates any missing rows, then locks every row named, in id order."""
    assert transaction.get_connection().in_atomic_block, "balances_lock needs a transaction"
    wanted = {(account.lower(), token_id) for account, token_id in keys}
    Balance.objects.bulk_create(
        [Balance(network=network, account=a, token_id=t) for a, t in sorted(wanted)],
        ignore_conflicts=True,
    )
    accounts = {account for account, _ in wanted}
    tokens = {token_id for _, token_id in wanted}
    rows = (
        Balance.objects.select_for_update()
        .filter(account__in=accounts, token_id__in=tokens)
        .order_by("id")
    )
    return {(b.account, b.token_id): b for b in rows if (b.account, b.token_id) in wanted}


def balance_change(
    balance: Balance,
    *,
    kind: LedgerKind,
    total_delta: int | Decimal = 0,
    held_delta: int | Decimal = 0,
    reference: str = "",
) -> LedgerEntry:
    """Applies deltas to a locked balance and appends the ledger entry.

    Refuses (InsufficientBalance) any change that would make total or held negative
    or hold more than the total; the database constraints are the last line.
    """
    # In int: Decimal arithmetic rounds to 28 significant digits, amounts have up to 78.
    total = int(balance.total) + int(total_delta)
    held = int(balance.held) + int(held_delta)
    if total < 0 or held < 0 or held > total:
        raise InsufficientBalance(balance, Decimal(held_delta or -total_delta))
    balance.total, balance.held = total, held
    balance.save(update_fields=["total", "held", "updated_at"])
    return LedgerEntry.objects.create(
        balance=balance,
        kind=kind,
        total_delta=total_delta,
        held_delta=held_delta,
        total_after=total,
        held_after=held,
        reference=reference,
    )


def token_balance_lock(*, token: Token, account: str) -> Balance:
    return balances_lock(network=token.network, keys=[(account, token.id)])[
        (account.lower(), token.id)
    ]
