"""An operator's retry of a withdrawal that failed or sits in the queue.

Retrying must never pay twice, so only two cases are allowed:
- FAILED, with its hold released (withdrawal_fail wrote the RELEASE): the amount is held
  again from the available balance and the withdrawal goes back to PENDING, its old
  transaction forgotten. A FAILED withdrawal has no transaction that can still be mined
  (it reverted, or was refused before sending, or its nonce went to another
  transaction), and the dispatcher asks the contract (gas estimation, `withdrawn`)
  before signing, so a withdrawHash already paid is never sent again.
- PENDING: nothing changes but the dispatcher is queued again for its network.
PROCESSING (a signed transaction may be in flight) and COMPLETE are refused: the
confirmer owns those.
"""

import logging

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from exchange.models import LedgerEntry, LedgerKind, Transfer, TransferKind, TransferStatus
from exchange.services.chain_jobs import withdrawal_dispatch_nudge
from exchange.services.ledger import balance_change, token_balance_lock
from exchange.streams.events import transfers_changed

logger = logging.getLogger(__name__)


class WithdrawalRetryRefused(Exception):
    """Why this withdrawal cannot be retried (shown to the operator)."""


def _held_by(withdrawal: Transfer) -> int:
    """What the withdrawal's HOLD and RELEASE entries leave held (0 once released)."""
    held = LedgerEntry.objects.filter(
        reference=f"transfer:{withdrawal.id}",
        kind__in=[LedgerKind.HOLD, LedgerKind.RELEASE],
        balance__account=withdrawal.account,
        balance__token=withdrawal.token_id,
    ).aggregate(held=Sum("held_delta"))["held"]
    return int(held or 0)


def withdrawal_retry(*, withdrawal_id: int, operator: str) -> str:
    """Re-queues one withdrawal (see the module docstring); returns what was done or
    raises WithdrawalRetryRefused with the reason."""
    with transaction.atomic():
        withdrawal = (
            Transfer.objects.select_for_update()
            .select_related("token__network")
            .filter(id=withdrawal_id, kind=TransferKind.WITHDRAWAL)
            .first()
        )
        if withdrawal is None:
            raise WithdrawalRetryRefused(f"no withdrawal {withdrawal_id}")
        network_id = withdrawal.network_id
        if withdrawal.status == TransferStatus.PENDING:
            transaction.on_commit(lambda: withdrawal_dispatch_nudge(network_id), robust=True)
            outcome = "dispatch queued again"
        elif withdrawal.status == TransferStatus.FAILED:
            if _held_by(withdrawal) != 0:
                raise WithdrawalRetryRefused("its hold was not released: not retried")
            balance = token_balance_lock(token=withdrawal.token, account=withdrawal.account)
            amount = int(withdrawal.amount)
            if balance.available < amount:
                raise WithdrawalRetryRefused(
                    f"the available balance {balance.available} is less than {amount}"
                )
            balance_change(
                balance,
                kind=LedgerKind.HOLD,
                held_delta=amount,
                reference=f"transfer:{withdrawal.id}",
            )
            previous = f"{withdrawal.error} (tx {withdrawal.transaction_hash or 'none'})"
            Transfer.objects.filter(id=withdrawal.id, status=TransferStatus.FAILED).update(
                status=TransferStatus.PENDING,
                operator_nonce=None,
                raw_transaction="",
                transaction_hash="",
                broadcast_at=None,
                block_number=None,
                block_hash="",
                error=f"retried by {operator} after: {previous}"[:2000],
                updated_at=timezone.now(),
            )
            transfers_changed([withdrawal.id])
            transaction.on_commit(lambda: withdrawal_dispatch_nudge(network_id), robust=True)
            outcome = "held again and queued (PENDING)"
        else:
            raise WithdrawalRetryRefused(
                f"it is {withdrawal.status}: only FAILED or PENDING withdrawals are retried"
            )
    logger.warning(
        "event=withdrawal_retry transfer=%s operator=%s outcome=%s",
        withdrawal_id,
        operator,
        outcome,
    )
    return outcome
