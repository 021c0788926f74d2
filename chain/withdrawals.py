"""The withdrawal workers: dispatch sends PENDING withdrawals to the contract, confirm
settles PROCESSING ones once their outcome is known on chain.

Never paying twice rests on three things:
- The signed adminWithdraw transaction, its operator nonce and hash are committed
  (PROCESSING) BEFORE it is broadcast. After a crash, a timeout or a 5xx the worker
  holds the exact transaction it may have sent.
- An unknown outcome is looked up, never assumed: a receipt for the stored hash; else
  the node's pool; else whether the operator nonce is still free (then the very same
  transaction is sent again: the same hash can be mined at most once); only when that
  nonce was consumed by another transaction, so ours can never be mined, and the
  contract's `withdrawn(hash)` is still false, is a new transaction signed.
- The contract pays each withdrawHash once (`withdrawn` map): the last line.
A reverted transaction fails the withdrawal (hold released) only if the contract says
the hash was not paid.
"""

import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from chain.client import (
    ChainError,
    ChainUnavailable,
    ContractReverted,
    ExchangeClient,
    SignedTransaction,
    TransactionRejected,
)
from chain.nonces import operator_nonce_take
from chain.rpc_extras import block_hash, transaction_known
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


def _operator(client: ExchangeClient) -> str:
    if not client.operator_address:
        raise ChainError("no operator key: set OPERATOR_PRIVATE_KEY or OPERATOR_PRIVATE_KEY_FILE")
    return client.operator_address


def _signed(withdrawal: Transfer) -> SignedTransaction:
    return SignedTransaction(
        hash=withdrawal.transaction_hash,
        raw=bytes.fromhex(withdrawal.raw_transaction.removeprefix("0x")),
        nonce=withdrawal.operator_nonce,
        sender="",
    )


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
    """PENDING -> PROCESSING with the signed transaction stored; nothing is sent yet.
    Every node call (gas estimate, fees, nonce) comes before the transaction: while the
    operator nonce row is locked, only the database and the local signer run, so a slow
    node never holds the lock the settler needs too."""
    operator = _operator(client)
    withdrawal = _pending(withdrawal_id)
    if withdrawal is None:
        return "taken"
    data = client.admin_withdraw_data(**_withdraw_fields(withdrawal))
    try:
        terms = client.transaction_terms(to=client.exchange_address, data=data, sender=operator)
    except ContractReverted as error:
        return _refused(withdrawal_id=withdrawal_id, reason=error.reason, client=client)
    node_nonce = client.nonce(operator)
    with transaction.atomic():
        if not _pending(withdrawal_id, lock=True):
            return "taken"
        tx_nonce = operator_nonce_take(
            network=withdrawal.network, address=operator, node_nonce=node_nonce
        )
        signed = client.sign_offline(
            to=client.exchange_address, data=data, nonce=tx_nonce, terms=terms
        )
        Transfer.objects.filter(id=withdrawal_id, status=TransferStatus.PENDING).update(
            status=TransferStatus.PROCESSING,
            operator_nonce=signed.nonce,
            raw_transaction="0x" + signed.raw.hex(),
            transaction_hash=signed.hash,
            broadcast_at=None,
            error="",
            updated_at=timezone.now(),
        )
        transfers_changed([withdrawal_id])
    logger.info(
        "event=withdrawal_signed transfer=%s tx=%s operator_nonce=%s",
        withdrawal_id,
        signed.hash,
        signed.nonce,
    )
    return signed


def _pending(withdrawal_id: int, *, lock: bool = False) -> Transfer | None:
    rows = Transfer.objects.select_for_update() if lock else Transfer.objects
    return (
        rows.select_related("token", "network")
        .filter(id=withdrawal_id, status=TransferStatus.PENDING)
        .first()
    )


def _withdraw_fields(withdrawal: Transfer) -> dict:
    """adminWithdraw's arguments for a withdrawal (all fixed when it was requested)."""
    return {
        "token": withdrawal.token.address,
        "amount": int(withdrawal.amount),
        "user": withdrawal.account,
        "nonce": int(withdrawal.nonce),
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
    if "already withdrawn" in reason or client.withdrawn(withdrawal.hash):
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
    try:
        client.send_raw(signed)
    except ChainUnavailable as error:
        logger.warning(
            "event=withdrawal_send_unknown transfer=%s tx=%s error=%s",
            withdrawal_id,
            signed.hash,
            error,
        )
        return "unknown"
    except TransactionRejected as error:
        # "already known" and the like: the confirm step finds out what the node has. The
        # reason stays visible in the admin (an operator account out of gas money, say).
        Transfer.objects.filter(id=withdrawal_id, transaction_hash=signed.hash).update(
            error=f"send rejected: {error}"[:500]
        )
        logger.warning(
            "event=withdrawal_send_rejected transfer=%s tx=%s error=%s",
            withdrawal_id,
            signed.hash,
            error,
        )
        return "unknown"
    Transfer.objects.filter(id=withdrawal_id, transaction_hash=signed.hash).update(
        broadcast_at=timezone.now(), error=""
    )
    logger.info("event=withdrawal_sent transfer=%s tx=%s", withdrawal_id, signed.hash)
    return "sent"


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
        return "resent" if _resolve_unmined(withdrawal=withdrawal, client=client) else "waiting"
    if head - receipt.block_number + 1 < confirmations or (
        block_hash(client, receipt.block_number) != receipt.block_hash
    ):
        return "waiting"
    if receipt.succeeded:
        done = withdrawal_complete(
            withdrawal_id=withdrawal.id,
            block_number=receipt.block_number,
            block_hash=receipt.block_hash,
        )
        return "completed" if done else None
    if client.withdrawn(withdrawal.hash):
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


def _resolve_unmined(*, withdrawal: Transfer, client: ExchangeClient) -> bool:
    """No receipt for the stored transaction: find out why; returns whether it sent."""
    if transaction_known(client, withdrawal.transaction_hash):
        if withdrawal.broadcast_at is None:
            Transfer.objects.filter(id=withdrawal.id).update(broadcast_at=timezone.now(), error="")
        return False
    operator = _operator(client)
    if client.nonce(operator, pending=False) <= withdrawal.operator_nonce:
        # Our nonce is still free: send the very same transaction (it can be mined once).
        logger.info(
            "event=withdrawal_resend transfer=%s tx=%s", withdrawal.id, withdrawal.transaction_hash
        )
        withdrawal_broadcast(withdrawal_id=withdrawal.id, signed=_signed(withdrawal), client=client)
        return True
    # Another transaction took our nonce, so ours can never be mined. Check once more
    # that it was not mined meanwhile and that the contract has not paid the hash.
    if client.receipt(withdrawal.transaction_hash) is not None:
        return False
    if client.withdrawn(withdrawal.hash):
        Transfer.objects.filter(id=withdrawal.id).update(
            error="the contract has paid this withdrawHash in another transaction"
        )
        logger.error("event=withdrawal_paid_elsewhere transfer=%s", withdrawal.id)
        return False
    return _resign(withdrawal=withdrawal, client=client, operator=operator)


def _resign(*, withdrawal: Transfer, client: ExchangeClient, operator: str) -> bool:
    """Signs the withdrawal again with a new nonce; node calls first, as in the claim."""
    data = client.admin_withdraw_data(**_withdraw_fields(withdrawal))
    try:
        terms = client.transaction_terms(to=client.exchange_address, data=data, sender=operator)
    except ContractReverted as error:
        if "already withdrawn" in error.reason or "insufficient balance" in error.reason:
            return False
        withdrawal_fail(
            withdrawal_id=withdrawal.id, reason=f"refused by the contract: {error.reason}"
        )
        return False
    node_nonce = client.nonce(operator)
    with transaction.atomic():
        locked = (
            Transfer.objects.select_for_update()
            .filter(
                id=withdrawal.id,
                status=TransferStatus.PROCESSING,
                transaction_hash=withdrawal.transaction_hash,
            )
            .first()
        )
        if locked is None:
            return False
        tx_nonce = operator_nonce_take(
            network=withdrawal.network, address=operator, node_nonce=node_nonce
        )
        signed = client.sign_offline(
            to=client.exchange_address, data=data, nonce=tx_nonce, terms=terms
        )
        Transfer.objects.filter(id=locked.id).update(
            operator_nonce=signed.nonce,
            raw_transaction="0x" + signed.raw.hex(),
            transaction_hash=signed.hash,
            broadcast_at=None,
            updated_at=timezone.now(),
        )
        transfers_changed([locked.id])  # its transactionHash changed
    logger.warning(
        "event=withdrawal_resigned transfer=%s old_tx=%s tx=%s",
        withdrawal.id,
        withdrawal.transaction_hash,
        signed.hash,
    )
    withdrawal_broadcast(withdrawal_id=withdrawal.id, signed=signed, client=client)
    return True
