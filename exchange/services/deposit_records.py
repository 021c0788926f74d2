"""Deposits read from the chain: recorded when first seen, credited once confirmed.

The watcher (chain/watcher.py) records a range's logs in a few statements
(deposits_record) and credits a batch of confirmed deposits in one transaction
(deposits_confirm); tests call the same functions with one deposit. A deposit is
credited exactly once: the PENDING -> COMPLETE update is conditional on the status
and on the block hash the watcher just checked against the node, and the credit is
written only for the rows that update changed (RETURNING decides who credits).
"""

import logging
from collections.abc import Mapping, Sequence

from django.db import connection, transaction
from django.utils import timezone

from exchange.models import Network, Transfer, TransferKind, TransferStatus
from exchange.services.chain_logs import SeenLog, seen_transfer_fail
from exchange.services.deposits import deposits_credit
from exchange.streams.events import transfers_changed
from exchange.streams.operator import deposits_credited

logger = logging.getLogger(__name__)


def _move(deposit: Transfer, status: str, *, block_number: int, block_hash: str) -> None:
    """A recorded log seen in `block_hash`: if that is another block (a reorg moved its
    transaction), the deposit is PENDING there, unless it was credited already."""
    if deposit.block_hash == block_hash:
        return
    if status == TransferStatus.COMPLETE:
        # Credited already: only a reorg deeper than the confirmations could do this.
        logger.error(
            "event=credited_deposit_moved transfer=%s old_block=%s new_block=%s",
            deposit.id,
            deposit.block_hash,
            block_hash,
        )
        return
    Transfer.objects.filter(id=deposit.id, block_hash=deposit.block_hash).exclude(
        status=TransferStatus.COMPLETE
    ).update(
        block_number=block_number,
        block_hash=block_hash,
        status=TransferStatus.PENDING,
        error="",
        updated_at=timezone.now(),
    )
    transfers_changed([deposit.id])
    logger.info("event=deposit_moved transfer=%s block=%s", deposit.id, block_number)


SeenDeposit = SeenLog  # a Deposit log of a known token, as the watcher read it


def deposits_record(*, network: Network, deposits: Sequence[SeenDeposit]) -> None:
    """Records each Deposit log once (PENDING): one INSERT ... ON CONFLICT DO NOTHING of them all,
        a read of the logs it did not insert (seen before), and an update only for a log
        that a reorg moved to another block (it is PENDING there again, unless credited
    already; one FAILED because its block left the chain is PENDING again). Runs inside
    the caller's transaction."""
    if not deposits:
        return
    # Keyed as the stored rows read them (a deposit's log_index is never NULL).
    by_log: dict[tuple[str, int | None], SeenDeposit] = {
        (seen.transaction_hash.lower(), seen.log_index): seen for seen in deposits
    }
    for key in _insert_new(network, deposits):
        del by_log[key]
    if not by_log:
        return
    stored = Transfer.objects.filter(
        network=network,
        kind=TransferKind.DEPOSIT,
        transaction_hash__in={transaction_hash for transaction_hash, _ in by_log},
    ).values_list("id", "transaction_hash", "log_index", "block_hash", "status")
    # Logs recorded before: a reorg may have moved them to another block.
    for deposit_id, transaction_hash, log_index, stored_hash, status in stored:
        seen = by_log.get((transaction_hash, log_index))
        if seen is not None and stored_hash != seen.block_hash.lower():
            _move(
                Transfer(id=deposit_id, block_hash=stored_hash),
                status,
                block_number=seen.block_number,
                block_hash=seen.block_hash.lower(),
            )


def _insert_new(network: Network, deposits: Sequence[SeenDeposit]) -> list[tuple[str, int]]:
    """INSERT ... ON CONFLICT DO NOTHING of every log; the (transaction hash, log index)
    of the rows it inserted (on PostgreSQL; elsewhere none are reported, so all are
    read back)."""
    if connection.vendor != "postgresql":
        Transfer.objects.bulk_create(
            [
                Transfer(
                    network=network,
                    kind=TransferKind.DEPOSIT,
                    account=seen.account.lower(),
                    token=seen.token,
                    amount=seen.amount,
                    transaction_hash=seen.transaction_hash.lower(),
                    log_index=seen.log_index,
                    block_number=seen.block_number,
                    block_hash=seen.block_hash.lower(),
                )
                for seen in deposits
            ],
            ignore_conflicts=True,
        )
        return []
    # One statement from arrays: Django's bulk_create spends longer preparing 5,000 rows
    # in Python than PostgreSQL spends inserting them.
    table = connection.ops.quote_name(Transfer._meta.db_table)
    moment = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (network_id, kind, status, account, token_id, amount, fee,"
            " signature, transaction_hash, log_index, block_number, block_hash,"
            " raw_transaction, error, created_at, updated_at)"
            " SELECT %s, %s, %s, v.account, v.token_id, v.amount::numeric, 0, '',"
            " v.transaction_hash, v.log_index, v.block_number, v.block_hash, '', '', %s, %s"
            " FROM unnest(%s::text[], %s::bigint[], %s::text[], %s::text[], %s::int[],"
            " %s::bigint[], %s::text[])"
            " AS v(account, token_id, amount, transaction_hash, log_index, block_number,"
            " block_hash)"
            " ON CONFLICT DO NOTHING RETURNING transaction_hash, log_index, id",
            [
                network.id,
                TransferKind.DEPOSIT,
                TransferStatus.PENDING,
                moment,
                moment,
                [seen.account.lower() for seen in deposits],
                [seen.token.id for seen in deposits],
                [str(int(seen.amount)) for seen in deposits],
                [seen.transaction_hash.lower() for seen in deposits],
                [seen.log_index for seen in deposits],
                [seen.block_number for seen in deposits],
                [seen.block_hash.lower() for seen in deposits],
            ],
        )
        inserted = cursor.fetchall()
    transfers_changed([id_ for _hash, _index, id_ in inserted])
    return [(transaction_hash, log_index) for transaction_hash, log_index, _id in inserted]


def deposits_confirm(*, network: Network, confirmed: Mapping[str, Sequence[int]]) -> list[int]:
    """PENDING -> COMPLETE and the credit, in one transaction: `confirmed` maps each block hash the
    caller has just found canonical (with enough confirmations) to the ids of the
    deposits it holds. One conditional PENDING -> COMPLETE update (rows locked in id
    order) returns the deposits this call may credit; their balances are then credited
    in id order, one ledger entry "deposit:<id>" each. Returns the ids credited."""
    pairs = [(block_hash.lower(), ids) for block_hash, ids in confirmed.items() if ids]
    if not pairs:
        return []
    with transaction.atomic():
        changed = _complete_pending(pairs)
        if not changed:
            return []
        transfers_changed(changed)
        deposits_credited(changed)
        rows = (
            Transfer.objects.filter(id__in=changed)
            .order_by("id")
            .values_list("id", "token_id", "account", "amount")
        )
        deposits_credit(
            network=network,
            credits=[
                (token_id, account, int(amount), f"deposit:{deposit_id}")
                for deposit_id, token_id, account, amount in rows
            ],
        )
    logger.info("event=deposits_credited network=%s count=%s", network.id, len(changed))
    return sorted(changed)


def _complete_pending(pairs: list[tuple[str, Sequence[int]]]) -> list[int]:
    """The conditional update: only rows still PENDING in the block named for them."""
    table = connection.ops.quote_name(Transfer._meta.db_table)
    where = " OR ".join(
        f"(block_hash = %s AND id IN ({', '.join(['%s'] * len(ids))}))" for _, ids in pairs
    )
    params: list[str | int] = []
    for block_hash, ids in pairs:
        params += [block_hash, *ids]
    chosen = f"SELECT id FROM {table} WHERE kind = %s AND status = %s AND ({where})"
    if connection.features.has_select_for_update:
        # Lock in id order first: two racing watchers wait on each other, never deadlock.
        chosen += " ORDER BY id FOR UPDATE"
    sql = (
        f"UPDATE {table} SET status = %s, updated_at = %s"
        f" WHERE status = %s AND id IN ({chosen}) RETURNING id"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                TransferStatus.COMPLETE,
                connection.ops.adapt_datetimefield_value(timezone.now()),
                TransferStatus.PENDING,
                TransferKind.DEPOSIT,
                TransferStatus.PENDING,
                *params,
            ],
        )
        return [row[0] for row in cursor.fetchall()]


def deposit_fail(*, deposit_id: int, block_hash: str, reason: str) -> bool:
    """PENDING -> FAILED for a deposit whose block is no longer canonical; never credited."""
    return seen_transfer_fail(
        transfer_id=deposit_id, kind=TransferKind.DEPOSIT, block_hash=block_hash, reason=reason
    )
