"""The trade settler: carries each booked trade (the outbox: Trade rows UNSETTLED) to the
contract's trade(order, fill), one network at a time, in id order, a batch at a time.

Never settling twice rests on the same three things as the withdrawal workers:
- The signed trade() transactions, their operator nonces and hashes are committed (SENT)
  BEFORE they are broadcast. After a crash, a timeout or a 5xx the settler holds the exact
  transactions it may have sent.
- An unknown outcome is looked up, never assumed: a receipt for the stored hash; else
  the node's pool; else whether the operator nonce is still free (then the very same
  transaction is sent again: one hash is mined at most once); only when that nonce was
  consumed by another transaction and the contract's `traded(tradeHash)` is still false
  is a new transaction signed.
- The contract settles each tradeHash once (`traded` map): whenever it says a trade is
  traded, the trade is SETTLED here and never sent again.

Throughput: pipelined batches. Signing each trade only once the one before it is mined
(so gas could be estimated against a state that includes it) settled one trade per block,
about 5 a second on anvil. Instead a run takes up to BATCH_SIZE UNSETTLED trades in id
order and, in one database transaction, hands them consecutive operator nonces, signs
each with the fixed gas limit TRADE_GAS_LIMIT (no estimate per trade: an estimate of the
third trade against a state without the first two means nothing) and stores them SENT;
then broadcasts them in nonce order in one JSON-RPC batch, polls their receipts in
batches and confirms them. The node mines one sender's transactions in nonce order, so a
trade that spends what an earlier one credited still runs after it. A contract function
settling many trades in one transaction (tradeBatch) was the other option; it changes
the audited contract and one revert would undo the whole batch, so pipelining is used.

Order matters; a refusal quarantines one trade. Before a batch is signed, every trade in
it is simulated (eth_call, one JSON-RPC batch) against the latest block, when nothing of
the network is in flight. The batch ends before the first trade the simulation refuses:
that trade may only need what an earlier trade of the batch credits, so it leads the next
batch, where its simulation runs against a state that includes all its predecessors. A
trade refused there (or whose transaction reverts) is FAILED, quarantined with the
contract's reason, and the run goes on with the next trade: one refusal never stops the
network. A later trade that needed the quarantined one is refused in turn and quarantined
too; every other trade settles. Operators retry or reverse quarantined trades in the admin
(exchange/services/trade_reversal.py). Trades of the batch sent after a reverted one are
confirmed on their own receipts. A new batch is signed only once every SENT trade of the
network is mined. An operator can still halt a network's settlement by hand
(Network.settlement_halted): in-flight trades are then confirmed and nothing new is signed.
"""

import logging
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
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
    parse_receipt,
)
from chain.nonces import operator_nonce_take, operator_nonces_take
from chain.rpc_batch import ItemError
from chain.rpc_extras import block_hash, transaction_known
from chain.watcher import required_confirmations
from exchange.models import Network, SettlementStatus, Trade
from exchange.services.fees import fees_roll_up
from exchange.services.trade_settlement import (
    Claim,
    Completion,
    trade_settlement_complete,
    trade_settlement_fail,
    trades_settlement_claim,
    trades_settlement_complete,
)

logger = logging.getLogger(__name__)

BATCH_SIZE = 100  # trades signed and sent together
MAX_PER_RUN = 1000  # trades sent per run: a run stays far within the lock's TTL
MAX_CONFIRMED_PER_RUN = 1000  # SENT trades looked at per run
# trade() measured at 206,510 gas (fresh balance slots, fees); unused gas is not charged.
TRADE_GAS_LIMIT = 300_000
RECEIPT_POLL_SECONDS = 0.05
SETTLED_OR_MINED = ("settled", "mined")
# Outcomes after which the run goes on with the next trades (a quarantined trade blocks nothing).
RUN_GOES_ON = (*SETTLED_OR_MINED, "failed")


@dataclass
class SettleResult:
    settled: list[int] = field(default_factory=list)  # confirmed: SETTLED
    mined: list[int] = field(default_factory=list)  # mined, waiting for confirmations
    waiting: list[int] = field(default_factory=list)  # sent, not mined yet
    resent: list[int] = field(default_factory=list)
    unknown: list[int] = field(default_factory=list)  # the send's outcome is unknown
    failed: list[int] = field(default_factory=list)  # refused by the contract: quarantined
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
        "maker_signature_type": order.signature_type,
        "taker_signature_type": trade.signature_type,
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


def _record(result: SettleResult, trade_id: int, outcome: str) -> None:
    if outcome != "taken":
        getattr(result, outcome).append(trade_id)


# ---- the run ----


def trades_settle_run(
    *, network: Network, client: ExchangeClient, receipt_wait: float | None = None
) -> SettleResult:
    """Confirms the network's SENT trades, then (unless halted or one is still unmined)
    sends UNSETTLED ones in id order, a batch at a time, each batch once the one before
    it is mined."""
    if receipt_wait is None:
        receipt_wait = settings.SETTLEMENT_RECEIPT_WAIT_SECONDS
    result = SettleResult()
    # The contract pays the fee account as trades settle: the ledger credits it first.
    fees_roll_up(network=network)
    confirmations = required_confirmations(network)
    blocked = _confirm_in_flight(
        network=network, client=client, confirmations=confirmations, result=result
    )
    result.halted = _halted(network)
    if result.halted or blocked:
        return result

    sent = 0
    while sent < MAX_PER_RUN and not _halted(network):
        trades = _queue(network, limit=min(BATCH_SIZE, MAX_PER_RUN - sent))
        if not trades:
            break
        try:
            outcomes = trades_settle(
                trades=trades,
                client=client,
                confirmations=confirmations,
                receipt_wait=receipt_wait,
            )
        except ChainUnavailable:
            raise
        except ChainError as error:
            # An odd answer about this batch: the trades behind it wait (they may need it).
            _note(trades[0].id, f"settlement error: {error}")
            outcomes = [(trades[0].id, "waiting")]
        for trade_id, outcome in outcomes:
            _record(result, trade_id, outcome)
        sent += len(outcomes)
        if any(outcome not in RUN_GOES_ON for _, outcome in outcomes):
            break
    result.halted = _halted(network)
    return result


def _halted(network: Network) -> bool:
    network.refresh_from_db(fields=["settlement_halted"])
    return network.settlement_halted


def _confirm_in_flight(
    *, network: Network, client: ExchangeClient, confirmations: int, result: SettleResult
) -> bool:
    """Confirms the SENT trades; whether one of them blocks sending new ones (not mined)."""
    in_flight = Trade.objects.filter(network=network, settlement_status=SettlementStatus.SENT)
    trades = list(in_flight.order_by("operator_nonce", "id")[:MAX_CONFIRMED_PER_RUN])
    if not trades:
        return False
    outcomes = trades_confirm(trades=trades, client=client, confirmations=confirmations)
    for trade, outcome in zip(trades, outcomes, strict=True):
        _record(result, trade.id, outcome)
    if len(trades) == MAX_CONFIRMED_PER_RUN and in_flight.count() > MAX_CONFIRMED_PER_RUN:
        return True
    return any(outcome not in RUN_GOES_ON for outcome in outcomes)


def _queue(network: Network, *, limit: int) -> list[Trade]:
    return list(
        Trade.objects.filter(network=network, settlement_status=SettlementStatus.UNSETTLED)
        .select_related("order__give_token", "order__take_token", "network")
        .order_by("id")[:limit]
    )


# ---- a batch: simulate, claim (sign and store), broadcast, wait for the receipts ----


def trades_settle(
    *, trades: list[Trade], client: ExchangeClient, confirmations: int, receipt_wait: float
) -> list[tuple[int, str]]:
    """Settles a prefix of `trades` (UNSETTLED, in id order, nothing of the network in
    flight); the (trade id, outcome) of each trade it handled, in order."""
    calldata = {trade.id: client.trade_data(**trade_fields(trade)) for trade in trades}
    sendable, refusal = trades_simulate(client=client, calldata=list(calldata.values()))
    if sendable == 0:
        return [(trades[0].id, _refused(trade_id=trades[0].id, reason=refusal, client=client))]
    batch = [(trade.id, calldata[trade.id]) for trade in trades[:sendable]]
    claimed = trades_claim(network=trades[0].network, batch=batch, client=client)
    if not claimed:
        return [(trades[0].id, "taken")]
    sends = trades_broadcast(claimed=claimed, client=client)
    # Behind a transaction the node did not take, the others wait for its nonce.
    in_order = next((i for i, outcome in enumerate(sends) if outcome != "sent"), len(sends))
    receipts = _await_receipts(
        client, [signed.hash for _, signed in claimed[:in_order]], receipt_wait
    )
    mined = list(
        Trade.objects.filter(
            id__in=[trade_id for trade_id, signed in claimed if signed.hash in receipts]
        ).order_by("operator_nonce")
    )
    confirmed = dict(
        zip(
            [trade.id for trade in mined],
            trades_confirm(
                trades=mined, client=client, confirmations=confirmations, receipts=receipts
            ),
            strict=True,
        )
    )
    outcomes = []
    for (trade_id, _signed_tx), sent in zip(claimed, sends, strict=True):
        outcomes.append((trade_id, confirmed.get(trade_id, "waiting" if sent == "sent" else sent)))
    return outcomes


def trades_simulate(*, client: ExchangeClient, calldata: list[bytes]) -> tuple[int, str]:
    """How many of the trades, from the first, the contract accepts when each is run
    alone against the latest block (eth_call with the operator as sender and the fixed
    gas limit), and the refusal that stopped the count ("" if none did)."""
    operator, exchange = _operator(client), client.exchange_address
    calls = [
        (
            "eth_call",
            [
                {
                    "from": operator,
                    "to": exchange,
                    "data": "0x" + data.hex(),
                    "gas": hex(TRADE_GAS_LIMIT),
                },
                "latest",
            ],
        )
        for data in calldata
    ]
    for index, answer in enumerate(rpc_batch.batch_outcomes(client, calls)):
        if isinstance(answer, ItemError):
            if not _is_refusal(answer):
                if index == 0:
                    raise ChainError(f"simulating the trade: {answer.message}")
                return index, ""
            return index, rpc_batch.revert_reason(answer)
    return len(calldata), ""


def _is_refusal(error: ItemError) -> bool:
    """A revert or running out of TRADE_GAS_LIMIT, not a node fault."""
    message = error.message.lower()
    return "revert" in message or "out of gas" in message or error.data is not None


def trade_claim(*, trade_id: int, client: ExchangeClient) -> SignedTransaction | str:
    """One trade: UNSETTLED -> SENT with the signed transaction stored; nothing is
    broadcast yet. A trade the contract refuses (simulated) is failed here."""
    trade = _queue_trade(trade_id)
    if trade is None:
        return "taken"
    data = client.trade_data(**trade_fields(trade))
    sendable, refusal = trades_simulate(client=client, calldata=[data])
    if sendable == 0:
        return _refused(trade_id=trade_id, reason=refusal, client=client)
    claimed = trades_claim(network=trade.network, batch=[(trade_id, data)], client=client)
    return claimed[0][1] if claimed else "taken"


def _queue_trade(trade_id: int) -> Trade | None:
    return (
        Trade.objects.filter(id=trade_id, settlement_status=SettlementStatus.UNSETTLED)
        .select_related("order__give_token", "order__take_token", "network")
        .first()
    )


def trades_claim(
    *, network: Network, batch: list[tuple[int, bytes]], client: ExchangeClient
) -> list[tuple[int, SignedTransaction]]:
    """UNSETTLED -> SENT for the batch's trades ((id, calldata), in id order), in one
    database transaction: consecutive operator nonces, each transaction signed with
    TRADE_GAS_LIMIT and stored. Nothing is broadcast. Stops before the first trade that
    is no longer UNSETTLED; returns (trade id, signed transaction) in nonce order."""
    operator = _operator(client)
    node_nonce = client.nonce(operator)
    # Node calls before the transaction: under the operator nonce lock, database only.
    terms = client.transaction_terms(
        to=client.exchange_address, data=b"", sender=operator, gas=TRADE_GAS_LIMIT
    )
    with transaction.atomic():
        unsettled = set(
            Trade.objects.select_for_update(of=("self",))
            .filter(
                id__in=[trade_id for trade_id, _ in batch],
                settlement_status=SettlementStatus.UNSETTLED,
            )
            .values_list("id", flat=True)
        )
        claimable = []
        for trade_id, data in batch:
            if trade_id not in unsettled:
                break
            claimable.append((trade_id, data))
        if not claimable:
            return []
        first_nonce = operator_nonces_take(
            network=network, address=operator, node_nonce=node_nonce, count=len(claimable)
        )
        claimed = [
            (
                trade_id,
                client.sign_offline(
                    to=client.exchange_address, data=data, nonce=first_nonce + index, terms=terms
                ),
            )
            for index, (trade_id, data) in enumerate(claimable)
        ]
        trades_settlement_claim(
            [
                Claim(trade_id, signed.nonce, "0x" + signed.raw.hex(), signed.hash)
                for trade_id, signed in claimed
            ]
        )
    logger.info(
        "event=trades_signed trades=%s first=%s operator_nonces=%s-%s",
        len(claimed),
        claimed[0][0],
        claimed[0][1].nonce,
        claimed[-1][1].nonce,
    )
    return claimed


def _refused(*, trade_id: int, reason: str, client: ExchangeClient) -> str:
    """The contract would refuse the trade (found by simulation: nothing was sent)."""
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


def trades_broadcast(
    *, claimed: list[tuple[int, SignedTransaction]], client: ExchangeClient
) -> list[str]:
    """Sends the claimed transactions in nonce order in one JSON-RPC batch: "sent" or
    "unknown" for each (the node did not answer, or refused it: the next run finds out)."""
    calls = [("eth_sendRawTransaction", ["0x" + signed.raw.hex()]) for _, signed in claimed]
    try:
        answers = rpc_batch.batch_outcomes(client, calls)
    except ChainUnavailable as error:
        logger.warning(
            "event=trades_send_unknown trades=%s first=%s error=%s",
            len(claimed),
            claimed[0][0],
            error,
        )
        return ["unknown"] * len(claimed)
    outcomes = []
    for (trade_id, signed), answer in zip(claimed, answers, strict=True):
        if isinstance(answer, ItemError):
            _send_rejected(trade_id, signed, answer.message)
            outcomes.append("unknown")
        else:
            outcomes.append("sent")
    sent = [
        trade_id
        for (trade_id, _), outcome in zip(claimed, outcomes, strict=True)
        if outcome == "sent"
    ]
    Trade.objects.filter(id__in=sent, settlement_status=SettlementStatus.SENT).update(
        broadcast_at=timezone.now(), settlement_error=""
    )
    logger.info("event=trades_sent trades=%s first=%s", len(sent), claimed[0][0])
    return outcomes


def trade_broadcast(*, trade_id: int, signed: SignedTransaction, client: ExchangeClient) -> str:
    try:
        client.send_raw(signed)
    except ChainUnavailable as error:
        logger.warning(
            "event=trade_send_unknown trade=%s tx=%s error=%s", trade_id, signed.hash, error
        )
        return "unknown"
    except TransactionRejected as error:
        _send_rejected(trade_id, signed, str(error))
        return "unknown"
    Trade.objects.filter(id=trade_id, transaction_hash=signed.hash).update(
        broadcast_at=timezone.now(), settlement_error=""
    )
    logger.info("event=trade_sent trade=%s tx=%s", trade_id, signed.hash)
    return "sent"


def _send_rejected(trade_id: int, signed: SignedTransaction, error: str) -> None:
    # "already known" and the like: the next run finds out what the node has. The
    # reason stays visible in the admin (an operator account out of gas money, say).
    Trade.objects.filter(id=trade_id, transaction_hash=signed.hash).update(
        settlement_error=f"send rejected: {error}"[:2000]
    )
    logger.warning(
        "event=trade_send_rejected trade=%s tx=%s error=%s", trade_id, signed.hash, error
    )


def _await_receipts(
    client: ExchangeClient, hashes: list[str], seconds: float
) -> dict[str, Receipt]:
    """The receipts of those of `hashes` mined within `seconds`, by transaction hash."""
    deadline = time.monotonic() + seconds
    receipts: dict[str, Receipt] = {}
    pending = list(hashes)
    while pending:
        answers = rpc_batch.batch_outcomes(
            client, [("eth_getTransactionReceipt", [h]) for h in pending]
        )
        for tx_hash, answer in zip(pending, answers, strict=True):
            if isinstance(answer, dict):
                receipts[tx_hash] = parse_receipt(answer)
        pending = [tx_hash for tx_hash in pending if tx_hash not in receipts]
        if not pending or time.monotonic() >= deadline:
            break
        time.sleep(RECEIPT_POLL_SECONDS)
    return receipts


# ---- confirm: what became of SENT trades ----


def trades_confirm(
    *,
    trades: list[Trade],
    client: ExchangeClient,
    confirmations: int,
    receipts: dict[str, Receipt] | None = None,
) -> list[str]:
    """The outcome of each SENT trade (in nonce order): settled, mined (waiting for
    confirmations), failed, waiting or resent. `receipts` found already save the reads."""
    if receipts is None:
        receipts = _receipts(client, [trade.transaction_hash for trade in trades])
    head = client.head()
    canonical = _canonical_hashes(
        client,
        {
            receipt.block_number
            for receipt in receipts.values()
            if head - receipt.block_number + 1 >= confirmations
        },
    )
    # The common case first, in one database transaction: mined, succeeded, deep enough.
    settled = {
        trade.id: receipt
        for trade in trades
        if (receipt := receipts.get(trade.transaction_hash)) is not None
        and receipt.succeeded
        and _confirmed(client, receipt, head, confirmations, canonical)
    }
    trades_settlement_complete(
        [
            Completion(trade_id, receipt.transaction_hash, receipt.block_number, receipt.gas_used)
            for trade_id, receipt in settled.items()
        ]
    )
    outcomes = []
    for trade in trades:
        if trade.id in settled:
            outcomes.append("settled")
            continue
        try:
            outcome = _confirm_one(
                trade=trade,
                client=client,
                receipt=receipts.get(trade.transaction_hash),
                head=head,
                confirmations=confirmations,
                canonical=canonical,
            )
        except ChainUnavailable:
            raise
        except ChainError as error:
            _note(trade.id, f"confirm error: {error}")
            outcome = "waiting"
        outcomes.append(outcome)
    return outcomes


def _receipts(client: ExchangeClient, hashes: list[str]) -> dict[str, Receipt]:
    answers = rpc_batch.batch_outcomes(client, [("eth_getTransactionReceipt", [h]) for h in hashes])
    return {
        tx_hash: parse_receipt(answer)
        for tx_hash, answer in zip(hashes, answers, strict=True)
        if isinstance(answer, dict)
    }


def _canonical_hashes(client: ExchangeClient, numbers: set[int]) -> dict[int, str]:
    """The node's canonical block hash at each height (one batch)."""
    ordered = sorted(numbers)
    blocks = rpc_batch.batch_outcomes(
        client, [("eth_getBlockByNumber", [hex(number), False]) for number in ordered]
    )
    return {
        number: block["hash"].lower()
        for number, block in zip(ordered, blocks, strict=True)
        if isinstance(block, dict)
    }


def _confirm_one(
    *,
    trade: Trade,
    client: ExchangeClient,
    receipt: Receipt | None,
    head: int,
    confirmations: int,
    canonical: dict[int, str],
) -> str:
    """settled, mined (waiting for confirmations), failed, waiting or resent."""
    if receipt is None:
        return _resolve_unmined(trade=trade, client=client)
    if not receipt.succeeded:
        _record_receipt(trade, receipt)
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
    if not _confirmed(client, receipt, head, confirmations, canonical):
        _record_receipt(trade, receipt)
        return "mined"
    trade_settlement_complete(
        trade_id=trade.id,
        transaction_hash=receipt.transaction_hash,
        block_number=receipt.block_number,
        gas_used=receipt.gas_used,
    )
    return "settled"


def _confirmed(
    client: ExchangeClient,
    receipt: Receipt,
    head: int,
    confirmations: int,
    canonical: dict[int, str],
) -> bool:
    """Whether the receipt's block is `confirmations` deep and still on the node's chain."""
    if head < receipt.block_number:
        head = client.head()
    if head - receipt.block_number + 1 < confirmations:
        return False
    number = receipt.block_number
    on_chain = canonical[number] if number in canonical else block_hash(client, number)
    return on_chain == receipt.block_hash


def _record_receipt(trade: Trade, receipt: Receipt) -> None:
    if trade.gas_used is None:
        Trade.objects.filter(id=trade.id, transaction_hash=receipt.transaction_hash).update(
            gas_used=receipt.gas_used, block_number=receipt.block_number
        )


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
    # Node calls (gas estimate: a refusal shows here) before the operator nonce lock.
    data = client.trade_data(**trade_fields(trade))
    try:
        terms = client.transaction_terms(to=client.exchange_address, data=data, sender=operator)
    except ContractReverted as error:
        return _refused(trade_id=trade.id, reason=error.reason, client=client)
    node_nonce = client.nonce(operator)
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
        signed = client.sign_offline(
            to=client.exchange_address, data=data, nonce=tx_nonce, terms=terms
        )
        Trade.objects.filter(id=locked.id).update(
            operator_nonce=signed.nonce,
            raw_transaction="0x" + signed.raw.hex(),
            transaction_hash=signed.hash,
            broadcast_at=None,
            gas_used=None,
            block_number=None,
        )
    logger.warning(
        "event=trade_resigned trade=%s old_tx=%s tx=%s",
        trade.id,
        trade.transaction_hash,
        signed.hash,
    )
    trade_broadcast(trade_id=trade.id, signed=signed, client=client)
    return "resent"
