"""Deep reorgs: a deposit credited after its confirmations whose block then left the chain.

The watcher's re-check (chain/watcher.py) calls deposit_left_chain: the account is frozen
(an open FROZEN AccountRestriction naming the deposit): its new orders, fills and
withdrawals are refused (exchange/services/account_guard.py), the dashboard and
/metrics show it. Nothing in the ledger moves on its own: an operator looks (was the
transaction mined again in another block? then lift the freeze) and resolves it in the
admin with one of:
- deposit_reorg_undo: the ledger entries that undo the credit (reorg_undo_plan shows
  them beforehand): the account's open orders in the token are cancelled (holds
  released), the amount is debited (a DEPOSIT entry of -amount, reference
  "reorg:<deposit id>"), the deposit is FAILED and the freeze lifted. Refused, changing
  nothing, if the account has spent part of it (trades not yet settled: the contract
  refuses them; quarantine and reverse them first).
- freeze_lift: the deposit stays credited (the operator found it on chain).
"""

import logging
from dataclasses import dataclass

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from exchange.market_snapshots import market_data_changed
from exchange.models import (
    AccountRestriction,
    Balance,
    LedgerKind,
    Order,
    OrderStatus,
    RestrictionKind,
    Transfer,
    TransferKind,
    TransferStatus,
)
from exchange.services.ledger import balance_change, balance_changes, balances_lock
from exchange.streams.events import orders_changed, transfers_changed
from exchange.trading_math import remaining_give

logger = logging.getLogger(__name__)


class ReorgResolutionRefused(Exception):
    """The freeze cannot be resolved this way; the reason says why."""


def deposit_left_chain(*, deposit_id: int) -> bool:
    """Freezes the deposit's account (once per deposit); True if this call froze it."""
    deposit = Transfer.objects.filter(
        id=deposit_id, kind=TransferKind.DEPOSIT, status=TransferStatus.COMPLETE
    ).first()
    if deposit is None:
        return False
    reason = (
        f"deposit {deposit.id} ({deposit.amount} of token {deposit.token_id}, "
        f"tx {deposit.transaction_hash}) was credited, then its block {deposit.block_number} "
        "left the chain"
    )
    with transaction.atomic():
        _restriction, created = AccountRestriction.objects.get_or_create(
            network_id=deposit.network_id,
            account=deposit.account,
            kind=RestrictionKind.FROZEN,
            transfer=deposit,
            resolved_at=None,
            defaults={"reason": reason},
        )
        if created:
            Transfer.objects.filter(id=deposit.id).update(
                error="credited, then its block left the chain: the account is frozen until "
                "an operator resolves it"
            )
    if created:
        logger.error(
            "event=credited_deposit_left_chain network=%s transfer=%s account=%s",
            deposit.network_id,
            deposit.id,
            deposit.account,
        )
    return created


@dataclass(frozen=True)
class UndoPlan:
    """What deposit_reorg_undo would write, for the operator to read first."""

    orders_to_cancel: int
    debit: int
    available_after_cancels: int

    @property
    def possible(self) -> bool:
        return self.available_after_cancels >= self.debit

    def __str__(self) -> str:
        text = (
            f"cancel {self.orders_to_cancel} open order(s) in the token, then a DEPOSIT "
            f"entry of -{self.debit}"
        )
        if not self.possible:
            text += (
                f" — not possible now: only {self.available_after_cancels} would be available "
                "(spent in trades: quarantine and reverse those first)"
            )
        return text


def _open_orders(restriction: AccountRestriction, deposit: Transfer) -> QuerySet[Order]:
    return Order.objects.filter(
        network_id=restriction.network_id,
        account=restriction.account,
        give_token_id=deposit.token_id,
        status=OrderStatus.OPEN,
    ).order_by("id")


def _frozen_deposit(restriction: AccountRestriction) -> Transfer:
    """The deposit a deep-reorg freeze is about; a restriction without one is no such freeze."""
    if restriction.transfer is None:
        raise ReorgResolutionRefused(f"restriction {restriction.id} names no deposit")
    return restriction.transfer


def reorg_undo_plan(*, restriction: AccountRestriction) -> UndoPlan:
    deposit = _frozen_deposit(restriction)
    orders = list(_open_orders(restriction, deposit))
    held_by_orders = sum(
        remaining_give(give_amount=o.give_amount, take_amount=o.take_amount, filled=o.filled)
        for o in orders
    )
    balance = Balance.objects.filter(account=restriction.account, token_id=deposit.token_id).first()
    available = balance.available + held_by_orders if balance else 0
    return UndoPlan(len(orders), int(deposit.amount), available)


def _open_frozen(restriction_id: int) -> AccountRestriction:
    restriction = (
        AccountRestriction.objects.select_for_update(of=("self",))
        .select_related("transfer__token__network")
        .filter(id=restriction_id, kind=RestrictionKind.FROZEN, resolved_at__isnull=True)
        .first()
    )
    if restriction is None or restriction.transfer is None:
        raise ReorgResolutionRefused(f"restriction {restriction_id} is not an open freeze")
    return restriction


def deposit_reorg_undo(*, restriction_id: int) -> AccountRestriction:
    """Applies the undo (module docstring) in one transaction, or refuses changing nothing."""
    with transaction.atomic():
        restriction = _open_frozen(restriction_id)
        deposit = _frozen_deposit(restriction)
        network, key = deposit.token.network, (deposit.account, deposit.token_id)
        orders = list(_open_orders(restriction, deposit).select_for_update())
        balances = balances_lock(network=network, keys=[key])
        balance_changes(
            [
                (
                    balances[key],
                    LedgerKind.RELEASE,
                    0,
                    -remaining_give(
                        give_amount=o.give_amount, take_amount=o.take_amount, filled=o.filled
                    ),
                    o.hash,
                )
                for o in orders
            ]
        )
        if balances[key].available < int(deposit.amount):
            raise ReorgResolutionRefused(
                f"{deposit.account} has only {balances[key].available} available of the "
                f"{deposit.amount} to undo: it was spent in trades; quarantine and reverse "
                "those first"
            )
        balance_change(
            balances[key],
            kind=LedgerKind.DEPOSIT,
            total_delta=-int(deposit.amount),
            reference=f"reorg:{deposit.id}",
        )
        Order.objects.filter(id__in=[o.id for o in orders]).update(
            status=OrderStatus.CANCELLED, updated_at=timezone.now()
        )
        if orders:
            market_data_changed(network_id=network.id, market_ids=[o.market_id for o in orders])
            for order in orders:
                order.status = OrderStatus.CANCELLED
            orders_changed(orders)
        Transfer.objects.filter(id=deposit.id).update(
            status=TransferStatus.FAILED,
            error="its block left the chain after it was credited; the credit was undone",
            updated_at=timezone.now(),
        )
        transfers_changed([deposit.id])
        _resolve(restriction, "deposit undone: credit reversed")
    logger.warning("event=deposit_reorg_undone transfer=%s", deposit.id)
    return restriction


def freeze_lift(*, restriction_id: int, note: str = "") -> AccountRestriction:
    """Resolves a freeze leaving the ledger as it is (the deposit is on chain after all)."""
    with transaction.atomic():
        restriction = _open_frozen(restriction_id)
        _resolve(restriction, note or "lifted by an operator: the deposit stays credited")
    logger.warning("event=freeze_lifted restriction=%s", restriction_id)
    return restriction


def _resolve(restriction: AccountRestriction, resolution: str) -> None:
    restriction.resolved_at = timezone.now()
    restriction.resolution = resolution
    restriction.save(update_fields=["resolved_at", "resolution"])
