"""Deposits read from the chain: recorded when first seen, credited once confirmed.

The watcher (chain/watcher.py) calls these; each is one transaction. A deposit is
credited exactly once: the PENDING -> COMPLETE update is conditional on the status
and on the block hash the watcher just checked against the node, and the credit is
written only when that update changed the row.
"""

import logging

from django.db import transaction
from django.utils import timezone

from exchange.models import Network, Token, Transfer, TransferKind, TransferStatus
from exchange.services.deposits import deposit_credit

logger = logging.getLogger(__name__)


def deposit_record(
    *,
    network: Network,
    token: Token,
    account: str,
    amount: int,
    transaction_hash: str,
    log_index: int,
    block_number: int,
    block_hash: str,
) -> Transfer:
    """Records a Deposit log once (PENDING). The same log seen again in another block
    (a reorg moved its transaction) updates where it is; one that had been FAILED
    because its block left the chain is PENDING again."""
    transaction_hash, block_hash = transaction_hash.lower(), block_hash.lower()
    with transaction.atomic():
        deposit, created = Transfer.objects.select_for_update().get_or_create(
            network=network,
            kind=TransferKind.DEPOSIT,
            transaction_hash=transaction_hash,
            log_index=log_index,
            defaults={
                "account": account.lower(),
                "token": token,
                "amount": amount,
                "block_number": block_number,
                "block_hash": block_hash,
            },
        )
        if created or deposit.block_hash == block_hash:
            return deposit
        if deposit.status == TransferStatus.COMPLETE:
            # Credited already: only a reorg deeper than the confirmations could do this.
            logger.error(
                "event=credited_deposit_moved transfer=%s old_block=%s new_block=%s",
                deposit.id,
                deposit.block_hash,
                block_hash,
            )
            return deposit
        deposit.block_number, deposit.block_hash = block_number, block_hash
        deposit.status, deposit.error = TransferStatus.PENDING, ""
        deposit.save(update_fields=["block_number", "block_hash", "status", "error", "updated_at"])
        logger.info("event=deposit_moved transfer=%s block=%s", deposit.id, block_number)
        return deposit


def deposit_confirm(*, deposit_id: int, block_hash: str) -> bool:
    """PENDING -> COMPLETE and the credit, if the deposit is still in `block_hash`
    (which the caller has just found canonical at the deposit's height with enough
    confirmations). Returns whether it credited."""
    with transaction.atomic():
        changed = Transfer.objects.filter(
            id=deposit_id,
            kind=TransferKind.DEPOSIT,
            status=TransferStatus.PENDING,
            block_hash=block_hash.lower(),
        ).update(status=TransferStatus.COMPLETE, updated_at=timezone.now())
        if changed != 1:
            return False
        deposit = Transfer.objects.select_related("token__network").get(id=deposit_id)
        deposit_credit(
            token=deposit.token,
            account=deposit.account,
            amount=int(deposit.amount),
            reference=f"deposit:{deposit.id}",
        )
    logger.info("event=deposit_credited transfer=%s amount=%s", deposit_id, deposit.amount)
    return True


def deposit_fail(*, deposit_id: int, block_hash: str, reason: str) -> bool:
    """PENDING -> FAILED for a deposit whose block is no longer canonical; never credited."""
    changed = Transfer.objects.filter(
        id=deposit_id,
        kind=TransferKind.DEPOSIT,
        status=TransferStatus.PENDING,
        block_hash=block_hash.lower(),
    ).update(status=TransferStatus.FAILED, error=reason, updated_at=timezone.now())
    if changed:
        logger.warning("event=deposit_failed transfer=%s reason=%s", deposit_id, reason)
    return changed == 1
