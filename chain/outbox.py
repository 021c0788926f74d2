"""The operator-transaction outbox: how a row (a trade to settle, a withdrawal to pay)
carries the one transaction the operator key signs for it, from claim to receipt.
The settler (chain/settler.py) and the withdrawal dispatcher (chain/withdrawals.py) both
run this algorithm; each says what differs through an OperatorOutbox.

Never sending twice and never leaving a row stuck rest on these invariants:

1. Node calls first, locks after. Gas, fee caps, chain id and the node's nonce are asked
   before the database transaction; while the operator nonce row is locked only the
   database and the local signer run, so a slow node never holds the lock.
2. Store, then send. Claiming takes the operator nonce (chain/nonces.py), signs and
   stores the raw transaction, its nonce and hash on the row (now in flight) in ONE
   database transaction, and only after the commit is anything broadcast. A crash, a
   timeout or a 5xx at any point leaves either nothing (rolled back: the nonce is given
   back) or the exact transaction that may have been sent.
3. An unknown outcome is looked up, never assumed: a receipt for the stored hash; else
   the node's pool (the row is marked broadcast); else, if the operator nonce is still
   free, the very same transaction is sent again (one hash is mined at most once).
4. Re-signed only when the stored transaction can never be mined: its nonce was consumed
   by another transaction, there is still no receipt, and the contract does not show
   the row's hash done (`traded` / `withdrawn`). The new transaction takes a new nonce
   and fresh fee caps, replaces the stored one under a row lock conditioned on the old
   hash (two workers never both re-sign), and is stored before it is sent, as in 2.
5. The contract does each hash once: it is the last line against a double payout.
"""

import logging
from abc import ABC, abstractmethod
from itertools import takewhile
from typing import Any

from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from chain import rpc_batch
from chain.client import (
    ChainError,
    ChainUnavailable,
    ContractReverted,
    ExchangeClient,
    Receipt,
    SignedTransaction,
    TransactionRejected,
    TransactionTerms,
)
from chain.nonces import operator_nonces_take
from chain.rpc_batch import ItemError
from chain.rpc_extras import block_hash, transaction_known
from exchange.models import Network

logger = logging.getLogger(__name__)

Claimed = list[tuple[int, SignedTransaction]]


class OperatorOutbox(ABC):
    """One kind of row that carries an operator transaction. The row's model has the
    fields operator_nonce, raw_transaction, transaction_hash, broadcast_at and network."""

    model: type[Model]
    event: str  # log events: event=<event>_sent ...
    key: str  # the row's name in log lines: <key>=<id>
    error_field: str  # where a send's rejection is shown to operators
    error_length: int
    queued: dict[str, Any]  # the row waits to be claimed
    in_flight: dict[str, Any]  # the row's transaction is stored and maybe sent

    @abstractmethod
    def calldata(self, row: Any, client: ExchangeClient) -> bytes:
        """The contract call the row's transaction makes."""

    @abstractmethod
    def store_claimed(self, claimed: Claimed) -> None:
        """Moves the claimed rows (locked, queued) in flight with their transactions."""

    @abstractmethod
    def done_on_chain(self, row: Any, client: ExchangeClient) -> bool:
        """Whether the contract shows the row's hash done (traded, withdrawn)."""

    @abstractmethod
    def done_elsewhere(self, row: Any) -> str:
        """The row's outcome once its nonce was taken and the contract shows it done."""

    @abstractmethod
    def refused(self, row: Any, reason: str, client: ExchangeClient) -> str:
        """The outcome when re-signing finds the contract refusing the call."""

    def may_resign(self, row: Any) -> bool:
        """Whether a new transaction may be signed for the row now."""
        return True

    def resign_fields(self) -> dict[str, Any]:
        """Fields besides the transaction's own that a re-sign resets."""
        return {}

    def resigned(self, row_id: int) -> None:
        """Called in the re-sign's transaction, after the row took its new transaction."""
        return None


def operator_address(client: ExchangeClient) -> str:
    if not client.operator_address:
        raise ChainError("no operator key: set OPERATOR_PRIVATE_KEY or OPERATOR_PRIVATE_KEY_FILE")
    return client.operator_address


def stored_transaction(row: Any) -> SignedTransaction:
    """The transaction stored on an in-flight row, ready to be sent again."""
    return SignedTransaction(
        hash=row.transaction_hash,
        raw=bytes.fromhex(row.raw_transaction.removeprefix("0x")),
        nonce=row.operator_nonce,
        sender="",
    )


# ---- claim: nonce, sign, store ----


def claim(
    outbox: OperatorOutbox,
    *,
    network: Network,
    batch: list[tuple[int, bytes]],
    terms: TransactionTerms,
    client: ExchangeClient,
) -> Claimed:
    """Queued -> in flight for the batch's rows ((id, calldata) in order), in one database
    transaction: consecutive operator nonces, each transaction signed with `terms` and
    stored. Nothing is broadcast. Stops before the first row no longer queued; returns
    (row id, signed transaction) in nonce order."""
    operator = operator_address(client)
    node_nonce = client.nonce(operator)
    with transaction.atomic():
        queued = set(
            outbox.model._default_manager.select_for_update(of=("self",))
            .filter(id__in=[row_id for row_id, _ in batch], **outbox.queued)
            .values_list("id", flat=True)
        )
        claimable = list(takewhile(lambda item: item[0] in queued, batch))
        if not claimable:
            return []
        first_nonce = operator_nonces_take(
            network=network, address=operator, node_nonce=node_nonce, count=len(claimable)
        )
        claimed = [
            (
                row_id,
                client.sign_offline(
                    to=client.exchange_address, data=data, nonce=first_nonce + index, terms=terms
                ),
            )
            for index, (row_id, data) in enumerate(claimable)
        ]
        outbox.store_claimed(claimed)
    logger.info(
        "event=%s_signed %s=%s count=%s tx=%s operator_nonces=%s-%s",
        outbox.event,
        outbox.key,
        claimed[0][0],
        len(claimed),
        claimed[0][1].hash,
        claimed[0][1].nonce,
        claimed[-1][1].nonce,
    )
    return claimed


# ---- broadcast ----


def broadcast(
    outbox: OperatorOutbox, *, row_id: int, signed: SignedTransaction, client: ExchangeClient
) -> str:
    """Sends one stored transaction: "sent", or "unknown" (the node did not answer, or
    refused it: resolve_unmined finds out later)."""
    try:
        client.send_raw(signed)
    except ChainUnavailable as error:
        logger.warning(
            "event=%s_send_unknown %s=%s tx=%s error=%s",
            outbox.event,
            outbox.key,
            row_id,
            signed.hash,
            error,
        )
        return "unknown"
    except TransactionRejected as error:
        _send_rejected(outbox, row_id, signed, str(error))
        return "unknown"
    _mark_broadcast(outbox, id=row_id, transaction_hash=signed.hash)
    logger.info("event=%s_sent %s=%s tx=%s", outbox.event, outbox.key, row_id, signed.hash)
    return "sent"


def broadcast_batch(
    outbox: OperatorOutbox, *, claimed: Claimed, client: ExchangeClient
) -> list[str]:
    """Sends stored transactions in nonce order in one JSON-RPC batch: "sent" or
    "unknown" for each, as broadcast."""
    calls = [("eth_sendRawTransaction", ["0x" + signed.raw.hex()]) for _, signed in claimed]
    try:
        answers = rpc_batch.batch_outcomes(client, calls)
    except ChainUnavailable as error:
        logger.warning(
            "event=%ss_send_unknown %ss=%s first=%s error=%s",
            outbox.event,
            outbox.key,
            len(claimed),
            claimed[0][0],
            error,
        )
        return ["unknown"] * len(claimed)
    outcomes = []
    for (row_id, signed), answer in zip(claimed, answers, strict=True):
        if isinstance(answer, ItemError):
            _send_rejected(outbox, row_id, signed, answer.message)
            outcomes.append("unknown")
        else:
            outcomes.append("sent")
    sent = [
        row_id for (row_id, _), outcome in zip(claimed, outcomes, strict=True) if outcome == "sent"
    ]
    _mark_broadcast(outbox, id__in=sent, **outbox.in_flight)
    logger.info(
        "event=%ss_sent %ss=%s first=%s", outbox.event, outbox.key, len(sent), claimed[0][0]
    )
    return outcomes


def _mark_broadcast(outbox: OperatorOutbox, **rows: Any) -> None:
    """The node has the rows' transactions: their send is no longer unknown."""
    outbox.model._default_manager.filter(**rows).update(
        broadcast_at=timezone.now(), **{outbox.error_field: ""}
    )


def _send_rejected(
    outbox: OperatorOutbox, row_id: int, signed: SignedTransaction, error: str
) -> None:
    # "already known" and the like: the next run finds out what the node has. The
    # reason stays visible in the admin (an operator account out of gas money, say).
    outbox.model._default_manager.filter(id=row_id, transaction_hash=signed.hash).update(
        **{outbox.error_field: f"send rejected: {error}"[: outbox.error_length]}
    )
    logger.warning(
        "event=%s_send_rejected %s=%s tx=%s error=%s",
        outbox.event,
        outbox.key,
        row_id,
        signed.hash,
        error,
    )


# ---- what became of a transaction ----


def receipt_confirmed(
    client: ExchangeClient,
    receipt: Receipt,
    *,
    head: int,
    confirmations: int,
    canonical: dict[int, str] | None = None,
) -> bool:
    """Whether the receipt's block is `confirmations` deep and still on the node's chain
    (`canonical`: block hashes by height read already)."""
    if head < receipt.block_number:
        head = client.head()
    if head - receipt.block_number + 1 < confirmations:
        return False
    number = receipt.block_number
    known = canonical or {}
    on_chain = known[number] if number in known else block_hash(client, number)
    return on_chain == receipt.block_hash


def resolve_unmined(outbox: OperatorOutbox, *, row: Any, client: ExchangeClient) -> str:
    """No receipt for the row's stored transaction: find out why before anything is
    sent (invariants 3 and 4). "waiting", "resent", or the outbox's own outcome."""
    if transaction_known(client, row.transaction_hash):
        if row.broadcast_at is None:
            _mark_broadcast(outbox, id=row.id, transaction_hash=row.transaction_hash)
        return "waiting"
    operator = operator_address(client)
    if client.nonce(operator, pending=False) <= row.operator_nonce:
        # Our nonce is still free: send the very same transaction (it can be mined once).
        logger.info(
            "event=%s_resend %s=%s tx=%s", outbox.event, outbox.key, row.id, row.transaction_hash
        )
        broadcast(outbox, row_id=row.id, signed=stored_transaction(row), client=client)
        return "resent"
    # Another transaction took our nonce, so ours can never be mined. Check once more
    # that it was not mined meanwhile, and ask the contract whether the row is done.
    if client.receipt(row.transaction_hash) is not None:
        return "waiting"
    if outbox.done_on_chain(row, client):
        return outbox.done_elsewhere(row)
    if not outbox.may_resign(row):
        return "waiting"
    return _resign(outbox, row=row, client=client, operator=operator)


def _resign(outbox: OperatorOutbox, *, row: Any, client: ExchangeClient, operator: str) -> str:
    data = outbox.calldata(row, client)
    try:  # the gas estimate simulates the call: a refusal shows here
        terms = client.transaction_terms(to=client.exchange_address, data=data, sender=operator)
    except ContractReverted as error:
        return outbox.refused(row, error.reason, client)
    node_nonce = client.nonce(operator)
    with transaction.atomic():
        locked = (
            outbox.model._default_manager.select_for_update(of=("self",))
            .filter(id=row.id, transaction_hash=row.transaction_hash, **outbox.in_flight)
            .first()
        )
        if locked is None:
            return "waiting"
        tx_nonce = operator_nonces_take(
            network=row.network, address=operator, node_nonce=node_nonce, count=1
        )
        signed = client.sign_offline(
            to=client.exchange_address, data=data, nonce=tx_nonce, terms=terms
        )
        outbox.model._default_manager.filter(id=row.id).update(
            operator_nonce=signed.nonce,
            raw_transaction="0x" + signed.raw.hex(),
            transaction_hash=signed.hash,
            broadcast_at=None,
            **outbox.resign_fields(),
        )
        outbox.resigned(row.id)
    logger.warning(
        "event=%s_resigned %s=%s old_tx=%s tx=%s",
        outbox.event,
        outbox.key,
        row.id,
        row.transaction_hash,
        signed.hash,
    )
    broadcast(outbox, row_id=row.id, signed=signed, client=client)
    return "resent"
