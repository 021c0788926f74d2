"""Reconciliation: does the off-chain ledger agree with the contract? Three checks.

1. balance: for every (account, token) the ledger or the chain knows, the contract's
   balanceOf(token, account) equals what the ledger implies the contract should hold.
   The contract lags the ledger, so the expected figure is Balance.total adjusted for
   what is in flight at the block read (and, for the fee account, plus the trade fees
   accrued but not yet rolled up into its balance: exchange/services/fees.py):
   - a trade booked here but not yet executed on chain (`traded(tradeHash)` false; any
     state but SETTLED and FAILED): its six legs are taken back out;
   - a withdrawal not COMPLETE here that the contract has paid (`withdrawn(hash)`): the
     amount leaves the user and the fee reaches the fee account;
   - a deposit on chain but not credited here (PENDING, or in blocks the watcher has not
     scanned yet): it is added;
   - a direct withdrawal (the escape hatch) on chain but not debited here (PENDING, or in
     blocks the watcher has not scanned yet), and the unpaid shortfall of one debited
     (exchange/services/direct_withdrawals.py): they are taken out.
   A FAILED (quarantined) trade is not in flight: the contract refused it, so its legs
   show up as differences until an operator reverses it or it settles after a retry. A
   REVERSED trade is not in flight either, and its legs are undone in the ledger.
2. ledger: every Balance row equals the sum of its LedgerEntry deltas (total and held).
3. holdings: the contract's own holdings of each token (ERC-20 balanceOf(contract), or
   its Ether balance) equal the sum of its internal balances over those accounts. Also
   the contract's feeAccount is FEE_ACCOUNT, where the ledger books fees.

The ledger is read in one REPEATABLE READ snapshot, then the chain's head is taken and
every contract read names that block: anything the snapshot shows done on chain was
mined before the head read, and anything in flight is classified at that block.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import asdict, dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from chain import rpc_batch
from chain.client import ChainError, DepositLog, ExchangeClient, WithdrawLog
from chain.models import ReconciliationRun, WatcherCursor
from chain.withdraw_events import direct_only, withdraw_logs
from exchange.models import (
    Balance,
    LedgerEntry,
    Network,
    SettlementStatus,
    Token,
    Trade,
    Transfer,
    TransferKind,
    TransferStatus,
)
from exchange.services.fees import fees_pending

logger = logging.getLogger(__name__)

Key = tuple[str, int]  # (account, token id)


@dataclass(frozen=True)
class Difference:
    check: str  # balance | ledger | holdings | fee_account
    account: str
    token: str  # symbol
    token_address: str
    expected: str  # base units as decimal strings (they exceed JSON's safe integers)
    actual: str
    detail: str = ""

    def __str__(self) -> str:
        where = " ".join(part for part in (self.account, self.token) if part)
        text = f"[{self.check}] {where}: expected {self.expected}, actual {self.actual}"
        if self.expected.lstrip("-").isdigit() and self.actual.lstrip("-").isdigit():
            text += f" (actual - expected = {int(self.actual) - int(self.expected)})"
        return text + (f"; {self.detail}" if self.detail else "")


@dataclass
class Report:
    network_id: int
    block_number: int
    balances_checked: int = 0
    differences: list[Difference] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences


@dataclass
class _Snapshot:
    tokens: dict[int, Token]
    balances: dict[Key, tuple[int, int, int]]  # key -> (balance id, total, held)
    ledger: dict[int, tuple[int, int]]  # balance id -> (sum of total deltas, of held deltas)
    trades: list[Trade]  # not SETTLED
    withdrawals: list[Transfer]  # PENDING or PROCESSING
    deposits: list[Transfer]  # PENDING
    direct: list[Transfer]  # direct withdrawals PENDING, or COMPLETE with a shortfall
    scan_from: int  # the first block the deposit watcher has not scanned
    fees: dict[int, int]  # token id -> trade fees accrued, not yet in the fee account's balance


def _snapshot(network: Network) -> _Snapshot:
    # Inside a caller's transaction (tests) the snapshot is that transaction's.
    own_transaction = not connection.in_atomic_block
    with transaction.atomic():
        if own_transaction and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        tokens = {token.id: token for token in Token.objects.filter(network=network)}
        balances = {
            (account, token_id): (balance_id, int(total), int(held))
            for balance_id, account, token_id, total, held in Balance.objects.filter(
                network=network
            ).values_list("id", "account", "token_id", "total", "held")
        }
        ledger = {
            row["balance_id"]: (int(row["total"]), int(row["held"]))
            for row in LedgerEntry.objects.filter(balance__network=network)
            .values("balance_id")
            .annotate(total=Sum("total_delta"), held=Sum("held_delta"))
            .order_by()
        }
        trades = list(
            Trade.objects.filter(network=network)
            .exclude(settlement_status__in=[SettlementStatus.SETTLED, SettlementStatus.REVERSED])
            .only(
                "id",
                "hash",
                "maker",
                "taker",
                "give_token",
                "take_token",
                "give_amount",
                "take_amount",
                "maker_fee",
                "taker_fee",
                "gas_fee",
                "settlement_status",
            )
            .order_by("id")
        )
        withdrawals = list(
            Transfer.objects.filter(
                network=network,
                kind=TransferKind.WITHDRAWAL,
                status__in=[TransferStatus.PENDING, TransferStatus.PROCESSING],
            ).order_by("id")
        )
        deposits = list(
            Transfer.objects.filter(
                network=network, kind=TransferKind.DEPOSIT, status=TransferStatus.PENDING
            ).order_by("id")
        )
        direct = list(
            Transfer.objects.filter(network=network, kind=TransferKind.DIRECT)
            .filter(
                Q(status=TransferStatus.PENDING)
                | Q(status=TransferStatus.COMPLETE, shortfall__gt=0)
            )
            .order_by("id")
        )
        cursor_row = WatcherCursor.objects.filter(network=network).first()
        scan_from = cursor_row.next_block if cursor_row else 0
        fees = fees_pending(network)
    return _Snapshot(
        tokens, balances, ledger, trades, withdrawals, deposits, direct, scan_from, fees
    )


def _unscanned_deposits(client: ExchangeClient, start: int, end: int) -> list[DepositLog]:
    logs: list[DepositLog] = []
    step = settings.WATCHER_MAX_BLOCK_RANGE
    for first in range(start, end + 1, step):
        logs.extend(
            log for log in client.deposit_logs(first, min(end, first + step - 1)) if not log.removed
        )
    return logs


def _unscanned_direct_withdrawals(
    network: Network, client: ExchangeClient, start: int, end: int
) -> list[WithdrawLog]:
    logs: list[WithdrawLog] = []
    step = settings.WATCHER_MAX_BLOCK_RANGE
    for first in range(start, end + 1, step):
        found = [
            log
            for log in withdraw_logs(client, first, min(end, first + step - 1))
            if not log.removed
        ]
        logs.extend(direct_only(network, client, found))
    return logs


def _signed_hash(withdrawal: Transfer) -> str:
    """A withdrawal's withdrawHash; every withdrawal request stores one, a row without
    it fails the run with its id instead of a batch that cannot be encoded."""
    if not withdrawal.hash:
        raise ChainError(f"withdrawal {withdrawal.id} has no withdrawHash")
    return withdrawal.hash


def reconcile_network(*, network: Network, client: ExchangeClient) -> Report:
    """Compares the ledger with the contract (read-only); raises ChainError if the node
    cannot be read."""
    if not network.exchange_address:
        raise ChainError(f"network {network.id} has no exchange contract")
    exchange = network.exchange_address
    snap = _snapshot(network)
    block = client.head()  # after the snapshot: see the module docstring
    report = Report(network_id=network.id, block_number=block)
    fee_account = settings.FEE_ACCOUNT.lower()
    token_by_address = {token.address: token for token in snap.tokens.values()}

    # What the contract should hold, from the ledger and what is in flight.
    expected: dict[Key, int] = defaultdict(int)
    for key, (_id, total, _held) in snap.balances.items():
        expected[key] += total
    for token_id, accrued in snap.fees.items():  # exchange/services/fees.py
        expected[(fee_account, token_id)] += accrued
    in_flight_trades = [t for t in snap.trades if t.settlement_status != SettlementStatus.FAILED]
    calls = [rpc_batch.traded(exchange, t.hash, block) for t in in_flight_trades]
    calls += [rpc_batch.withdrawn(exchange, _signed_hash(w), block) for w in snap.withdrawals]
    calls.append(rpc_batch.fee_account(exchange, block))
    answers = rpc_batch.batch(client, calls)
    traded = [rpc_batch.as_bool(a) for a in answers[: len(in_flight_trades)]]
    withdrawn = [rpc_batch.as_bool(a) for a in answers[len(in_flight_trades) : -1]]
    contract_fee_account = rpc_batch.as_address(answers[-1])

    for trade, done in zip(in_flight_trades, traded, strict=True):
        if done:
            continue
        give, take = trade.give_token_id, trade.take_token_id
        gross, amount = int(trade.give_amount), int(trade.take_amount)
        maker_fee, taker_fee, gas_fee = (
            int(trade.maker_fee),
            int(trade.taker_fee),
            int(trade.gas_fee),
        )
        # The ledger's legs of the trade (exchange/services/trades.py), taken back out.
        expected[(trade.maker, give)] += gross
        expected[(trade.maker, take)] -= amount - maker_fee
        expected[(fee_account, take)] -= maker_fee
        expected[(trade.taker, take)] += amount
        expected[(trade.taker, give)] -= gross - taker_fee - gas_fee
        expected[(fee_account, give)] -= taker_fee + gas_fee
    for withdrawal, paid in zip(snap.withdrawals, withdrawn, strict=True):
        if paid:
            expected[(withdrawal.account, withdrawal.token_id)] -= int(withdrawal.amount)
            expected[(fee_account, withdrawal.token_id)] += int(withdrawal.fee)
    for deposit in snap.deposits:
        if deposit.block_number is not None and deposit.block_number <= block:
            expected[(deposit.account, deposit.token_id)] += int(deposit.amount)
    for withdrawal in snap.direct:
        if withdrawal.status == TransferStatus.COMPLETE:
            expected[(withdrawal.account, withdrawal.token_id)] -= int(withdrawal.shortfall)
        elif withdrawal.block_number is not None and withdrawal.block_number <= block:
            expected[(withdrawal.account, withdrawal.token_id)] -= int(withdrawal.amount)
    if snap.scan_from <= block:
        for log in _unscanned_deposits(client, snap.scan_from, block):
            token = token_by_address.get(log.token)
            if token is not None:
                expected[(log.user, token.id)] += log.amount
        for direct_log in _unscanned_direct_withdrawals(network, client, snap.scan_from, block):
            token = token_by_address.get(direct_log.token)
            if token is not None:
                expected[(direct_log.user, token.id)] -= direct_log.amount
    for token_id in snap.tokens:
        expected[(fee_account, token_id)] += 0  # always read the fee account's balances
        expected[(contract_fee_account, token_id)] += 0

    # What the contract holds, all at one block.
    keys = sorted(expected)
    holdings_tokens = sorted(snap.tokens)
    calls = [
        rpc_batch.exchange_balance(exchange, snap.tokens[token_id].address, account, block)
        for account, token_id in keys
    ]
    calls += [
        rpc_batch.token_holdings(snap.tokens[token_id].address, exchange, block)
        for token_id in holdings_tokens
    ]
    answers = [rpc_batch.as_uint(a) for a in rpc_batch.batch(client, calls)]
    actual = dict(zip(keys, answers[: len(keys)], strict=True))
    holdings = dict(zip(holdings_tokens, answers[len(keys) :], strict=True))
    report.balances_checked = len(keys)

    def difference(
        check: str, account: str, token_id: int | None, want: object, have: object, detail: str = ""
    ) -> None:
        token = snap.tokens[token_id] if token_id is not None else None
        report.differences.append(
            Difference(
                check=check,
                account=account,
                token=token.symbol if token else "",
                token_address=token.address if token else "",
                expected=str(want),
                actual=str(have),
                detail=detail,
            )
        )

    if contract_fee_account != fee_account:
        report.differences.append(
            Difference(
                check="fee_account",
                account="",
                token="",
                token_address="",
                expected=fee_account,
                actual=contract_fee_account,
                detail="the ledger books fees to FEE_ACCOUNT; the contract pays its feeAccount",
            )
        )
    for account, token_id in keys:
        if expected[(account, token_id)] != actual[(account, token_id)]:
            difference(
                "balance",
                account,
                token_id,
                expected[(account, token_id)],
                actual[(account, token_id)],
                "contract balanceOf vs the ledger's total adjusted for what is in flight",
            )
    for (account, token_id), (balance_id, total, held) in sorted(snap.balances.items()):
        entries_total, entries_held = snap.ledger.get(balance_id, (0, 0))
        if (entries_total, entries_held) != (total, held):
            difference(
                "ledger",
                account,
                token_id,
                f"{entries_total}/{entries_held}",
                f"{total}/{held}",
                "sum of ledger entries (total/held) vs the balance row",
            )
    internal: dict[int, int] = defaultdict(int)
    for (_account, token_id), amount in actual.items():
        internal[token_id] += amount
    for token_id in holdings_tokens:
        if holdings[token_id] != internal[token_id]:
            difference(
                "holdings",
                exchange,
                token_id,
                internal[token_id],
                holdings[token_id],
                "the contract's own holdings vs the sum of its internal balances",
            )
    return report


def reconciliation_run(*, network: Network, client: ExchangeClient) -> ReconciliationRun:
    """Runs reconcile_network and records the outcome for the admin (a node error is a
    run that is not ok, with the error)."""
    run = ReconciliationRun.objects.create(network=network)
    try:
        report = reconcile_network(network=network, client=client)
    except ChainError as error:
        run.ok, run.error = False, f"{type(error).__name__}: {error}"
    else:
        run.ok = report.ok
        run.block_number = report.block_number
        run.balances_checked = report.balances_checked
        run.differences = json.dumps([asdict(d) for d in report.differences], indent=1)
        for item in report.differences:
            logger.error("event=reconciliation_difference network=%s %s", network.id, item)
    run.finished_at = timezone.now()
    run.save()
    return run
