"""Direct withdrawals: a user took funds out through the contract's escape hatch
`withdraw()`, without the relayer. The watcher (chain/watcher.py) records each such
Withdraw event as a PENDING Transfer of kind DIRECT at once, debits it once confirmed,
and fails it if its block leaves the chain: the deposit rules, with the opposite sign.

Confirming one, in one transaction (locks: the transfer, the account's open orders by
id, then its balances by id):
1. every open order of the account is cancelled and its hold released: the account has
   left the relayer, and its orders may sell what is no longer in the contract;
2. its PENDING relayer withdrawals of the token (not yet sent) are FAILED, holds released;
3. the balance is debited by the amount, as far as the ledger can: at most the balance's
   available part. What the ledger cannot debit (the account had sold it in trades not yet
   settled, or a relayer withdrawal is in flight) is the transfer's `shortfall`. The
   contract will refuse those trades; the settler quarantines them and an operator
   reverses them, which gives the tokens back to this balance, where shortfalls_repay
   debits them at once. The ledger never goes negative and never shows what the contract
   no longer holds once the trades that owe it are resolved.
"""

import logging
from collections.abc import Sequence

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from exchange.models import (
    Balance,
    LedgerKind,
    Network,
    Order,
    OrderStatus,
    Transfer,
    TransferKind,
    TransferStatus,
)
from exchange.services.chain_logs import SeenLog, seen_transfer_fail
from exchange.services.ledger import balance_change, balances_lock
from exchange.services.orders import orders_close
from exchange.streams.events import transfers_changed

logger = logging.getLogger(__name__)


SeenWithdrawal = SeenLog  # a Withdraw event the relayer did not send, as read


def direct_withdrawals_record(*, network: Network, withdrawals: Sequence[SeenWithdrawal]) -> None:
    """Records each event once (PENDING). One seen again in another block (a reorg moved
    its transaction) is PENDING there, even if it had been FAILED when its first block
    left the chain; a COMPLETE one is left alone."""
    with transaction.atomic():
        transfers_changed(_records(network, withdrawals))


def _records(network: Network, withdrawals: Sequence[SeenWithdrawal]) -> list[int]:
    """The ids of the transfers created or moved back to PENDING."""
    changed = []
    for seen in withdrawals:
        transfer, created = Transfer.objects.get_or_create(
            network=network,
            kind=TransferKind.DIRECT,
            transaction_hash=seen.transaction_hash.lower(),
            log_index=seen.log_index,
            defaults={
                "account": seen.account.lower(),
                "token": seen.token,
                "amount": seen.amount,
                "block_number": seen.block_number,
                "block_hash": seen.block_hash.lower(),
            },
        )
        if created:
            changed.append(transfer.id)
        if created or transfer.block_hash == seen.block_hash.lower():
            continue
        moved = (
            Transfer.objects.filter(id=transfer.id, block_hash=transfer.block_hash)
            .exclude(status=TransferStatus.COMPLETE)
            .update(
                block_number=seen.block_number,
                block_hash=seen.block_hash.lower(),
                status=TransferStatus.PENDING,
                error="",
                updated_at=timezone.now(),
            )
        )
        if moved:
            changed.append(transfer.id)
        logger.info("event=direct_withdrawal_moved transfer=%s", transfer.id)
    return changed


def direct_withdrawal_confirm(*, transfer_id: int, block_hash: str) -> bool:
    """PENDING -> COMPLETE and the debit (module docstring), if the withdrawal is still in
    `block_hash`, which the caller has just found canonical with enough confirmations."""
    with transaction.atomic():
        changed = Transfer.objects.filter(
            id=transfer_id,
            kind=TransferKind.DIRECT,
            status=TransferStatus.PENDING,
            block_hash=block_hash.lower(),
        ).update(status=TransferStatus.COMPLETE, updated_at=timezone.now())
        if changed != 1:
            return False
        withdrawal = Transfer.objects.select_related("token__network").get(id=transfer_id)
        network, key = withdrawal.token.network, (withdrawal.account, withdrawal.token_id)
        # Lock order: transfers, orders by id, then balances by id.
        pending = _pending_withdrawals_locked(withdrawal)
        orders = list(
            Order.objects.select_for_update()
            .filter(network=network, account=withdrawal.account, status=OrderStatus.OPEN)
            .order_by("id")
        )
        balances = balances_lock(
            network=network, keys=[key, *((o.account, o.give_token_id) for o in orders)]
        )
        orders_close(network, orders, balances=balances)
        _pending_withdrawals_fail(withdrawal, pending, balances[key])
        transfers_changed([withdrawal.id, *(item.id for item in pending)])
        debit = min(int(withdrawal.amount), balances[key].available)
        if debit:
            balance_change(
                balances[key],
                kind=LedgerKind.WITHDRAWAL,
                total_delta=-debit,
                reference=f"transfer:{withdrawal.id}",
            )
        shortfall = int(withdrawal.amount) - debit
        if shortfall:
            Transfer.objects.filter(id=withdrawal.id).update(
                shortfall=shortfall,
                error=f"{shortfall} of the amount was not in the ledger's available balance "
                "(sold in trades not yet settled, or held by a withdrawal in flight): the "
                "contract refuses those trades; reversing them repays the shortfall",
            )
    logger.warning(
        "event=direct_withdrawal_debited transfer=%s account=%s debited=%s shortfall=%s "
        "orders_cancelled=%s withdrawals_failed=%s",
        transfer_id,
        withdrawal.account,
        debit,
        shortfall,
        len(orders),
        len(pending),
    )
    return True


def _pending_withdrawals_locked(withdrawal: Transfer) -> list[Transfer]:
    """The account's relayer withdrawals of the token not yet sent, locked."""
    return list(
        Transfer.objects.select_for_update()
        .filter(
            network_id=withdrawal.network_id,
            kind=TransferKind.WITHDRAWAL,
            status=TransferStatus.PENDING,
            account=withdrawal.account,
            token_id=withdrawal.token_id,
        )
        .order_by("id")
    )


def _pending_withdrawals_fail(
    withdrawal: Transfer, pending: list[Transfer], balance: Balance
) -> None:
    """FAILED with their holds released: the contract no longer holds what they would pay."""
    for item in pending:
        balance_change(
            balance,
            kind=LedgerKind.RELEASE,
            held_delta=-int(item.amount),
            reference=f"transfer:{item.id}",
        )
    Transfer.objects.filter(id__in=[item.id for item in pending]).update(
        status=TransferStatus.FAILED,
        error=f"the account withdrew directly on the contract (transfer {withdrawal.id})",
        updated_at=timezone.now(),
    )


def shortfalls_repay(*, balance: Balance) -> int:
    """Debits the locked balance for the open shortfalls of its direct withdrawals, oldest
    first, as far as its available part allows (the caller holds the row lock in a
    transaction). Returns what it debited."""
    repaid = 0
    owing = (
        Transfer.objects.select_for_update()
        .filter(
            kind=TransferKind.DIRECT,
            status=TransferStatus.COMPLETE,
            account=balance.account,
            token_id=balance.token_id,
            shortfall__gt=0,
        )
        .order_by("id")
    )
    for withdrawal in owing:
        part = min(int(withdrawal.shortfall), balance.available)
        if part <= 0:
            break
        balance_change(
            balance,
            kind=LedgerKind.WITHDRAWAL,
            total_delta=-part,
            reference=f"transfer:{withdrawal.id}",
        )
        Transfer.objects.filter(id=withdrawal.id).update(shortfall=F("shortfall") - part)
        repaid += part
    return repaid


def direct_withdrawal_fail(*, transfer_id: int, block_hash: str, reason: str) -> bool:
    """PENDING -> FAILED for a direct withdrawal whose block left the chain: never debited."""
    return seen_transfer_fail(
        transfer_id=transfer_id, kind=TransferKind.DIRECT, block_hash=block_hash, reason=reason
    )
