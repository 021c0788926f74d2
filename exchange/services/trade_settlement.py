"""The settlement states of a trade (the outbox row) and the network's settlement halt.

The ledger booked the trade when it was made (exchange/services/trades.py); settlement
only carries it to the contract, so nothing here changes a balance. States:
UNSETTLED (queued) -> SENT (the signed trade() transaction stored, then broadcast)
-> SETTLED (mined, succeeded, confirmed) or FAILED (the contract refused it). A FAILED
trade is quarantined: the settler goes on with the others (a trade that needed it is
refused in turn and quarantined too), and an operator retries it (trade_settlement_retry)
or reverses it (exchange/services/trade_reversal.py). A network's settlement is halted
only by an operator (settlement_halt). Each step is a conditional update on the state, so
it happens once however many workers try it.
"""

import logging
from collections.abc import Sequence
from typing import NamedTuple

from django.db import connection
from django.utils import timezone

from exchange.models import Network, SettlementStatus, Trade

logger = logging.getLogger(__name__)


def trade_settlement_complete(
    *,
    trade_id: int,
    transaction_hash: str,
    block_number: int | None,
    gas_used: int | None,
    note: str = "",
) -> bool:
    """SENT (or UNSETTLED, when the contract shows the trade settled already) -> SETTLED.
    `note` says why, when it was not our transaction that settled it."""
    changed = Trade.objects.filter(
        id=trade_id,
        settlement_status__in=[SettlementStatus.SENT, SettlementStatus.UNSETTLED],
    ).update(
        settlement_status=SettlementStatus.SETTLED,
        transaction_hash=transaction_hash,
        block_number=block_number,
        gas_used=gas_used,
        settled_at=timezone.now(),
        settlement_error=note[:2000],
    )
    if changed:
        logger.info(
            "event=trade_settled trade=%s tx=%s gas_used=%s", trade_id, transaction_hash, gas_used
        )
    return changed == 1


class Claim(NamedTuple):
    """A trade's signed settlement transaction, stored before it is broadcast."""

    trade_id: int
    operator_nonce: int
    raw_transaction: str  # 0x-hex
    transaction_hash: str


class Completion(NamedTuple):
    """A trade's own settlement transaction, mined and confirmed."""

    trade_id: int
    transaction_hash: str
    block_number: int
    gas_used: int


def trades_settlement_claim(claims: list[Claim]) -> list[int]:
    """UNSETTLED -> SENT with the signed transactions, in one statement (a batch of the
    settler's trades: one round trip, not one per trade); the ids that changed."""
    return _update_from_rows(
        claims,
        row_columns={
            "operator_nonce": "bigint",
            "raw_transaction": "text",
            "transaction_hash": "text",
        },
        fixed={
            "settlement_status": SettlementStatus.SENT.value,
            "broadcast_at": None,
            "settlement_error": "",
        },
        states=[SettlementStatus.UNSETTLED],
    )


def trades_settlement_complete(completions: list[Completion]) -> list[int]:
    """trade_settlement_complete (SENT -> SETTLED) for many trades in one statement; the
    ids that changed."""
    settled = _update_from_rows(
        completions,
        row_columns={"transaction_hash": "text", "block_number": "bigint", "gas_used": "bigint"},
        fixed={
            "settlement_status": SettlementStatus.SETTLED.value,
            "settled_at": connection.ops.adapt_datetimefield_value(timezone.now()),
            "settlement_error": "",
        },
        states=[SettlementStatus.SENT, SettlementStatus.UNSETTLED],
    )
    for completion in completions:
        if completion.trade_id in settled:
            logger.info(
                "event=trade_settled trade=%s tx=%s gas_used=%s",
                completion.trade_id,
                completion.transaction_hash,
                completion.gas_used,
            )
    return settled


def _update_from_rows(
    rows: Sequence[tuple[int | str, ...]],
    *,
    row_columns: dict[str, str],
    fixed: dict[str, str | None],
    states: list[SettlementStatus],
) -> list[int]:
    """One UPDATE of many trades: each row is (trade id, *values of `row_columns`, which
    maps a column to its SQL type), `fixed` is set on all of them; only trades still in
    one of `states` change. Django's bulk_update builds a CASE expression per field and
    row, milliseconds per trade in Python; this plain statement (PostgreSQL and SQLite)
    costs one round trip. Returns the ids that changed."""
    if not rows:
        return []
    table = connection.ops.quote_name(Trade._meta.db_table)
    casts = ", ".join(f"CAST(%s AS {kind})" for kind in ["bigint", *row_columns.values()])
    from_rows = [
        f"{column} = (SELECT v.{column} FROM v WHERE v.id = {table}.id)" for column in row_columns
    ]
    sql = (
        f"WITH v(id, {', '.join(row_columns)}) AS (VALUES {', '.join([f'({casts})'] * len(rows))}) "
        f"UPDATE {table} SET {', '.join([*(f'{column} = %s' for column in fixed), *from_rows])} "
        f"WHERE id IN (SELECT id FROM v) AND settlement_status IN ({', '.join(['%s'] * len(states))}) "
        "RETURNING id"
    )
    params = [
        *(value for row in rows for value in row),
        *fixed.values(),
        *(state.value for state in states),
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def trade_settlement_fail(*, trade_id: int, reason: str) -> bool:
    """UNSETTLED or SENT -> FAILED (quarantined) with the reason. Nothing else stops: the
    network's other trades keep settling."""
    reason = reason[:2000]
    changed = Trade.objects.filter(
        id=trade_id,
        settlement_status__in=[SettlementStatus.UNSETTLED, SettlementStatus.SENT],
    ).update(settlement_status=SettlementStatus.FAILED, settlement_error=reason)
    if changed != 1:
        return False
    logger.error("event=trade_quarantined trade=%s reason=%s", trade_id, reason)
    return True


def settlement_halt(*, network_id: int, reason: str) -> None:
    """Stops the network's settlement (an operator's decision); the first reason is kept
    until it is resumed."""
    halted = Network.objects.filter(pk=network_id, settlement_halted=False).update(
        settlement_halted=True,
        settlement_halt_reason=reason[:2000],
        settlement_halted_at=timezone.now(),
    )
    if halted:
        logger.error("event=settlement_halted network=%s reason=%s", network_id, reason)


def settlement_resume(*, network_id: int) -> bool:
    """Lets the settler send trades again (after an operator investigated the halt).
    FAILED trades stay FAILED and are skipped unless retried (trade_settlement_retry)."""
    resumed = Network.objects.filter(pk=network_id, settlement_halted=True).update(
        settlement_halted=False, settlement_halt_reason="", settlement_halted_at=None
    )
    if resumed:
        logger.warning("event=settlement_resumed network=%s", network_id)
    return resumed == 1


def trade_settlement_retry(*, trade_id: int) -> bool:
    """FAILED -> UNSETTLED: the settler sends it again on its next run.
    For a refusal whose cause was fixed (an operator deposit that covers a shortfall, an
    admin key re-added to the contract)."""
    changed = Trade.objects.filter(id=trade_id, settlement_status=SettlementStatus.FAILED).update(
        settlement_status=SettlementStatus.UNSETTLED,
        settlement_error="",
        transaction_hash="",
        raw_transaction="",
        operator_nonce=None,
        broadcast_at=None,
        block_number=None,
        gas_used=None,
    )
    if changed:
        logger.warning("event=trade_settlement_retry trade=%s", trade_id)
    return changed == 1
