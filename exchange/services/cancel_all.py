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

from exchange.clock import now_ms
from exchange.models import CancelAll, CloseReason, Network, Order, OrderStatus
from exchange.protocol import hashing
from exchange.protocol.typed_data import ETH_SIGN
from exchange.selectors.orders import market_by_name
from exchange.services.errors import FieldCode, FieldError
from exchange.services.orders import orders_close
from exchange.services.signing import signature_error, signed_message

logger = logging.getLogger(__name__)


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
            orders = list(open_orders.select_for_update().order_by("id"))
            orders_close(network, orders, CloseReason.CANCEL_ALL)
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
