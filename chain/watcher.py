"""The deposit watcher: reads the exchange contract's balance events into Transfers:
Deposit logs (deposits, credited) and the Withdraw logs the relayer did not send itself
(direct withdrawals through the escape hatch, debited: chain/withdraw_events.py,
exchange/services/direct_withdrawals.py). Both follow the same rules.

One run (under the network's lock, chain/tasks.py):
1. If the cursor's block is no longer the node's block at that height, a reorg
   happened: rewind to the newest stored block the node still has, and fail the
   pending transfers whose blocks are gone.
2. Scan forward from the cursor in bounded ranges (WATCHER_MAX_BLOCK_RANGE blocks per
   eth_getLogs, at most WATCHER_MAX_RANGES_PER_RUN ranges), up to the head: each log
   is recorded at once as a PENDING transfer (deposits in one bulk INSERT ... ON CONFLICT
   DO NOTHING per range); the range's last block and every block holding a log are
   stored with their hashes; the cursor moves in the same transaction, so a watcher
   stopped mid-range re-reads that range and records nothing twice (unique
   transaction hash + log index).
3. Credit (debit) the pending transfers with the network's confirmations whose block is
   still canonical, CREDIT_BATCH per transaction; fail the ones whose block is not.
4. Re-check the blocks of the deposits credited in the last DEEP_REORG_RECHECK_BLOCKS
   blocks past the confirmations: one whose block left the chain (a reorg deeper than
   the confirmations) freezes its account (exchange/services/deep_reorgs.py).

Because every block hash commits to its parent, the cursor block being canonical
means everything below it is too: one hash comparison per run detects a reorg.
"""

import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction

from chain import rpc_batch
from chain.client import BalanceLog, ChainError, ChainUnavailable, DepositLog, ExchangeClient
from chain.models import ChainBlock, UnknownTokenDeposit, WatcherCursor
from chain.rpc_extras import block_hash
from chain.watcher_backoff import scan_failed, scan_span, scan_succeeded, scan_waiting
from chain.withdraw_events import direct_only, withdraw_logs
from exchange.models import (
    AccountRestriction,
    Network,
    RestrictionKind,
    Token,
    Transfer,
    TransferKind,
    TransferStatus,
)
from exchange.services.chain_logs import SeenLog, seen_transfer_fail
from exchange.services.deep_reorgs import deposit_left_chain
from exchange.services.deposit_records import (
    deposit_fail,
    deposits_confirm,
    deposits_record,
)
from exchange.services.direct_withdrawals import (
    direct_withdrawal_confirm,
    direct_withdrawal_fail,
    direct_withdrawals_record,
)
from exchange.streams.operator import watcher_moved

logger = logging.getLogger(__name__)

# How far back a reorg is searched when no stored block matches (deeper reorgs
# than this do not happen on the networks we run on), and how many block hashes
# are kept below the cursor.
REORG_MAX_DEPTH = 128
BLOCKS_KEPT = 256
# Deposits credited per transaction: bounds how long their balance rows stay locked.
CREDIT_BATCH = 500


@dataclass
class WatchResult:
    head: int = 0
    scanned_to: int | None = None
    recorded: int = 0
    credited: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    debited: list[int] = field(default_factory=list)  # direct withdrawals confirmed
    # Credited deposits found off the chain by the deep-reorg re-check (accounts frozen).
    left_chain: list[int] = field(default_factory=list)
    reorg: bool = False
    # After a reorg: the block the cursor went back to (None: back to its start block).
    rewound_to: int | None = None


def required_confirmations(network: Network) -> int:
    return max(1, network.confirmations)


def deposits_watch_run(
    *,
    network: Network,
    client: ExchangeClient,
    max_block_range: int | None = None,
    max_ranges: int | None = None,
) -> WatchResult:
    max_block_range = max_block_range or settings.WATCHER_MAX_BLOCK_RANGE
    max_ranges = max_ranges or settings.WATCHER_MAX_RANGES_PER_RUN
    cursor, _ = WatcherCursor.objects.get_or_create(network=network)
    result = WatchResult(head=client.head())
    _rewind_on_reorg(network=network, cursor=cursor, client=client, result=result)
    for _ in range(max_ranges):
        start = cursor.next_block
        if start > result.head or scan_waiting(cursor):
            break
        end = min(result.head, start + scan_span(cursor, max_block_range) - 1)
        try:
            scanned = _scan_range(
                network=network, cursor=cursor, client=client, start=start, end=end, result=result
            )
        except ChainUnavailable:
            raise
        except ChainError as error:  # the node answered, but not with logs we can use
            scan_failed(cursor, start=start, end=end, error=error)
            break
        if not scanned:
            break
        scan_succeeded(cursor)
    _confirm_pending(network=network, client=client, result=result)
    _confirm_direct_withdrawals(network=network, client=client, result=result)
    _recheck_credited(network=network, client=client, result=result)
    _prune_blocks(network=network, cursor=cursor)
    watcher_moved(network_id=network.id, scanned_block=cursor.block_number, head=result.head)
    return result


def _rewind_on_reorg(
    *, network: Network, cursor: WatcherCursor, client: ExchangeClient, result: WatchResult
) -> None:
    if cursor.block_number is None or block_hash(client, cursor.block_number) == cursor.block_hash:
        return
    fork_number, fork_hash = None, ""
    stored = ChainBlock.objects.filter(
        network=network,
        number__lt=cursor.block_number,
        number__gte=max(0, cursor.block_number - REORG_MAX_DEPTH),
    ).order_by("-number")
    for block in stored:
        if block_hash(client, block.number) == block.hash:
            fork_number, fork_hash = block.number, block.hash
            break
    if fork_number is None:
        deepest = cursor.block_number - REORG_MAX_DEPTH
        if deepest >= cursor.start_block:
            fork_number, fork_hash = deepest, block_hash(client, deepest) or ""
    # Deposits above the fork whose block the node no longer has. A credited one means a
    # reorg deeper than the confirmations: it is flagged for operators, never undone here.
    floor = -1 if fork_number is None else fork_number
    gone, credited_gone = [], []
    above = Transfer.objects.filter(
        network=network,
        kind__in=[TransferKind.DEPOSIT, TransferKind.DIRECT],
        block_number__gt=max(floor, cursor.block_number - REORG_MAX_DEPTH),
        status__in=[TransferStatus.PENDING, TransferStatus.COMPLETE],
    ).values_list("id", "kind", "status", "block_number", "block_hash")
    for transfer_id, kind, status, number, stored_hash in above:
        assert number is not None  # selected by block_number: never NULL
        if block_hash(client, number) != stored_hash:
            if status == TransferStatus.PENDING:
                gone.append((transfer_id, kind, stored_hash))
            else:
                credited_gone.append((transfer_id, kind))
    for transfer_id, kind in credited_gone:
        _completed_left_chain(network=network, transfer_id=transfer_id, kind=kind, result=result)
    with transaction.atomic():
        ChainBlock.objects.filter(network=network, number__gt=floor).delete()
        cursor.block_number, cursor.block_hash = fork_number, fork_hash
        cursor.save()
        for transfer_id, kind, stored_hash in gone:
            if _pending_fail(transfer_id=transfer_id, kind=kind, block_hash=stored_hash):
                result.failed.append(transfer_id)
    result.reorg, result.rewound_to = True, fork_number
    logger.warning(
        "event=reorg_detected network=%s rewound_to=%s failed=%s",
        network.id,
        fork_number,
        len(result.failed),
    )


def _scan_range(
    *,
    network: Network,
    cursor: WatcherCursor,
    client: ExchangeClient,
    start: int,
    end: int,
    result: WatchResult,
) -> bool:
    """Reads one range and moves the cursor past it; False if the chain changed meanwhile."""
    end_hash = block_hash(client, end)
    if end_hash is None:  # the node's chain got shorter since its head was read
        logger.info("event=chain_moved_during_scan network=%s range=%s-%s", network.id, start, end)
        return False
    logs = [log for log in client.deposit_logs(start, end) if not log.removed]
    withdrawals = [log for log in withdraw_logs(client, start, end) if not log.removed]
    # The logs belong to the chain that links the cursor's block to end_hash only if
    # both are still canonical after the read; otherwise the next run sorts it out.
    if block_hash(client, end) != end_hash or (
        cursor.block_number is not None
        and block_hash(client, cursor.block_number) != cursor.block_hash
    ):
        logger.info("event=chain_moved_during_scan network=%s range=%s-%s", network.id, start, end)
        return False
    tokens = {t.address: t for t in Token.objects.filter(network=network)}
    known = [log for log in logs if log.token in tokens]
    direct = [log for log in direct_only(network, client, withdrawals) if log.token in tokens]
    with transaction.atomic():
        deposits_record(
            network=network,
            deposits=[_seen(log, tokens) for log in known],
        )
        _record_unknown(network=network, logs=[log for log in logs if log.token not in tokens])
        _record_direct(network=network, logs=direct, tokens=tokens)
        result.recorded += len(logs) + len(direct)
        seen: list[BalanceLog] = [*logs, *direct]
        blocks = {log.block_number: log.block_hash for log in seen}
        blocks[end] = end_hash
        ChainBlock.objects.bulk_create(
            [ChainBlock(network=network, number=n, hash=h) for n, h in blocks.items()],
            update_conflicts=True,
            unique_fields=["network", "number"],
            update_fields=["hash"],
        )
        cursor.block_number, cursor.block_hash = end, end_hash
        cursor.save()
    result.scanned_to = end
    logger.info(
        "event=deposits_scanned network=%s range=%s-%s logs=%s", network.id, start, end, len(logs)
    )
    return True


def _record_direct(*, network: Network, logs: list[BalanceLog], tokens: dict[str, Token]) -> None:
    direct_withdrawals_record(
        network=network,
        withdrawals=[_seen(log, tokens) for log in logs],
    )
    for log in logs:
        logger.warning(
            "event=direct_withdrawal_seen network=%s account=%s tx=%s",
            network.id,
            log.user,
            log.transaction_hash,
        )


def _seen(log: BalanceLog, tokens: dict[str, Token]) -> SeenLog:
    return SeenLog(
        token=tokens[log.token],
        account=log.user,
        amount=log.amount,
        transaction_hash=log.transaction_hash,
        log_index=log.log_index,
        block_number=log.block_number,
        block_hash=log.block_hash,
    )


def _pending_fail(*, transfer_id: int, kind: str, block_hash: str) -> bool:
    return seen_transfer_fail(
        transfer_id=transfer_id, kind=kind, block_hash=block_hash, reason="its block left the chain"
    )


def _completed_left_chain(
    *, network: Network, transfer_id: int, kind: str, result: WatchResult
) -> None:
    """A credited deposit (or debited direct withdrawal) whose block is gone: a reorg
    deeper than the confirmations. A deposit freezes its account; a direct withdrawal
    (the ledger shows less than the contract: nobody can spend it) is left to operators."""
    if kind == TransferKind.DEPOSIT:
        if deposit_left_chain(deposit_id=transfer_id):
            result.left_chain.append(transfer_id)
        return
    Transfer.objects.filter(id=transfer_id).update(
        error="debited, then its block left the chain: an operator must reconcile"
    )
    logger.error("event=direct_withdrawal_reorged network=%s transfer=%s", network.id, transfer_id)


def _record_unknown(*, network: Network, logs: list[DepositLog]) -> None:
    """Deposits of tokens with no Token row: kept for operators, never credited."""
    if not logs:
        return
    UnknownTokenDeposit.objects.bulk_create(
        [
            UnknownTokenDeposit(
                network=network,
                transaction_hash=log.transaction_hash,
                log_index=log.log_index,
                token_address=log.token,
                account=log.user,
                amount=log.amount,
                contract_balance=log.balance,
                block_number=log.block_number,
                block_hash=log.block_hash,
            )
            for log in logs
        ],
        ignore_conflicts=True,
    )
    for log in logs:
        logger.warning(
            "event=deposit_unknown_token network=%s token=%s tx=%s",
            network.id,
            log.token,
            log.transaction_hash,
        )


def _confirm_pending(*, network: Network, client: ExchangeClient, result: WatchResult) -> None:
    deepest_confirmed = result.head - required_confirmations(network) + 1
    pending = Transfer.objects.filter(
        network=network,
        kind=TransferKind.DEPOSIT,
        status=TransferStatus.PENDING,
        block_number__lte=deepest_confirmed,
    ).order_by("id")
    canonical: dict[int, str | None] = {}
    confirmed: list[tuple[int, str]] = []
    for deposit_id, number, stored_hash in pending.values_list("id", "block_number", "block_hash"):
        assert number is not None  # selected by block_number: never NULL
        if number not in canonical:
            canonical[number] = block_hash(client, number)
        if canonical[number] == stored_hash:
            confirmed.append((deposit_id, stored_hash))
        elif deposit_fail(
            deposit_id=deposit_id, block_hash=stored_hash, reason="its block left the chain"
        ):
            result.failed.append(deposit_id)
    for start in range(0, len(confirmed), CREDIT_BATCH):
        by_block: dict[str, list[int]] = {}
        for deposit_id, stored_hash in confirmed[start : start + CREDIT_BATCH]:
            by_block.setdefault(stored_hash, []).append(deposit_id)
        result.credited += deposits_confirm(network=network, confirmed=by_block)


def _confirm_direct_withdrawals(
    *, network: Network, client: ExchangeClient, result: WatchResult
) -> None:
    deepest_confirmed = result.head - required_confirmations(network) + 1
    pending = Transfer.objects.filter(
        network=network,
        kind=TransferKind.DIRECT,
        status=TransferStatus.PENDING,
        block_number__lte=deepest_confirmed,
    ).order_by("id")
    for transfer_id, number, stored_hash in pending.values_list("id", "block_number", "block_hash"):
        assert number is not None  # selected by block_number: never NULL
        if block_hash(client, number) == stored_hash:
            if direct_withdrawal_confirm(transfer_id=transfer_id, block_hash=stored_hash):
                result.debited.append(transfer_id)
        elif direct_withdrawal_fail(
            transfer_id=transfer_id, block_hash=stored_hash, reason="its block left the chain"
        ):
            result.failed.append(transfer_id)


def _recheck_credited(*, network: Network, client: ExchangeClient, result: WatchResult) -> None:
    """The deep-reorg re-check: the blocks of deposits credited within the window past the
    confirmations must still be the node's; a deposit whose block is not freezes its
    account. Deposits already flagged once are not looked at again."""
    window = required_confirmations(network) + settings.DEEP_REORG_RECHECK_BLOCKS
    flagged = AccountRestriction.objects.filter(
        kind=RestrictionKind.FROZEN, transfer__isnull=False
    ).values("transfer_id")
    recent = list(
        Transfer.objects.filter(
            network=network,
            kind=TransferKind.DEPOSIT,
            status=TransferStatus.COMPLETE,
            block_number__gt=result.head - window,
        )
        .exclude(id__in=flagged)
        .values_list("id", "block_number", "block_hash")
    )
    if not recent:
        return
    # Selected by block_number: never NULL (the filter narrows the type, not the rows).
    numbers = sorted({number for _, number, _ in recent if number is not None})
    blocks = rpc_batch.batch(
        client, [("eth_getBlockByNumber", [hex(number), False]) for number in numbers]
    )
    canonical = {
        number: (block or {}).get("hash", "").lower()
        for number, block in zip(numbers, blocks, strict=True)
    }
    for deposit_id, number, stored_hash in recent:
        assert number is not None  # selected by block_number: never NULL
        if canonical[number] != stored_hash and deposit_left_chain(deposit_id=deposit_id):
            result.left_chain.append(deposit_id)


def _prune_blocks(*, network: Network, cursor: WatcherCursor) -> None:
    if cursor.block_number is not None:
        ChainBlock.objects.filter(
            network=network, number__lt=cursor.block_number - BLOCKS_KEPT
        ).delete()
