"""Operator controls of one account (issue #16, docs/markets.md): freeze and unfreeze.

A freeze is an open AccountRestriction of kind OPERATOR (who, when, why kept): the
account's open orders are cancelled (closeReason ACCOUNT_FROZEN) and their holds
released in the same transaction; its new orders, fills and withdrawals are refused
with code 102 (exchange/services/account_guard.py); deposits are still credited.
"""

import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from exchange.market_snapshots import market_data_changed
from exchange.models import (
    AccountRestriction,
    CloseReason,
    LedgerKind,
    Network,
    Order,
    OrderStatus,
    RestrictionKind,
)
from exchange.services.errors import Invalid
from exchange.services.ledger import balance_changes, balances_lock
from exchange.services.rows import rows_update
from exchange.streams.events import orders_changed

logger = logging.getLogger(__name__)


def account_freeze(*, network: Network, account: str, reason: str, by: str) -> list[Order]:
    """Freezes the account and cancels its open orders; returns them."""
    account = account.lower()
    if not reason.strip():
        raise Invalid("Give the reason for the freeze")
    try:
        with transaction.atomic():
            AccountRestriction.objects.create(
                network=network,
                account=account,
                kind=RestrictionKind.OPERATOR,
                reason=reason,
                created_by=by,
            )
            orders = list(
                Order.objects.select_for_update()
                .filter(network=network, account=account, status=OrderStatus.OPEN)
                .order_by("id")
            )
            balances = balances_lock(
                network=network, keys=[(o.account, o.give_token_id) for o in orders]
            )
            changes, moment = [], timezone.now()
            for order in orders:
                balance = balances[(order.account, order.give_token_id)]
                changes.append((balance, LedgerKind.RELEASE, 0, -order.remaining_give, order.hash))
                order.status = OrderStatus.CANCELLED
                order.close_reason = CloseReason.ACCOUNT_FROZEN
                order.updated_at = moment
            balance_changes(changes)
            rows_update(orders, ["status", "close_reason", "updated_at"])
            orders_changed(orders)
            market_data_changed(network_id=network.id, market_ids=[o.market_id for o in orders])
    except IntegrityError:
        raise Invalid(f"{account} is already frozen") from None
    logger.info(
        "event=account_frozen network=%s account=%s by=%s cancelled=%s",
        network.id,
        account,
        by,
        len(orders),
    )
    return orders


def account_unfreeze(*, restriction: AccountRestriction, by: str, resolution: str = "") -> bool:
    """Lifts an open operator freeze; False if it was not open."""
    lifted = AccountRestriction.objects.filter(
        pk=restriction.pk, kind=RestrictionKind.OPERATOR, resolved_at__isnull=True
    ).update(resolved_at=timezone.now(), resolved_by=by, resolution=resolution or "unfrozen")
    if lifted:
        logger.info("event=account_unfrozen account=%s by=%s", restriction.account, by)
    return bool(lifted)
