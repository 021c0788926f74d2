"""The only code that changes a balance: lock the rows, apply a delta, write the entry.

Callers run inside transaction.atomic(). Rows are locked in id order, so two
transactions that need the same balances can never deadlock.
"""

import functools
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Model, Q
from django.utils import timezone

from exchange.models import Balance, LedgerEntry, LedgerKind, Network, Token
from exchange.prepared_statements import prepared_fetchall
from exchange.services.rows import (
    Statement,
    as_saved,
    model_columns,
    model_of_row,
    rows_write,
)
from exchange.streams.events import balances_changed

BalanceKey = tuple[str, int]  # (account, token id)
# A balance_changes item: (balance, kind, total delta, held delta, reference).
BalanceChange = tuple[Balance, LedgerKind, int, int, str]


class InsufficientBalance(Exception):
    def __init__(self, balance: Balance, needed: Decimal):
        super().__init__(
            f"available {balance.available} of token {balance.token_id} is less than {needed}"
        )
        self.balance = balance
        self.needed = needed


@functools.cache
def _lock_sql() -> str:
    """_locked's statement on PostgreSQL, built once per process: the keys as two
    arrays, so that the text never changes with their number (prepared once per
    connection, no SQL compilation per call)."""
    return (
        f"SELECT {model_columns(Balance, 'b')} FROM exchange_balance AS b"
        " WHERE (b.account, b.token_id) IN"
        " (SELECT * FROM unnest(%(accounts)s::text[], %(tokens)s::bigint[]))"
        " ORDER BY b.id FOR UPDATE OF b"
    )


def _locked(wanted: set[BalanceKey]) -> dict[BalanceKey, Balance]:
    if connection.vendor == "postgresql":
        keys = sorted(wanted)
        found = prepared_fetchall(
            _lock_sql(),
            {
                "accounts": [account for account, _ in keys],
                "tokens": [token_id for _, token_id in keys],
            },
        )
        balances = [model_of_row(Balance, row) for row in found]
        return {(balance.account, balance.token_id): balance for balance in balances}
    # One term per token (account IN ...): cheap to build for thousands of keys.
    by_token: dict[int, list[str]] = {}
    for account, token_id in sorted(wanted):
        by_token.setdefault(token_id, []).append(account)
    pairs = Q()
    for token_id, accounts in by_token.items():
        pairs |= Q(token_id=token_id, account__in=accounts)
    rows = Balance.objects.select_for_update().filter(pairs).order_by("id")
    return {(b.account, b.token_id): b for b in rows if (b.account, b.token_id) in wanted}


def balances_lock(*, network: Network, keys: Iterable[BalanceKey]) -> dict[BalanceKey, Balance]:
    """Locks every row named, in id order, creating the missing ones.

    The usual case (every row exists) is one SELECT ... FOR UPDATE. Only when a row
    is missing is it inserted (ON CONFLICT DO NOTHING: a concurrent twin wins) and
    the whole set locked again in id order; the rows already held stay held.
    """
    assert transaction.get_connection().in_atomic_block, "balances_lock needs a transaction"
    wanted = {(account.lower(), token_id) for account, token_id in keys}
    if not wanted:
        return {}
    locked = _locked(wanted)
    missing = wanted - locked.keys()
    if missing:
        Balance.objects.bulk_create(
            [Balance(network=network, account=a, token_id=t) for a, t in sorted(missing)],
            ignore_conflicts=True,
        )
        locked = _locked(wanted)
    return locked


def _apply(
    balance: Balance, total_delta: int | Decimal, held_delta: int | Decimal
) -> tuple[int, int]:
    """Sets the balance's new total and held in memory, or refuses (InsufficientBalance)
    a change that would make either negative or hold more than the total."""
    # In int: Decimal arithmetic rounds to 28 significant digits, amounts have up to 78.
    total = int(balance.total) + int(total_delta)
    held = int(balance.held) + int(held_delta)
    if total < 0 or held < 0 or held > total:
        raise InsufficientBalance(balance, Decimal(held_delta or -total_delta))
    balance.total, balance.held = total, held
    return total, held


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
    total, held = _apply(balance, total_delta, held_delta)
    balance.updated_at = timezone.now()
    entry = LedgerEntry(
        balance=balance,
        kind=kind,
        total_delta=total_delta,
        held_delta=held_delta,
        total_after=total,
        held_after=held,
        reference=reference,
    )
    _write([balance], [entry])
    return entry


def _write(
    balances: list[Balance],
    entries: list[LedgerEntry],
    updates: Sequence[tuple[Sequence[Model], Sequence[str]]] = (),
    inserts: Sequence[Sequence[Model]] = (),
    statements: Sequence[Statement] = (),
) -> None:
    """The balances' new total and held and their entries (with the caller's other
    rows, if any): one statement on PostgreSQL."""
    rows_write(
        updates=[(balances, ["total", "held", "updated_at"]), *updates],
        inserts=[entries, *inserts],
        statements=statements,
    )
    balances_changed(balances)


def balance_returned(*, account: str, token_id: int, row: Sequence[Any]) -> Balance:
    """The balance a hot path's statement changed and returned as (id, network id,
    total, held): what its stream event needs, without a read."""
    balance_id, network_id, total, held = row
    return as_saved(
        Balance(
            id=balance_id,
            network_id=network_id,
            account=account,
            token_id=token_id,
            total=total,
            held=held,
        )
    )


def token_balance_lock(*, token: Token, account: str) -> Balance:
    return balances_lock(network=token.network, keys=[(account, token.id)])[
        (account.lower(), token.id)
    ]


def balance_changes(
    changes: Iterable[BalanceChange],
    *,
    updates: Sequence[tuple[Sequence[Model], Sequence[str]]] = (),
    inserts: Sequence[Sequence[Model]] = (),
    statements: Sequence[Statement] = (),
) -> list[LedgerEntry]:
    """balance_change for many (balance, kind, total_delta, held_delta, reference), in
    order, with the same per-change refusal, written in one statement on PostgreSQL
    (the UPDATE of the balances touched, the INSERT of the entries). Zero changes
    write no entry.

    `updates` ((objects, fields) pairs), `inserts` (lists of new objects, their pks
    set) and `statements` (PostgreSQL only; a rows.Returning gets the rows its
    RETURNING gave) are the caller's other writes of the
    transaction (rows_write): in the same statement, so a hot path pays one round trip
    for all its writes. They must not be balances or ledger entries."""
    entries: list[LedgerEntry] = []
    touched: dict[int, Balance] = {}
    for balance, kind, total_delta, held_delta, reference in changes:
        if not (total_delta or held_delta):
            continue
        total, held = _apply(balance, total_delta, held_delta)
        touched[balance.pk] = balance
        entries.append(
            LedgerEntry(
                balance=balance,
                kind=kind,
                total_delta=total_delta,
                held_delta=held_delta,
                total_after=total,
                held_after=held,
                reference=reference,
            )
        )
    if not entries:
        rows_write(updates=updates, inserts=inserts, statements=statements)
        return []
    moment = timezone.now()
    for balance in touched.values():
        balance.updated_at = moment
    _write(list(touched.values()), entries, updates, inserts, statements)
    return entries


def balance_credits(
    *, network: Network, kind: LedgerKind, credits: Sequence[tuple[int, str, int, str]]
) -> list[LedgerEntry]:
    """Credits many (token id, account, amount, reference) in the caller's transaction:
    the balances are locked (created if missing) in id order in one statement, and a
    reference already booked with this kind on its balance is skipped, so a repeated
    call credits nothing twice. Then balance_changes: one UPDATE, one INSERT."""
    assert transaction.get_connection().in_atomic_block, "balance_credits needs a transaction"
    if not credits:
        return []
    locked = balances_lock(
        network=network, keys=[(account, token_id) for token_id, account, _, _ in credits]
    )
    booked = set(
        LedgerEntry.objects.filter(
            kind=kind, reference__in={reference for *_, reference in credits}
        ).values_list("balance_id", "reference")
    )
    changes = []
    for token_id, account, amount, reference in credits:
        balance = locked[(account.lower(), token_id)]
        if (balance.pk, reference) in booked:
            continue
        booked.add((balance.pk, reference))
        changes.append((balance, kind, int(amount), 0, reference))
    return balance_changes(changes)
