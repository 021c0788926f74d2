"""The trade settler: carries each booked trade (the outbox: Trade rows UNSETTLED) to the
contract's trade(order, fill), one network at a time, in id order.

Never settling twice rests on the same three things as the withdrawal workers:
- The signed trade() transaction, its operator nonce and hash are committed (SENT)
  BEFORE it is broadcast. After a crash, a timeout or a 5xx the settler holds the exact
  transaction it may have sent.
- An unknown outcome is looked up, never assumed: a receipt for the stored hash; else
  the node's pool; else whether the operator nonce is still free (then the very same
  transaction is sent again: one hash is mined at most once); only when that nonce was
  consumed by another transaction and the contract's `traded(tradeHash)` is still false
  is a new transaction signed.
- The contract settles each tradeHash once (`traded` map): whenever it says a trade is
  traded, the trade is SETTLED here and never sent again.

Order matters: a trade can spend what an earlier one credited. So the settler signs the
next trade only once every SENT trade of the network is mined (gas estimation runs
against the latest block), and stops at the first trade it cannot send. A trade the
contract refuses (at gas estimation, or a reverted receipt) is FAILED and halts the
network's settlement (Network.settlement_halted): the ledgers disagree, an operator must
look. In-flight trades are still confirmed while halted; nothing new is signed.
"""

import logging
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from chain.client import (
    ChainError,
    ChainUnavailable,
    ContractReverted,
    ExchangeClient,
    Receipt,
    SignedTransaction,
    TransactionRejected,
)
from chain.nonces import operator_nonce_take
from chain.rpc_extras import block_hash, transaction_known
from chain.watcher import required_confirmations
from exchange.models import Network, SettlementStatus, Trade
from exchange.services.trade_settlement import (
    trade_settlement_complete,
    trade_settlement_fail,
)

logger = logging.getLogger(__name__)

MAX_PER_RUN = 20
RECEIPT_POLL_SECONDS = 0.05


@dataclass
class SettleResult:
    settled: list[int] = field(default_factory=list)  # confirmed: SETTLED
    mined: list[int] = field(default_factory=list)  # mined, waiting for confirmations
    waiting: list[int] = field(default_factory=list)  # sent, not mined yet
    resent: list[int] = field(default_factory=list)
    unknown: list[int] = field(default_factory=list)  # the send's outcome is unknown
    failed: list[int] = field(default_factory=list)  # refused by the contract: halted
    halted: bool = False


def _operator(client: ExchangeClient) -> str:
    if not client.operator_address:
        raise ChainError("no operator key: set OPERATOR_PRIVATE_KEY or OPERATOR_PRIVATE_KEY_FILE")
    return client.operator_address


def trade_fields(trade: Trade) -> dict:
    """The keyword arguments of ExchangeClient.prepare_trade for a trade: the maker's
    signed order and the taker's signed fill, with the fees the ledger charged (maker fee
    in the take token out of what the maker receives; taker and gas fees in the give token
    out of what the taker receives: the contract's semantics, and trade_execute's)."""
    order = trade.order
    return {
        "maker": order.account,
        "give_token": order.give_token.address,
        "give_amount": int(order.give_amount),
        "take_token": order.take_token.address,
        "take_amount": int(order.take_amount),
        "order_nonce": int(order.nonce),
        "expiry_ms": int(order.expiry_ms),
        "maker_signature": order.signature,
        "taker": trade.taker,
        "amount": int(trade.take_amount),
        "trade_nonce": int(trade.nonce),
        "taker_signature": trade.signature,
        "maker_fee": int(trade.maker_fee),
        "taker_fee": int(trade.taker_fee),
        "gas_fee": int(trade.gas_fee),
    }


def _signed(trade: Trade) -> SignedTransaction:
    return SignedTransaction(
        hash=trade.transaction_hash,
        raw=bytes.fromhex(trade.raw_transaction.removeprefix("0x")),
        nonce=trade.operator_nonce,
        sender="",
    )


def _note(trade_id: int, note: str) -> None:
    Trade.objects.filter(id=trade_id).update(settlement_error=note[:2000])
    logger.warning("event=settlement_note trade=%s note=%s", trade_id, note)


def _locked_trade(trade_id: int, **conditions) -> Trade | None:
    return (
        Trade.objects.select_for_update(of=("self",))
        .select_related("order__give_token", "order__take_token", "network")
        .filter(id=trade_id, **conditions)
        .first()
    )


# ---- the run ----


def trades_settle_run(
    *, network: Network, client: ExchangeClient, receipt_wait: float | None = None
) -> SettleResult:
    """Confirms the network's SENT trades, then (unless halted or one is still unmined)
    sends UNSETTLED ones in id order, each after the one before it is mined."""
    if receipt_wait is None:
        receipt_wait = settings.SETTLEMENT_RECEIPT_WAIT_SECONDS
    result = SettleResult()
    confirmations = required_confirmations(network)
    head = client.head()
    in_flight = Trade.objects.filter(network=network, settlement_status=SettlementStatus.SENT)
    blocked = False
    for trade in in_flight.order_by("operator_nonce", "id")[:MAX_PER_RUN]:
        try:
            outcome = _confirm_one(
                trade=trade, client=client, head=head, confirmations=confirmations
            )
        except ChainUnavailable:
            raise
        except ChainError as error:
            _note(trade.id, f"confirm error: {error}")
            outcome = "waiting"
        _record(result, trade.id, outcome)
        blocked = blocked or outcome not in ("settled", "mined")
    if in_flight.count() > MAX_PER_RUN:
        blocked = True

    network.refresh_from_db(fields=["settlement_halted"])
    result.halted = network.settlement_halted
    if result.halted or blocked:
        return result

    queue = Trade.objects.filter(
        network=network, settlement_status=SettlementStatus.UNSETTLED
    ).order_by("id")
    for _ in range(MAX_PER_RUN):
        trade_id = queue.values_list("id", flat=True).first()
        if trade_id is None:
            break
        try:
            outcome = trade_settle(
                trade_id=trade_id,
                client=client,
                confirmations=confirmations,
                receipt_wait=receipt_wait,
            )
        except ChainUnavailable:
            raise
        except ChainError as error:
            # An odd answer about this trade: the ones behind it wait (they may need it).
            _note(trade_id, f"settlement error: {error}")
            outcome = "waiting"
        _record(result, trade_id, outcome)
        if outcome not in ("settled", "mined"):
            break
    network.refresh_from_db(fields=["settlement_halted"])
    result.halted = network.settlement_halted
    return result


def _record(result: SettleResult, trade_id: int, outcome: str) -> None:
    if outcome != "taken":
        getattr(result, outcome).append(trade_id)


# ---- one trade: claim (sign and store), broadcast, wait for its receipt ----


def trade_settle(
    *, trade_id: int, client: ExchangeClient, confirmations: int, receipt_wait: float
) -> str:
    signed = trade_claim(trade_id=trade_id, client=client)
    if isinstance(signed, str):
        return signed
    outcome = trade_broadcast(trade_id=trade_id, signed=signed, client=client)
    if outcome != "sent":
        return outcome
    if _await_receipt(client, signed.hash, receipt_wait) is None:
        return "waiting"
    trade = Trade.objects.get(id=trade_id)
    return _confirm_one(trade=trade, client=client, head=client.head(), confirmations=confirmations)


def trade_claim(*, trade_id: int, client: ExchangeClient) -> SignedTransaction | str:
    """UNSETTLED -> SENT with the signed transaction stored; nothing is broadcast yet.
    Gas estimation runs the trade against the contract: a refusal fails it here."""
    operator = _operator(client)
    node_nonce = client.nonce(operator)
    try:
        with transaction.atomic():
            trade = _locked_trade(trade_id, settlement_status=SettlementStatus.UNSETTLED)
            if trade is None:
                return "taken"
            tx_nonce = operator_nonce_take(
                network=trade.network, address=operator, node_nonce=node_nonce
            )
            signed = client.prepare_trade(tx_nonce=tx_nonce, **trade_fields(trade))
            Trade.objects.filter(id=trade_id, settlement_status=SettlementStatus.UNSETTLED).update(
                settlement_status=SettlementStatus.SENT,
                operator_nonce=signed.nonce,
                raw_transaction="0x" + signed.raw.hex(),
                transaction_hash=signed.hash,
                broadcast_at=None,
                settlement_error="",
            )
    except ContractReverted as error:
        return _refused(trade_id=trade_id, reason=error.reason, client=client)
    logger.info(
        "event=trade_signed trade=%s tx=%s operator_nonce=%s", trade_id, signed.hash, signed.nonce
    )
    return signed


def _refused(*, trade_id: int, reason: str, client: ExchangeClient) -> str:
    """The contract would refuse the trade (found by gas estimation: nothing was sent)."""
    trade = Trade.objects.get(id=trade_id)
    if client.traded(trade.hash):
        # Settled on chain already (a restored database, a transaction we lost track of).
        trade_settlement_complete(
            trade_id=trade_id,
            transaction_hash=trade.transaction_hash,
            block_number=None,
            gas_used=None,
            note=f"the contract had settled this tradeHash already ({reason})",
        )
        return "settled"
    trade_settlement_fail(trade_id=trade_id, reason=f"refused by the contract: {reason}")
    return "failed"


def trade_broadcast(*, trade_id: int, signed: SignedTransaction, client: ExchangeClient) -> str:
    try:
        client.send_raw(signed)
    except ChainUnavailable as error:
        logger.warning(
            "event=trade_send_unknown trade=%s tx=%s error=%s", trade_id, signed.hash, error
        )
        return "unknown"
    except TransactionRejected as error:
        # "already known" and the like: the next run finds out what the node has. The
        # reason stays visible in the admin (an operator account out of gas money, say).
        Trade.objects.filter(id=trade_id, transaction_hash=signed.hash).update(
            settlement_error=f"send rejected: {error}"[:2000]
        )
        logger.warning(
            "event=trade_send_rejected trade=%s tx=%s error=%s", trade_id, signed.hash, error
        )
        return "unknown"
    Trade.objects.filter(id=trade_id, transaction_hash=signed.hash).update(
        broadcast_at=timezone.now(), settlement_error=""
    )
    logger.info("event=trade_sent trade=%s tx=%s", trade_id, signed.hash)
    return "sent"


def _await_receipt(client: ExchangeClient, tx_hash: str, seconds: float) -> Receipt | None:
    deadline = time.monotonic() + seconds
    while True:
        receipt = client.receipt(tx_hash)
        if receipt is not None or time.monotonic() >= deadline:
            return receipt
        time.sleep(RECEIPT_POLL_SECONDS)


# ---- confirm: what became of a SENT trade ----


def _confirm_one(*, trade: Trade, client: ExchangeClient, head: int, confirmations: int) -> str:
    """settled, mined (waiting for confirmations), failed, waiting or resent."""
    receipt = client.receipt(trade.transaction_hash)
    if receipt is None:
        return _resolve_unmined(trade=trade, client=client)
    if trade.gas_used is None:
        Trade.objects.filter(id=trade.id, transaction_hash=receipt.transaction_hash).update(
            gas_used=receipt.gas_used, block_number=receipt.block_number
        )
    if not receipt.succeeded:
        if client.traded(trade.hash):
            trade_settlement_complete(
                trade_id=trade.id,
                transaction_hash="",
                block_number=None,
                gas_used=None,
                note=f"{receipt.transaction_hash} reverted, but the contract shows this "
                "tradeHash settled by another transaction",
            )
            return "settled"
        trade_settlement_fail(trade_id=trade.id, reason=f"reverted in {receipt.transaction_hash}")
        return "failed"
    if head < receipt.block_number:
        head = client.head()
    if head - receipt.block_number + 1 < confirmations or (
        block_hash(client, receipt.block_number) != receipt.block_hash
    ):
        return "mined"
    trade_settlement_complete(
        trade_id=trade.id,
        transaction_hash=receipt.transaction_hash,
        block_number=receipt.block_number,
        gas_used=receipt.gas_used,
    )
    return "settled"


def _resolve_unmined(*, trade: Trade, client: ExchangeClient) -> str:
    """No receipt for the stored transaction: find out why before anything is sent."""
    if transaction_known(client, trade.transaction_hash):
        if trade.broadcast_at is None:
            Trade.objects.filter(id=trade.id, transaction_hash=trade.transaction_hash).update(
                broadcast_at=timezone.now(), settlement_error=""
            )
        return "waiting"
    operator = _operator(client)
    if client.nonce(operator, pending=False) <= trade.operator_nonce:
        # Our nonce is still free: send the very same transaction (it can be mined once).
        logger.info("event=trade_resend trade=%s tx=%s", trade.id, trade.transaction_hash)
        trade_broadcast(trade_id=trade.id, signed=_signed(trade), client=client)
        return "resent"
    # Another transaction took our nonce, so ours can never be mined. Check once more
    # that it was not mined meanwhile, and ask the contract whether the trade is settled.
    if client.receipt(trade.transaction_hash) is not None:
        return "waiting"
    if client.traded(trade.hash):
        trade_settlement_complete(
            trade_id=trade.id,
            transaction_hash="",
            block_number=None,
            gas_used=None,
            note=f"{trade.transaction_hash} was never mined; the contract shows this "
            "tradeHash settled by another transaction",
        )
        return "settled"
    if Network.objects.filter(pk=trade.network_id, settlement_halted=True).exists():
        _note(
            trade.id,
            "waiting: its nonce was used by another transaction; not re-signed "
            "while settlement is halted",
        )
        return "waiting"
    return _resign(trade=trade, client=client, operator=operator)


def _resign(*, trade: Trade, client: ExchangeClient, operator: str) -> str:
    node_nonce = client.nonce(operator)
    try:
        with transaction.atomic():
            locked = _locked_trade(
                trade.id,
                settlement_status=SettlementStatus.SENT,
                transaction_hash=trade.transaction_hash,
            )
            if locked is None:
                return "waiting"
            tx_nonce = operator_nonce_take(
                network=locked.network, address=operator, node_nonce=node_nonce
            )
            signed = client.prepare_trade(tx_nonce=tx_nonce, **trade_fields(locked))
            Trade.objects.filter(id=locked.id).update(
                operator_nonce=signed.nonce,
                raw_transaction="0x" + signed.raw.hex(),
                transaction_hash=signed.hash,
                broadcast_at=None,
                gas_used=None,
                block_number=None,
            )
    except ContractReverted as error:
        return _refused(trade_id=trade.id, reason=error.reason, client=client)
    logger.warning(
        "event=trade_resigned trade=%s old_tx=%s tx=%s",
        trade.id,
        trade.transaction_hash,
        signed.hash,
    )
    trade_broadcast(trade_id=trade.id, signed=signed, client=client)
    return "resent"
