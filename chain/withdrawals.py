"""The withdrawal workers: dispatch sends PENDING withdrawals to the contract, confirm
settles PROCESSING ones once their outcome is known on chain.

Never paying twice rests on the operator-transaction outbox (chain/outbox.py: store the
signed adminWithdraw transaction before sending it, look an unknown outcome up, re-sign
only when the stored one can never be mined) and on the contract, which pays each
withdrawHash once (`withdrawn` map). A reverted transaction fails the withdrawal (hold
released) only if the contract says the hash was not paid.
"""

import logging
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from chain import outbox
from chain.client import (
    ChainError,
    ChainUnavailable,
    ContractReverted,
    ExchangeClient,
    SignedTransaction,
)
from chain.outbox import OperatorOutbox, operator_address
from chain.watcher import required_confirmations
from exchange.models import (
    Network,
    SettlementStatus,
    Trade,
    Transfer,
    TransferKind,
    TransferStatus,
)
from exchange.services.withdrawals import withdrawal_complete, withdrawal_fail
from exchange.streams.events import transfers_changed

logger = logging.getLogger(__name__)

MAX_PER_RUN = 20


@dataclass
class DispatchResult:
    sent: list[int] = field(default_factory=list)
    unknown: list[int] = field(default_factory=list)
    deferred: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


@dataclass
class ConfirmResult:
    completed: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    waiting: list[int] = field(default_factory=list)
    resent: list[int] = field(default_factory=list)


# ---- dispatch ----


def withdrawals_dispatch_run(*, network: Network, client: ExchangeClient) -> DispatchResult:
    """Claims and sends PENDING withdrawals of the network, oldest first, one at a time."""
    result = DispatchResult()
    pending = Transfer.objects.filter(
        network=network, kind=TransferKind.WITHDRAWAL, status=TransferStatus.PENDING
    ).order_by("id")
    # Left PENDING, with the reason visible in the admin; dispatched on a later tick.
    waiting = pending.filter(waiting_for_trades())
    waiting.exclude(error=WAITING_FOR_TRADES).update(error=WAITING_FOR_TRADES)
    result.deferred.extend(waiting.values_list("id", flat=True)[:MAX_PER_RUN])
    pending = pending.exclude(waiting_for_trades())
    for withdrawal_id in pending.values_list("id", flat=True)[:MAX_PER_RUN]:
        try:
            outcome = withdrawal_dispatch(withdrawal_id=withdrawal_id, client=client)
        except ChainUnavailable:
            raise  # the node is down: every other item would fail the same way
        except ChainError as error:
            # One odd answer about one withdrawal must not stop the ones behind it.
            _note(withdrawal_id, f"dispatch error: {error}")
            outcome = "deferred"
        if outcome != "taken":
            getattr(result, outcome).append(withdrawal_id)
    return result


WAITING_FOR_TRADES = "waiting: earlier trades of the account are not settled on chain yet"


def waiting_for_trades() -> Q:
    """Withdrawals whose account has trades booked before them that are not settled on
    chain yet: the contract may not hold the funds until those are, so the withdrawal
    waits (a FAILED trade keeps it waiting: an operator must look). The fee account is
    credited by every trade, so its withdrawals wait for all of them."""
    earlier = Trade.objects.filter(
        network=OuterRef("network"), created_at__lte=OuterRef("created_at")
    ).exclude(settlement_status=SettlementStatus.SETTLED)
    as_party = earlier.filter(Q(maker=OuterRef("account")) | Q(taker=OuterRef("account")))
    return Q(Exists(as_party)) | (Q(account=settings.FEE_ACCOUNT.lower()) & Q(Exists(earlier)))


def _note(withdrawal_id: int, error: str) -> None:
    Transfer.objects.filter(id=withdrawal_id).update(error=error[:500])
    logger.warning("event=withdrawal_error transfer=%s error=%s", withdrawal_id, error)


def withdrawal_dispatch(*, withdrawal_id: int, client: ExchangeClient) -> str:
    """One withdrawal: claim, sign, store, send. Returns what happened."""
    signed = withdrawal_claim(withdrawal_id=withdrawal_id, client=client)
    if isinstance(signed, str):
        return signed
    return withdrawal_broadcast(withdrawal_id=withdrawal_id, signed=signed, client=client)


def withdrawal_claim(*, withdrawal_id: int, client: ExchangeClient) -> SignedTransaction | str:
    """PENDING -> PROCESSING with the signed transaction stored (the outbox's claim);
    nothing is sent yet. The gas estimate simulates the call: a refusal shows here."""
    withdrawal = _pending(withdrawal_id)
    if withdrawal is None:
        return "taken"
    data = WITHDRAWALS.calldata(withdrawal, client)
    try:
        terms = client.transaction_terms(
            to=client.exchange_address, data=data, sender=operator_address(client)
        )
    except ContractReverted as error:
        return _refused(withdrawal_id=withdrawal_id, reason=error.reason, client=client)
    claimed = outbox.claim(
        WITHDRAWALS,
        network=withdrawal.network,
        batch=[(withdrawal_id, data)],
        terms=terms,
        client=client,
    )
    return claimed[0][1] if claimed else "taken"


def _pending(withdrawal_id: int) -> Transfer | None:
    return (
        Transfer.objects.select_related("token", "network")
        .filter(id=withdrawal_id, status=TransferStatus.PENDING)
        .first()
    )


def _withdraw_fields(withdrawal: Transfer) -> dict[str, Any]:
    """adminWithdraw's arguments for a withdrawal (all fixed when it was requested)."""
    return {
        "token": withdrawal.token.address,
        "amount": int(withdrawal.amount),
        "user": withdrawal.account,
        "nonce": int(withdrawal.nonce or 0),  # a withdrawal always has its signed nonce
        "signature": withdrawal.signature,
        "fee": int(withdrawal.fee),
        "signature_type": withdrawal.signature_type,
    }


def _refused(*, withdrawal_id: int, reason: str, client: ExchangeClient) -> str:
    """The contract would refuse the withdrawal (found by gas estimation, nothing sent)."""
    withdrawal = Transfer.objects.get(id=withdrawal_id)
    if "insufficient balance" in reason:
        # The user's funds may come from trades not settled on chain yet: try later.
        Transfer.objects.filter(id=withdrawal_id, status=TransferStatus.PENDING).update(
            error=f"waiting: {reason}"
        )
        return "deferred"
    if "already withdrawn" in reason or client.withdrawn(withdrawal.hash or ""):
        # Paid on chain but not here: an operator must reconcile; never release the hold.
        Transfer.objects.filter(id=withdrawal_id, status=TransferStatus.PENDING).update(
            error=f"the contract has paid this withdrawHash already: {reason}"
        )
        logger.error("event=withdrawal_paid_elsewhere transfer=%s", withdrawal_id)
        return "deferred"
    withdrawal_fail(withdrawal_id=withdrawal_id, reason=f"refused by the contract: {reason}")
    return "failed"


def withdrawal_broadcast(
    *, withdrawal_id: int, signed: SignedTransaction, client: ExchangeClient
) -> str:
    """Sends the stored transaction: "sent" or "unknown" (the confirm step finds out)."""
    return outbox.broadcast(WITHDRAWALS, row_id=withdrawal_id, signed=signed, client=client)


# ---- confirm ----


def withdrawals_confirm_run(*, network: Network, client: ExchangeClient) -> ConfirmResult:
    result = ConfirmResult()
    head = client.head()
    processing = Transfer.objects.filter(
        network=network, kind=TransferKind.WITHDRAWAL, status=TransferStatus.PROCESSING
    ).order_by("operator_nonce", "id")
    for withdrawal in processing[:MAX_PER_RUN]:
        try:
            outcome = _confirm_one(
                withdrawal=withdrawal,
                client=client,
                head=head,
                confirmations=required_confirmations(network),
            )
        except ChainUnavailable:
            raise
        except ChainError as error:
            _note(withdrawal.id, f"confirm error: {error}")
            outcome = "waiting"
        if outcome:
            getattr(result, outcome).append(withdrawal.id)
    return result


def _confirm_one(
    *, withdrawal: Transfer, client: ExchangeClient, head: int, confirmations: int
) -> str | None:
    """What became of one PROCESSING withdrawal: completed, failed, waiting or resent."""
    receipt = client.receipt(withdrawal.transaction_hash)
    if receipt is None:
        resolved = outbox.resolve_unmined(WITHDRAWALS, row=withdrawal, client=client)
        return "resent" if resolved == "resent" else "waiting"
    if not outbox.receipt_confirmed(client, receipt, head=head, confirmations=confirmations):
        return "waiting"
    if receipt.succeeded:
        done = withdrawal_complete(
            withdrawal_id=withdrawal.id,
            block_number=receipt.block_number,
            block_hash=receipt.block_hash,
        )
        return "completed" if done else None
    if client.withdrawn(withdrawal.hash or ""):
        _note(
            withdrawal.id,
            f"{withdrawal.transaction_hash} reverted but the contract has paid this "
            "withdrawHash: an operator must reconcile",
        )
        return "waiting"
    failed = withdrawal_fail(
        withdrawal_id=withdrawal.id, reason=f"reverted in {withdrawal.transaction_hash}"
    )
    return "failed" if failed else None


class WithdrawalOutbox(OperatorOutbox):
    """Withdrawals through the operator-transaction outbox: PENDING -> PROCESSING. Every
    outcome of a look-up but a new send is "waiting" to the confirm run."""

    model = Transfer
    event = "withdrawal"
    key = "transfer"
    error_field = "error"
    error_length = 500
    queued = {"kind": TransferKind.WITHDRAWAL, "status": TransferStatus.PENDING}
    in_flight = {"kind": TransferKind.WITHDRAWAL, "status": TransferStatus.PROCESSING}

    def calldata(self, row: Transfer, client: ExchangeClient) -> bytes:
        return client.admin_withdraw_data(**_withdraw_fields(row))

    def store_claimed(self, claimed: list[tuple[int, SignedTransaction]]) -> None:
        for withdrawal_id, signed in claimed:
            Transfer.objects.filter(id=withdrawal_id, **self.queued).update(
                status=TransferStatus.PROCESSING,
                operator_nonce=signed.nonce,
                raw_transaction="0x" + signed.raw.hex(),
                transaction_hash=signed.hash,
                broadcast_at=None,
                error="",
                updated_at=timezone.now(),
            )
        transfers_changed([withdrawal_id for withdrawal_id, _ in claimed])

    def done_on_chain(self, row: Transfer, client: ExchangeClient) -> bool:
        return client.withdrawn(row.hash or "")

    def done_elsewhere(self, row: Transfer) -> str:
        Transfer.objects.filter(id=row.id).update(
            error="the contract has paid this withdrawHash in another transaction"
        )
        logger.error("event=withdrawal_paid_elsewhere transfer=%s", row.id)
        return "waiting"

    def refused(self, row: Transfer, reason: str, client: ExchangeClient) -> str:
        if "already withdrawn" not in reason and "insufficient balance" not in reason:
            withdrawal_fail(withdrawal_id=row.id, reason=f"refused by the contract: {reason}")
        return "waiting"

    def resign_fields(self) -> dict[str, Any]:
        return {"updated_at": timezone.now()}

    def resigned(self, row_id: int) -> None:
        transfers_changed([row_id])  # its transactionHash changed


WITHDRAWALS = WithdrawalOutbox()
