"""Operator controls of one account (issue #16, docs/markets.md): freeze and unfreeze.

A freeze is an open AccountRestriction of kind OPERATOR (who, when, why kept): the
account's open orders are cancelled (closeReason ACCOUNT_FROZEN) and their holds
released in the same transaction; its new orders, fills and withdrawals are refused
with code 102 (exchange/services/account_guard.py); deposits are still credited.
"""

import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from exchange.models import (
    AccountRestriction,
    CloseReason,
    Network,
    Order,
    OrderStatus,
    RestrictionKind,
)
from exchange.services.errors import Invalid
from exchange.services.orders import orders_close

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
            orders_close(network, orders, CloseReason.ACCOUNT_FROZEN)
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
