"""Signed cancel-all (issue #16, docs/markets.md "Cancel-all", docs/signing.md).

The account signs cancelAllHash = keccak256(contractAddress ‖ account ‖ market ‖ nonce)
(market as its UTF-8 bytes, none when every market) with eth_sign, or the EIP-712
CancelAll struct. Each nonce is used once per account and network (a CancelAll row):
a replay is refused. Every open, unexpired order of the account (in the market) is
cancelled (closeReason CANCEL_ALL) and its hold released with a RELEASE ledger entry,
in one transaction with the nonce; the orders' stream events are written with them.
"""

import logging

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from exchange.clock import now_ms
from exchange.market_snapshots import market_data_changed
from exchange.models import CancelAll, CloseReason, LedgerKind, Network, Order, OrderStatus
from exchange.protocol import hashing
from exchange.protocol.typed_data import ETH_SIGN
from exchange.selectors.orders import market_by_name
from exchange.services.errors import FieldCode, FieldError
from exchange.services.ledger import balance_changes, balances_lock
from exchange.services.rows import rows_update
from exchange.services.signing import signature_error, signed_message
from exchange.streams.events import orders_changed

logger = logging.getLogger(__name__)


def orders_close(*, network: Network, open_orders: QuerySet, reason: CloseReason) -> list[Order]:
    """Cancels the open orders of `open_orders` inside the caller's transaction: locks them
    (by id) and their balances, releases each one's hold in the ledger, closes it with
    `reason` and publishes the change. A cancel-all and an operator's freeze both end here."""
    orders = list(open_orders.select_for_update().order_by("id"))
    balances = balances_lock(network=network, keys=[(o.account, o.give_token_id) for o in orders])
    changes, moment = [], timezone.now()
    for order in orders:
        balance = balances[(order.account, order.give_token_id)]
        changes.append((balance, LedgerKind.RELEASE, 0, -order.remaining_give, order.hash))
        order.status = OrderStatus.CANCELLED
        order.close_reason = reason
        order.updated_at = moment
    balance_changes(changes)
    rows_update(orders, ["status", "close_reason", "updated_at"])
    orders_changed(orders)
    market_data_changed(network_id=network.id, market_ids=[o.market_id for o in orders])
    return orders


def _nonce_used(network: Network, account: str, nonce: int) -> FieldError:
    return FieldError(
        "nonce",
        FieldCode.UNSUPPORTED_OPTION,
        f"Nonce {nonce} was already used by a cancel-all of {account}: sign a new nonce",
    )


def orders_cancel_all(
    *,
    network: Network,
    account: str,
    market_name: str | None,
    nonce: int,
    signature: str,
    signature_type: str = ETH_SIGN,
) -> list[Order]:
    """Cancels every open order of `account` (in `market_name` if given); returns them
    (possibly none). Refusals change nothing: an unknown market (1006 on market), a
    signature not the account's (1005 on signature, naming the computed hash and whom
    it recovers to), a nonce already used (1006 on nonce)."""
    account = account.lower()
    market = None
    if market_name:
        market = market_by_name(network=network, name=market_name)
        if market is None:
            raise FieldError(
                "market",
                FieldCode.UNSUPPORTED_OPTION,
                f"Market {market_name} is not traded on network {network.id} (names are "
                "BASE_QUOTE)",
            )
    contract = network.exchange_address
    if not contract:
        raise FieldError(
            "signature",
            FieldCode.INVALID_SIGNATURE,
            f"No exchange contract on network {network.id}: nothing to sign a cancel-all for",
        )
    expected = hashing.cancel_all_hash(
        contract=contract, account=account, market=market_name, nonce=nonce
    )
    signed = signed_message(
        signature_type=signature_type,
        hash_name="cancelAllHash",
        spec_hash=expected,
        struct="CancelAll",
        message={
            "contractAddress": contract,
            "account": account,
            "market": market_name or "",
            "nonce": nonce,
        },
        chain_id=network.id,
        contract=contract,
    )
    error = signature_error("signature", signed, signature, account)
    if error:
        raise error
    if CancelAll.objects.filter(network=network, account=account, nonce=nonce).exists():
        raise _nonce_used(network, account, nonce)
    try:
        with transaction.atomic():
            record = CancelAll.objects.create(
                network=network,
                account=account,
                nonce=nonce,
                market=market,
                hash=expected,
                signature=signature,
                signature_type=signature_type,
            )
            open_orders = Order.objects.filter(
                network=network, account=account, status=OrderStatus.OPEN, expiry_ms__gt=now_ms()
            )
            if market is not None:
                open_orders = open_orders.filter(market=market)
            orders = orders_close(
                network=network, open_orders=open_orders, reason=CloseReason.CANCEL_ALL
            )
            record.cancelled = len(orders)
            record.save(update_fields=["cancelled"])
    except IntegrityError:
        # A concurrent request with the same nonce won the unique constraint.
        raise _nonce_used(network, account, nonce) from None
    logger.info(
        "event=orders_cancelled_all network=%s account=%s market=%s count=%s",
        network.id,
        account,
        market_name or "*",
        len(orders),
    )
    return orders
