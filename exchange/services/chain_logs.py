"""What the watcher (chain/watcher.py) hands the services of a Deposit or Withdraw event,
and the one way a PENDING transfer recorded from such an event fails: its block left the
chain before its confirmations. Deposits (exchange/services/deposit_records.py) and direct
withdrawals (exchange/services/direct_withdrawals.py) share both."""

import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from exchange.models import Token, Transfer, TransferKind, TransferStatus
from exchange.streams.events import transfers_changed

logger = logging.getLogger(__name__)

_FAILED_EVENT: dict[str, str] = {
    TransferKind.DEPOSIT: "deposit_failed",
    TransferKind.DIRECT: "direct_withdrawal_failed",
}


@dataclass(frozen=True)
class SeenLog:
    """An exchange event of a known token, as the watcher read it."""

    token: Token
    account: str
    amount: int
    transaction_hash: str
    log_index: int
    block_number: int
    block_hash: str


def seen_transfer_fail(*, transfer_id: int, kind: str, block_hash: str, reason: str) -> bool:
    """PENDING -> FAILED for a transfer of `kind` recorded in `block_hash`, a block that is
    no longer canonical: never credited nor debited. True if this call failed it."""
    with transaction.atomic():
        changed = Transfer.objects.filter(
            id=transfer_id,
            kind=kind,
            status=TransferStatus.PENDING,
            block_hash=block_hash.lower(),
        ).update(status=TransferStatus.FAILED, error=reason, updated_at=timezone.now())
        if changed:
            transfers_changed([transfer_id])
    if changed:
        logger.warning("event=%s transfer=%s reason=%s", _FAILED_EVENT[kind], transfer_id, reason)
    return changed == 1
