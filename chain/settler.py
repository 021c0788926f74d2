"""The trade settler: carries each booked trade (the outbox: Trade rows UNSETTLED) to the
contract's trade(order, fill), one network at a time, in id order, a batch at a time.

Never settling twice rests on the operator-transaction outbox (chain/outbox.py: store
the signed transaction before sending it, look an unknown outcome up, re-sign only when
the stored one can never be mined) and on the contract, which settles each tradeHash once
(`traded` map): whenever it says a trade is traded, the trade is SETTLED here and never
sent again.

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
from typing import Any

from django.conf import settings

from chain import outbox, rpc_batch
from chain.client import (
    ChainError,
    ChainUnavailable,
    ExchangeClient,
    Receipt,
    SignedTransaction,
    parse_receipt,
)
from chain.outbox import OperatorOutbox, operator_address
from chain.rpc_batch import ItemError
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


def trade_fields(trade: Trade) -> dict[str, Any]:
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


def _note(trade_id: int, note: str) -> None:
    Trade.objects.filter(id=trade_id).update(settlement_error=note[:2000])
    logger.warning("event=settlement_note trade=%s note=%s", trade_id, note)


def _settled_elsewhere(trade_id: int, what_became_of_ours: str) -> str:
    """SETTLED: the contract shows the tradeHash settled by a transaction not ours."""
    trade_settlement_complete(
        trade_id=trade_id,
        transaction_hash="",
        block_number=None,
        gas_used=None,
        note=f"{what_became_of_ours} the contract shows this tradeHash settled by another "
        "transaction",
    )
    return "settled"


def _record(result: SettleResult, trade_id: int, outcome: str) -> None:
    if outcome != "taken":
        getattr(result, outcome).append(trade_id)


class TradeOutbox(OperatorOutbox):
    """Trades through the operator-transaction outbox: UNSETTLED -> SENT."""

    model = Trade
    event = "trade"
    key = "trade"
    error_field = "settlement_error"
    error_length = 2000
    queued = {"settlement_status": SettlementStatus.UNSETTLED}
    in_flight = {"settlement_status": SettlementStatus.SENT}

    def calldata(self, row: Trade, client: ExchangeClient) -> bytes:
        return client.trade_data(**trade_fields(row))

    def store_claimed(self, claimed: list[tuple[int, SignedTransaction]]) -> None:
        trades_settlement_claim(
            [
                Claim(trade_id, signed.nonce, "0x" + signed.raw.hex(), signed.hash)
                for trade_id, signed in claimed
            ]
        )

    def done_on_chain(self, row: Trade, client: ExchangeClient) -> bool:
        return client.traded(row.hash)

    def done_elsewhere(self, row: Trade) -> str:
        return _settled_elsewhere(row.id, f"{row.transaction_hash} was never mined;")

    def refused(self, row: Trade, reason: str, client: ExchangeClient) -> str:
        return _refused(trade_id=row.id, reason=reason, client=client)

    def may_resign(self, row: Trade) -> bool:
        if not Network.objects.filter(pk=row.network_id, settlement_halted=True).exists():
            return True
        _note(
            row.id,
            "waiting: its nonce was used by another transaction; not re-signed "
            "while settlement is halted",
        )
        return False

    def resign_fields(self) -> dict[str, Any]:
        return {"gas_used": None, "block_number": None}


TRADES = TradeOutbox()


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
    sends = outbox.broadcast_batch(TRADES, claimed=claimed, client=client)
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
    operator, exchange = operator_address(client), client.exchange_address
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


def trades_claim(
    *, network: Network, batch: list[tuple[int, bytes]], client: ExchangeClient
) -> list[tuple[int, SignedTransaction]]:
    """UNSETTLED -> SENT for the batch's trades ((id, calldata), in id order): the outbox's
    claim, every transaction signed with the fixed TRADE_GAS_LIMIT. Nothing is broadcast."""
    terms = client.transaction_terms(
        to=client.exchange_address,
        data=b"",
        sender=operator_address(client),
        gas=TRADE_GAS_LIMIT,
    )
    return outbox.claim(TRADES, network=network, batch=batch, terms=terms, client=client)


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
        and outbox.receipt_confirmed(
            client, receipt, head=head, confirmations=confirmations, canonical=canonical
        )
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
        return outbox.resolve_unmined(TRADES, row=trade, client=client)
    if not receipt.succeeded:
        _record_receipt(trade, receipt)
        if client.traded(trade.hash):
            return _settled_elsewhere(trade.id, f"{receipt.transaction_hash} reverted, but")
        trade_settlement_fail(trade_id=trade.id, reason=f"reverted in {receipt.transaction_hash}")
        return "failed"
    if not outbox.receipt_confirmed(
        client, receipt, head=head, confirmations=confirmations, canonical=canonical
    ):
        _record_receipt(trade, receipt)
        return "mined"
    trade_settlement_complete(
        trade_id=trade.id,
        transaction_hash=receipt.transaction_hash,
        block_number=receipt.block_number,
        gas_used=receipt.gas_used,
    )
    return "settled"


def _record_receipt(trade: Trade, receipt: Receipt) -> None:
    if trade.gas_used is None:
        Trade.objects.filter(id=trade.id, transaction_hash=receipt.transaction_hash).update(
            gas_used=receipt.gas_used, block_number=receipt.block_number
        )
