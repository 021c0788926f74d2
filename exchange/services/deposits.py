"""Crediting deposits to the ledger."""

from collections.abc import Sequence

from django.db import transaction

from exchange.models import LedgerEntry, LedgerKind, Network, Token
from exchange.services.ledger import balance_change, balance_credits, token_balance_lock


def deposit_credit(*, token: Token, account: str, amount: int, reference: str) -> LedgerEntry:
    """Adds `amount` base units of `token` to `account`'s balance, once per `reference`.

    `reference` names what is credited (the chain watcher passes its Transfer, e.g.
    "deposit:<transfer id>"). A second call with the same reference for the same balance
    credits nothing and returns the first entry: the check runs under the balance's row
    lock, so concurrent or repeated calls cannot credit twice. Safe to call inside the
    caller's own transaction.atomic() (it nests as a savepoint).
    """
    amount = int(amount)
    if amount <= 0:
        raise ValueError(f"a deposit must be positive, got {amount}")
    if not reference:
        raise ValueError("a deposit needs a reference (what is credited)")
    with transaction.atomic():
        balance = token_balance_lock(token=token, account=account)
        credited = LedgerEntry.objects.filter(
            balance=balance, kind=LedgerKind.DEPOSIT, reference=reference
        ).first()
        if credited is not None:
            return credited
        return balance_change(
            balance, kind=LedgerKind.DEPOSIT, total_delta=amount, reference=reference
        )


def deposits_credit(
    *, network: Network, credits: Sequence[tuple[int, str, int, str]]
) -> list[LedgerEntry]:
    """deposit_credit for many (token id, account, amount, reference) in the caller's
    transaction: the balances are locked once, in id order; a reference already in the
    ledger for its balance credits nothing again."""
    for _token_id, _account, amount, reference in credits:
        if int(amount) <= 0:
            raise ValueError(f"a deposit must be positive, got {amount}")
        if not reference:
            raise ValueError("a deposit needs a reference (what is credited)")
    return balance_credits(network=network, kind=LedgerKind.DEPOSIT, credits=credits)
