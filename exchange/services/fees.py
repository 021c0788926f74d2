"""Trade fees: accrued without a shared row lock, rolled up into the fee account's balance.

A trade owes the fee account its maker fee, taker fee and gas fee. Crediting them at
once would lock the fee account's balance row (one per token) in every trade of every
market: a row all fills would queue on. Instead a trade appends FeeAccrual rows in its
own transaction (an INSERT locks nothing another trade needs), and fees_roll_up moves
them into the fee account's balance later: one ledger entry per accrual (the kind and
the trade's uuid as reference, as the trade used to write), the balance updated once,
the accruals deleted, all in one transaction. The Celery beat runs it every
FEES_ROLL_UP_SECONDS; the settler runs it before it settles (the contract pays the fee
account when a trade settles: the ledger has credited it by then), and a reversal runs
it first (the fees it takes back are in the balance).

Until rolled up, a fee is in no Balance row: GET balances of the fee account lags by up
to FEES_ROLL_UP_SECONDS, and the fee account cannot spend or withdraw it yet.
Reconciliation adds the pending accruals to what the contract should hold
(chain/reconciliation.py), so the ledger and the contract still agree exactly.
"""

from collections.abc import Iterable
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Sum

from exchange.models import FeeAccrual, LedgerKind, Network
from exchange.services.ledger import balance_changes, balances_lock


def fee_accrual_rows(
    *, network_id: int, fees: Iterable[tuple[int, LedgerKind, int, str]]
) -> list[FeeAccrual]:
    """The (token id, kind, amount, reference) accruals as unsaved rows, zero amounts
    left out: the trade inserts them in its transaction (with its other writes)."""
    return [
        FeeAccrual(
            network_id=network_id, token_id=token_id, kind=kind, amount=amount, reference=ref
        )
        for token_id, kind, amount, ref in fees
        if amount
    ]


def fees_pending(network: Network) -> dict[int, int]:
    """token id -> the accrued fees not yet in the fee account's balance."""
    return {
        token_id: int(total)
        for token_id, total in FeeAccrual.objects.filter(network=network)
        .values("token_id")
        .annotate(total=Sum("amount"))
        .values_list("token_id", "total")
    }


def _taken(network: Network, token_ids: list[int]) -> list[tuple[int, int, str, Decimal, str]]:
    """Deletes the network's accruals in these tokens, returning them in id order."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM exchange_feeaccrual WHERE network_id = %s AND token_id = ANY(%s)"
                " RETURNING id, token_id, kind, amount, reference",
                [network.id, token_ids],
            )
            return sorted(cursor.fetchall())
    rows = list(
        FeeAccrual.objects.filter(network=network, token_id__in=token_ids)
        .order_by("id")
        .values_list("id", "token_id", "kind", "amount", "reference")
    )
    FeeAccrual.objects.filter(id__in=[row[0] for row in rows]).delete()
    return rows


def fees_roll_up(*, network: Network) -> int:
    """Moves the network's accrued fees into the fee account's balances; returns how
    many accruals it booked. Safe to run concurrently: the fee account's balances are
    locked first, and an accrual is deleted by exactly one run."""
    with transaction.atomic():
        token_ids = sorted(
            set(FeeAccrual.objects.filter(network=network).values_list("token_id", flat=True))
        )
        if not token_ids:
            return 0
        fee_account = settings.FEE_ACCOUNT.lower()
        balances = balances_lock(network=network, keys=[(fee_account, t) for t in token_ids])
        # Only the tokens whose balances are locked: an accrual of another token
        # committed meanwhile waits for the next run.
        taken = _taken(network, token_ids)
        balance_changes(
            (balances[(fee_account, token_id)], LedgerKind(kind), int(amount), 0, reference)
            for _id, token_id, kind, amount, reference in taken
        )
    return len(taken)
