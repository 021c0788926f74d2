"""Placing, cancelling and expiring signed orders (PROTOCOL.md: hashes, signatures, balances).

The hold rule, shared with the trade service: an open order holds exactly its remaining
give amount, `order_remaining_give(order)`. A fill that moves `filled` from f0 to f1
releases `remaining_give(f0) - remaining_give(f1)` from the hold; a cancel or an expiry
releases what is left. So the held part of a balance always equals the sum of its open
orders' remaining give amounts (plus pending withdrawals), and a filled order holds 0.

Lock order (every service that changes orders and balances): order rows first, by id,
then balance rows by id (exchange/services/ledger.py balances_lock).
"""

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import NotRequired, TypedDict, Unpack

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from exchange.clock import now_ms
from exchange.market_snapshots import market_data_changed
from exchange.models import (
    Balance,
    LedgerKind,
    Market,
    MarketStatus,
    Network,
    Order,
    OrderSide,
    OrderStatus,
    Token,
)
from exchange.models.orders import PRICE_DIGITS, PRICE_PLACES, remaining_give
from exchange.protocol import hashing
from exchange.protocol.signatures import InvalidSignature
from exchange.protocol.typed_data import ETH_SIGN
from exchange.selectors.market_rules import Rules, rules_annotate, rules_of
from exchange.selectors.reference_cache import market_kept, market_of_pair
from exchange.services.account_guard import account_guard, escape_payable_check
from exchange.services.errors import (
    DomainError,
    FieldCode,
    FieldError,
    Invalid,
    NotFound,
    OrderSubmissionDisabled,
)
from exchange.services.ledger import (
    BalanceKey,
    balance_change,
    balance_changes,
    balance_returned,
    balances_lock,
)
from exchange.services.market_rules import open_orders_check, order_rules_check
from exchange.services.rows import as_saved, prepared_fetchone, prepared_row, rows_update
from exchange.services.signing import signature_error, signed_message
from exchange.streams.events import balances_changed, orders_changed

logger = logging.getLogger(__name__)

_PRICE_QUANTUM = Decimal(1).scaleb(-PRICE_PLACES)
_PRICE_LIMIT = Decimal(10) ** (PRICE_DIGITS - PRICE_PLACES)


def order_remaining_give(order: Order) -> int:
    """The order's hold: give_amount - floor(filled * give_amount / take_amount).

    Exactly 0 when filled == take_amount (no dust stays held).
    """
    return remaining_give(
        give_amount=order.give_amount, take_amount=order.take_amount, filled=order.filled
    )


def order_price(
    *, side: str, give_amount: int, take_amount: int, base_decimals: int, quote_decimals: int
) -> Decimal:
    """The human price in BASE per one QUOTE, to PRICE_PLACES places (PROTOCOL.md, "Markets")."""
    base_amount, quote_amount = (
        (give_amount, take_amount) if side == OrderSide.BID else (take_amount, give_amount)
    )
    with localcontext() as context:
        context.prec = 200
        price = (Decimal(base_amount) * Decimal(10) ** quote_decimals) / (
            Decimal(quote_amount) * Decimal(10) ** base_decimals
        )
        return price.quantize(_PRICE_QUANTUM, rounding=ROUND_HALF_EVEN)


def _listed_tokens(network: Network, give: str, take: str) -> tuple[Token, Token]:
    """Both tokens in one query; an unlisted one is refused on its field, give first."""
    found = {
        token.address: token
        for token in Token.objects.filter(network=network, address__in=[give, take], listed=True)
    }
    for address, field in ((give, "giveTokenAddress"), (take, "takeTokenAddress")):
        if address not in found:
            raise FieldError(
                field,
                FieldCode.ADDRESS_NOT_SUPPORTED,
                f"Token {address} is not listed on network {network.id}",
            )
    return found[give], found[take]


def _market_and_side(network: Network, give: Token, take: Token) -> tuple[Market, str]:
    markets = Market.objects.select_related("base", "quote", "network").filter(
        network=network, base__in=[give, take], quote__in=[give, take]
    )
    for market in markets:
        if market.base_id == give.id and market.quote_id == take.id:
            return market, OrderSide.BID
        if market.base_id == take.id and market.quote_id == give.id:
            return market, OrderSide.ASK
    raise FieldError(
        "takeTokenAddress",
        FieldCode.ADDRESS_NOT_SUPPORTED,
        f"No market trades {give.symbol} against {take.symbol} on network {network.id}",
    )


def _market_of_pair(network: Network, give: str, take: str) -> tuple[Market, str, Token, Token]:
    """The listed market of the two token addresses, its side and tokens, in one query;
    when there is none, the exact refusal is found by _listed_tokens and _market_and_side."""
    pair = [give, take]
    markets = Market.objects.select_related("base", "quote", "network").filter(
        network=network, base__address__in=pair, quote__address__in=pair
    )
    # The rules in force come with the market (subqueries: no query more).
    for market in rules_annotate(markets):
        if not (market.base.listed and market.quote.listed):
            continue
        if market.base.address == give and market.quote.address == take:
            return market, OrderSide.BID, market.base, market.quote
        if market.base.address == take and market.quote.address == give:
            return market, OrderSide.ASK, market.quote, market.base
    give_token, take_token = _listed_tokens(network, give, take)
    market, side = _market_and_side(network, give_token, take_token)
    return market, side, give_token, take_token


def _contract_address(network: Network) -> str:
    if not network.exchange_address:
        raise OrderSubmissionDisabled(f"No exchange contract is deployed on network {network.id}")
    return network.exchange_address


def order_place(
    *,
    network: Network,
    account: str,
    give_token_address: str,
    give_amount: int,
    take_token_address: str,
    take_amount: int,
    nonce: int,
    expiry_ms: int,
    signature: str,
    order_hash: str | None = None,
    signature_type: str = ETH_SIGN,
) -> Order:
    """Checks a signed order and puts it on the book, holding its giveAmount.

    `signature_type` says what the signature signs: the orderHash (eth_sign) or the
    order's EIP-712 digest (eip712); the orderHash is the order's identity either way.

    Refusals (exchange/services/errors.py, nothing written): submission disabled on the network
    or market (102), unknown token or market (1003), a hash that is not the server's
    (1005 on orderHash, naming the expected hash), a signature that is not account's
    (1005 on signature, naming whom it recovers to), an expired order (1004), a hash
    already used (1005), more than the available balance (1004 on giveAmount); off the
    market's rules (exchange/services/market_rules.py: 1004 on the field at fault).
    """
    account = account.lower()
    give_token_address, take_token_address = give_token_address.lower(), take_token_address.lower()
    if not network.order_submission_enabled:
        raise OrderSubmissionDisabled(f"Order submission is disabled on network {network.id}")
    if give_token_address == take_token_address:
        raise FieldError(
            "takeTokenAddress",
            FieldCode.ADDRESS_NOT_SUPPORTED,
            "giveTokenAddress and takeTokenAddress must be different tokens",
        )
    pair = market_of_pair(network.id, give_token_address, take_token_address)
    if pair is None:
        # The exact refusal (which token is unlisted, or no market trades the pair).
        market, side, give_token, take_token = _market_of_pair(
            network, give_token_address, take_token_address
        )
        rules = rules_of(market)
    else:
        market, side, give_token, take_token = pair.market, pair.side, pair.give, pair.take
        rules = pair.rules()
    # The network, contract address and rules come from the reference cache; the kill
    # switch and the market's status are read fresh, with the write (or, when a check
    # below refuses the order, first: 102 is the answer whatever else is wrong).
    network = market.network
    try:
        placed = _order_checked(
            network=network,
            market=market,
            side=side,
            account=account,
            give_token=give_token,
            give_amount=give_amount,
            take_token=take_token,
            take_amount=take_amount,
            nonce=nonce,
            expiry_ms=expiry_ms,
            signature=signature,
            order_hash=order_hash,
            signature_type=signature_type,
            rules=rules,
        )
    except DomainError:
        _switches_check(market.id)
        raise
    try:
        order = None
        if placed.fast and connection.vendor == "postgresql":
            order = _order_insert_fast(placed)
        if order is None:
            _switches_check(market.id)
            order = _order_insert_orm(placed)
    except IntegrityError:
        # A twin already placed (its hold was taken under the same balance lock, or on
        # another network's row by a hash collision): the unique index refused this
        # one and the transaction rolled back, hold and ledger entry with it.
        if Order.objects.filter(hash=placed.hash).exists():
            raise _duplicate(placed.hash) from None
        raise
    logger.info("event=order_placed hash=%s account=%s side=%s", order.hash, account, side)
    return order


class _Inserted(TypedDict, total=False):
    """What the database gave an order _Placement.order builds: its id and timestamps."""

    id: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class _Placement:
    """An order that passed every check but the balance, the guard and the switches."""

    network: Network
    market: Market
    side: str
    account: str
    give_token: Token
    give_amount: int
    take_token: Token
    take_amount: int
    nonce: int
    expiry_ms: int
    hash: str
    signature: str
    signature_type: str
    price: Decimal
    rules: Rules

    @property
    def fast(self) -> bool:
        # The open-order limit needs the count under both balance locks: the ORM path.
        return not self.rules.max_open_orders

    def order(self, **fields: Unpack[_Inserted]) -> Order:
        return Order(
            network=self.network,
            market=self.market,
            account=self.account,
            give_token=self.give_token,
            give_amount=self.give_amount,
            take_token=self.take_token,
            take_amount=self.take_amount,
            nonce=self.nonce,
            expiry_ms=self.expiry_ms,
            hash=self.hash,
            signature=self.signature,
            signature_type=self.signature_type,
            side=self.side,
            price=self.price,
            **fields,
        )


def _switches_check(market_id: int) -> None:
    """Refuses (102) an order in a market not TRADING or on a network whose order
    submission is off: one indexed read, fresh."""
    row = (
        Market.objects.filter(pk=market_id)
        .values_list("status", "network__order_submission_enabled", "network_id")
        .first()
    )
    if row is None:
        raise OrderSubmissionDisabled(f"Market {market_id} no longer exists")
    status, enabled, network_id = row
    if not enabled:
        raise OrderSubmissionDisabled(f"Order submission is disabled on network {network_id}")
    if status != MarketStatus.TRADING:
        market = market_kept(market_id)
        if market is None:
            raise OrderSubmissionDisabled(f"Market {market_id} no longer exists")
        raise OrderSubmissionDisabled(
            f"Market {market.name} is {MarketStatus(status).label.lower()}: new orders are refused"
        )


def _order_checked(
    *,
    network: Network,
    market: Market,
    side: str,
    account: str,
    give_token: Token,
    give_amount: int,
    take_token: Token,
    take_amount: int,
    nonce: int,
    expiry_ms: int,
    signature: str,
    order_hash: str | None,
    signature_type: str,
    rules: Rules,
) -> _Placement:
    """The checks that need no lock: hash, signature, expiry, price and the market's rules."""
    contract = _contract_address(network)
    expected = hashing.order_hash(
        contract=contract,
        account=account,
        give_token=give_token.address,
        give_amount=give_amount,
        take_token=take_token.address,
        take_amount=take_amount,
        nonce=nonce,
        expiry_ms=expiry_ms,
    )
    signed = signed_message(
        signature_type=signature_type,
        hash_name="orderHash",
        spec_hash=expected,
        struct="Order",
        message={
            "contractAddress": contract,
            "account": account,
            "giveTokenAddress": give_token.address,
            "giveAmount": give_amount,
            "takeTokenAddress": take_token.address,
            "takeAmount": take_amount,
            "nonce": nonce,
            "expiryTimestampInMilliseconds": expiry_ms,
        },
        chain_id=network.id,
        contract=contract,
    )
    if order_hash is not None and order_hash.lower() != expected:
        try:
            signer = f"recovers to {signed.signer(signature)}"
        except InvalidSignature as invalid:
            signer = f"is invalid ({invalid})"
        raise FieldError(
            "orderHash",
            FieldCode.INVALID_SIGNATURE,
            f"orderHash {order_hash} does not match the order's fields: the server computed "
            f"{expected} with contractAddress {contract}; the signature over it {signer}",
        )
    error = signature_error("signature", signed, signature, account)
    if error:
        raise error

    if expiry_ms <= now_ms():
        raise FieldError(
            "expiryTimestampInMilliseconds",
            FieldCode.OUT_OF_RANGE,
            f"The order expired at {expiry_ms} (Unix ms); it must be in the future",
        )
    price = order_price(
        side=side,
        give_amount=give_amount,
        take_amount=take_amount,
        base_decimals=market.base.decimals,
        quote_decimals=market.quote.decimals,
    )
    if price >= _PRICE_LIMIT:
        raise FieldError(
            "takeAmount",
            FieldCode.OUT_OF_RANGE,
            f"The order's price is above the largest price the book stores ({_PRICE_LIMIT})",
        )
    order_rules_check(
        market=market, rules=rules, side=side, give_amount=give_amount, take_amount=take_amount
    )
    return _Placement(
        network=network,
        market=market,
        side=side,
        account=account,
        give_token=give_token,
        give_amount=give_amount,
        take_token=take_token,
        take_amount=take_amount,
        nonce=nonce,
        expiry_ms=expiry_ms,
        hash=expected,
        signature=signature.lower(),
        signature_type=signature_type,
        price=price,
        rules=rules,
    )


def _duplicate(order_hash: str) -> FieldError:
    return FieldError(
        "orderHash", FieldCode.INVALID_SIGNATURE, f"An order with hash {order_hash} already exists"
    )


# One statement (PostgreSQL): the hold taken from the give balance if its available part
# covers the order (the UPDATE re-checks it on the row's latest version when it had to
# wait for the row lock), the market trading, order submission on, no open restriction
# on the account; then the HOLD ledger entry and the order, both only if the hold was
# taken. Zero rows: nothing was written, the ORM path finds out why.
_PLACE_SQL = """
WITH balance AS (
    UPDATE exchange_balance AS b SET held = b.held + %(amount)s, updated_at = %(now)s
    WHERE b.account = %(account)s AND b.token_id = %(give_token)s
      AND b.total - b.held >= %(amount)s
      AND EXISTS (
          SELECT 1 FROM exchange_market AS m JOIN exchange_network AS n ON n.id = m.network_id
          WHERE m.id = %(market)s AND m.status = %(trading)s AND n.order_submission_enabled)
      AND NOT EXISTS (
          SELECT 1 FROM exchange_accountrestriction AS r
          WHERE r.network_id = %(network)s AND r.account = %(account)s
            AND r.resolved_at IS NULL)
    RETURNING b.id, b.network_id, b.total, b.held
), entry AS (
    INSERT INTO exchange_ledgerentry
        (balance_id, kind, total_delta, held_delta, total_after, held_after, reference,
         created_at)
    SELECT id, %(kind)s, 0, %(amount)s, total, held, %(hash)s, %(now)s FROM balance
), placed AS (
    INSERT INTO exchange_order
        (network_id, market_id, account, give_token_id, give_amount, take_token_id,
         take_amount, nonce, expiry_ms, hash, signature, signature_type, side, price, filled,
         status, close_reason, created_at, updated_at)
    SELECT %(network)s, %(market)s, %(account)s, %(give_token)s, %(amount)s, %(take_token)s,
           %(take_amount)s, %(nonce)s, %(expiry)s, %(hash)s, %(signature)s,
           %(signature_type)s, %(side)s, %(price)s, 0, %(open)s, '', %(now)s, %(now)s
    FROM balance
    RETURNING id
)
SELECT placed.id, balance.id, balance.network_id, balance.total, balance.held
FROM placed, balance
"""


def _order_insert_fast(placed: _Placement) -> Order | None:
    """The order placed in one statement (PostgreSQL), or None when that statement
    wrote nothing (too little available, a restriction, a switch off, no balance row)."""
    moment = timezone.now()
    params = {
        "amount": placed.give_amount,
        "now": moment,
        "account": placed.account,
        "give_token": placed.give_token.id,
        "market": placed.market.id,
        "trading": MarketStatus.TRADING.value,
        "network": placed.network.id,
        "kind": LedgerKind.HOLD.value,
        "hash": placed.hash,
        "take_token": placed.take_token.id,
        "take_amount": placed.take_amount,
        "nonce": placed.nonce,
        "expiry": placed.expiry_ms,
        "signature": placed.signature,
        "signature_type": placed.signature_type,
        "side": placed.side,
        "price": placed.price,
        "open": OrderStatus.OPEN.value,
    }
    with transaction.atomic():
        row = prepared_fetchone(_PLACE_SQL, params)
        if row is None:
            return None
        order = as_saved(placed.order(id=row[0], created_at=moment, updated_at=moment))
        balance = balance_returned(
            account=placed.account, token_id=placed.give_token.id, row=row[1:]
        )
        balances_changed([balance])
        orders_changed([order], placed.market)
        market_data_changed(network_id=placed.network.id, market_ids=[placed.market.id])
    return order


def _order_insert_orm(placed: _Placement) -> Order:
    """The order placed through the ORM (SQLite; the open-order limit; and the refusals):
    the account guard, the balance lock, the exact refusal of what is wrong."""
    network, account, give_token = placed.network, placed.account, placed.give_token
    guard = account_guard(network=network, accounts=[account])
    guard.read(account, give_token.address)
    with transaction.atomic():
        key = (account, give_token.id)
        keys = [key]
        if placed.rules.max_open_orders:
            # Both of the account's balances in the market: its placements on either
            # side wait for each other, so the open-order count below cannot race.
            keys.append((account, placed.take_token.id))
        balance = balances_lock(network=network, keys=keys)[key]
        # A twin of this order (same hash) is refused by the unique index on insert
        # (below); here only when it is what left too little available.
        if placed.give_amount > balance.available:
            if Order.objects.filter(hash=placed.hash).exists():
                raise _duplicate(placed.hash)
            raise FieldError(
                "giveAmount",
                FieldCode.OUT_OF_RANGE,
                f"giveAmount {placed.give_amount} is more than the available balance "
                f"{balance.available} of {give_token.symbol} ({give_token.address})",
            )
        escape_payable_check(
            guard=guard,
            account=account,
            token_id=give_token.id,
            token_address=give_token.address,
            amount=placed.give_amount,
            field="giveAmount",
            with_orders=True,
        )
        if placed.rules.max_open_orders:
            # Live orders (an expired one not yet swept is off the book already).
            open_count = Order.objects.filter(
                market=placed.market,
                account=account,
                status=OrderStatus.OPEN,
                expiry_ms__gt=now_ms(),
            ).count()
            open_orders_check(
                market=placed.market,
                rules=placed.rules,
                account=account,
                open_count=open_count,
            )
        balance_change(
            balance, kind=LedgerKind.HOLD, held_delta=placed.give_amount, reference=placed.hash
        )
        order = placed.order()
        order.save(force_insert=True)
        orders_changed([order], placed.market)
        market_data_changed(network_id=network.id, market_ids=[placed.market.id])
    return order


def orders_close(
    network: Network,
    orders: list[Order],
    reason: str = "",
    *,
    status: str = OrderStatus.CANCELLED,
    balances: dict[BalanceKey, Balance] | None = None,
) -> None:
    """Closes open orders the caller has locked (in id order, in its transaction): each
    one's hold is released from its give balance with a RELEASE ledger entry, it becomes
    `status` (CANCELLED, or EXPIRED for the sweep) with the close reason (CloseReason, or
    "" for the owner's own cancel), and its stream events and the markets' new data
    versions go with the transaction. The give balances are locked here by id, after the
    orders, unless the caller passes the rows it locked (with others, in one id order)."""
    if not orders:
        return
    if balances is None:
        balances = _give_balances_lock(network, orders)
    changes = [
        (
            balances[(order.account, order.give_token_id)],
            LedgerKind.RELEASE,
            0,
            -order_remaining_give(order),
            order.hash,
        )
        for order in orders
    ]
    balance_changes(changes)
    moment = timezone.now()
    for order in orders:
        order.status, order.close_reason, order.updated_at = status, reason, moment
    rows_update(orders, ["status", "close_reason", "updated_at"])
    orders_changed(orders)
    market_data_changed(network_id=network.id, market_ids=[order.market_id for order in orders])


def _give_balances_lock(network: Network, orders: list[Order]) -> dict[BalanceKey, Balance]:
    return balances_lock(
        network=network, keys=[(order.account, order.give_token_id) for order in orders]
    )


def order_cancel(
    *,
    network: Network,
    order_hash: str,
    account: str,
    nonce: int,
    signature: str,
    signature_type: str = ETH_SIGN,
) -> Order:
    """Cancels an open order signed off by its owner (cancelHash, or the EIP-712 Cancel
    digest: `signature_type`) and releases its hold.

    An unknown (or other network's) order is a 404; an order that is not the account's,
    a signature that is not the owner's (1005), or an order already filled, cancelled or
    expired (400) changes nothing. Cancels are allowed in every market status: they only
    give users their funds back.
    """
    order_hash, account = order_hash.lower(), account.lower()
    if connection.vendor == "postgresql":
        order = prepared_row(
            Order,
            "hash = %(hash)s AND network_id = %(network)s",
            {"hash": order_hash, "network": network.id},
        )
    else:
        order = Order.objects.filter(network=network, hash=order_hash).first()
    if order is None:
        raise NotFound(f"No order with hash {order_hash} on network {network.id}")
    if order.account != account:
        raise FieldError(
            "account",
            FieldCode.ADDRESS_NOT_SUPPORTED,
            f"Order {order_hash} belongs to {order.account}, not to {account}",
        )
    expected = hashing.cancel_hash(order_hash=order_hash, nonce=nonce)
    signed = signed_message(
        signature_type=signature_type,
        hash_name="cancelHash",
        spec_hash=expected,
        struct="Cancel",
        message={"orderHash": order_hash, "nonce": nonce},
        chain_id=network.id,
        contract=network.exchange_address,
    )
    error = signature_error("signature", signed, signature, order.account)
    if error:
        raise error
    released = _order_cancel_fast(network, order) if connection.vendor == "postgresql" else None
    if released is not None:
        logger.info("event=order_cancelled hash=%s released=%s", order.hash, released)
        return order
    # The ORM path: SQLite, and the refusal of an order that is no longer open.
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        if order.status == OrderStatus.OPEN and order.expiry_ms <= now_ms():
            # Expired but not swept yet: it is already off the book; the sweep releases it.
            state = "expired"
        elif order.status != OrderStatus.OPEN:
            state = order.get_status_display().lower()
        else:
            state = None
        if state is not None:
            raise FieldError(
                "orderHash",
                FieldCode.UNSUPPORTED_OPTION,
                f"Order {order_hash} is already {state}: nothing to cancel",
            )
        released = order_remaining_give(order)
        orders_close(network, [order])
    logger.info("event=order_cancelled hash=%s released=%s", order.hash, released)
    return order


# One statement (PostgreSQL), orders_close for one order: the order row locked first
# (closed only if still open and unexpired, on its latest version), then its give
# balance, released by its remaining give amount computed from the `filled` it has
# under that lock (div: exact integer division), with the RELEASE entry.
_CANCEL_SQL = """
WITH closed AS (
    UPDATE exchange_order AS o
    SET status = %(cancelled)s, close_reason = '', updated_at = %(now)s
    WHERE o.id = %(order)s AND o.status = %(open)s AND o.expiry_ms > %(now_ms)s
    RETURNING o.account, o.give_token_id, o.filled,
              o.give_amount - div(o.filled * o.give_amount, o.take_amount) AS released
), balance AS (
    UPDATE exchange_balance AS b SET held = b.held - c.released, updated_at = %(now)s
    FROM closed AS c
    WHERE b.account = c.account AND b.token_id = c.give_token_id AND c.released > 0
    RETURNING b.id, b.network_id, b.total, b.held, c.released
), entry AS (
    INSERT INTO exchange_ledgerentry
        (balance_id, kind, total_delta, held_delta, total_after, held_after, reference,
         created_at)
    SELECT id, %(kind)s, 0, -released, total, held, %(hash)s, %(now)s FROM balance
)
SELECT c.filled, c.released, b.id, b.network_id, b.total, b.held
FROM closed AS c LEFT JOIN balance AS b ON true
"""


def _order_cancel_fast(network: Network, order: Order) -> int | None:
    """Cancels the order in one statement (PostgreSQL) and returns what it released;
    None (nothing written) if it was no longer open and unexpired."""
    moment = timezone.now()
    params = {
        "cancelled": OrderStatus.CANCELLED.value,
        "open": OrderStatus.OPEN.value,
        "now": moment,
        "now_ms": now_ms(),
        "order": order.pk,
        "kind": LedgerKind.RELEASE.value,
        "hash": order.hash,
    }
    with transaction.atomic():
        row = prepared_fetchone(_CANCEL_SQL, params)
        if row is None:
            return None
        filled, released, balance_id = row[:3]
        order.filled = filled
        order.status, order.close_reason, order.updated_at = OrderStatus.CANCELLED, "", moment
        if balance_id is not None:
            balance = balance_returned(
                account=order.account, token_id=order.give_token_id, row=row[2:]
            )
            balances_changed([balance])
        orders_changed([order])
        market_data_changed(network_id=network.id, market_ids=[order.market_id])
    return int(released)


# Bounds the rows one request locks, as create_trades' MAX_TRADES_PER_REQUEST.
MAX_CANCELS_PER_REQUEST = 50


class _CancelFields(TypedDict):
    """A cancel's owner and signature: _cancel_authorised's keyword arguments."""

    account: str
    nonce: int
    signature: str
    signature_type: str


class SignedCancel(TypedDict):
    """One cancel of a batch (orders_cancel): order_cancel's keyword arguments but
    `network`, signature_type defaulting to eth_sign."""

    order_hash: str
    account: str
    nonce: int
    signature: str
    signature_type: NotRequired[str]


def orders_cancel(*, network: Network, cancels: list[SignedCancel]) -> list[Order]:
    """Cancels a batch of signed cancels (each as order_cancel's keyword arguments but
    `network`): all or none. Every item is checked as order_cancel checks one (404, 1005,
    1003, 400 on an order not open), with its field named "[i].field"; then the orders
    are locked by id, their balances by id, and every hold released in one transaction."""
    if not cancels:
        raise Invalid("Give at least one cancel")
    if len(cancels) > MAX_CANCELS_PER_REQUEST:
        raise Invalid(
            f"At most {MAX_CANCELS_PER_REQUEST} cancels per request, got {len(cancels)}",
        )
    hashes = [item["order_hash"].lower() for item in cancels]
    found = {o.hash: o for o in Order.objects.filter(network=network, hash__in=hashes)}
    for index, item in enumerate(cancels):
        if hashes.index(hashes[index]) != index:
            raise FieldError(
                f"[{index}].orderHash",
                FieldCode.UNSUPPORTED_OPTION,
                f"Order {hashes[index]} is cancelled twice in this request",
            )
        order = found.get(hashes[index])
        if order is None:
            raise NotFound(
                f"[{index}].orderHash: no order with hash {hashes[index]} on network {network.id}"
            )
        _cancel_authorised(network, order, prefix=f"[{index}].", **_cancel_fields(item))
    with transaction.atomic():
        orders = list(
            Order.objects.select_for_update()
            .filter(pk__in=[o.pk for o in found.values()])
            .order_by("id")
        )
        by_hash = {order.hash: order for order in orders}
        for index, order_hash in enumerate(hashes):
            _refuse_closed(by_hash[order_hash], field=f"[{index}].orderHash")
        orders_close(network, orders)
    logger.info("event=orders_cancelled count=%s hashes=%s", len(orders), ",".join(hashes))
    return [by_hash[h] for h in hashes]


def _cancel_fields(item: SignedCancel) -> _CancelFields:
    return {
        "account": item["account"],
        "nonce": item["nonce"],
        "signature": item["signature"],
        "signature_type": item.get("signature_type", ETH_SIGN),
    }


def _cancel_authorised(
    network: Network,
    order: Order,
    *,
    account: str,
    nonce: int,
    signature: str,
    signature_type: str,
    prefix: str = "",
) -> None:
    """Refuses a cancel of another account's order, or not signed by the owner."""
    account = account.lower()
    if order.account != account:
        raise FieldError(
            f"{prefix}account",
            FieldCode.ADDRESS_NOT_SUPPORTED,
            f"Order {order.hash} belongs to {order.account}, not to {account}",
        )
    expected = hashing.cancel_hash(order_hash=order.hash, nonce=nonce)
    signed = signed_message(
        signature_type=signature_type,
        hash_name="cancelHash",
        spec_hash=expected,
        struct="Cancel",
        message={"orderHash": order.hash, "nonce": nonce},
        chain_id=network.id,
        contract=network.exchange_address,
    )
    error = signature_error(f"{prefix}signature", signed, signature, order.account)
    if error:
        raise error


def _refuse_closed(order: Order, *, field: str) -> None:
    """Refuses (400, 1006) a locked order that is not open, or open but expired."""
    if order.status == OrderStatus.OPEN and order.expiry_ms <= now_ms():
        # Expired but not swept yet: it is already off the book; the sweep releases it.
        state = "expired"
    elif order.status != OrderStatus.OPEN:
        state = order.get_status_display().lower()
    else:
        return
    raise FieldError(
        field,
        FieldCode.UNSUPPORTED_OPTION,
        f"Order {order.hash} is already {state}: nothing to cancel",
    )


def orders_expire(*, now: int | None = None, batch_size: int = 500) -> int:
    """Closes open orders whose expiry has passed and releases their holds; returns the count.

    Batches lock their orders with SKIP LOCKED, so concurrent sweeps (or a sweep racing a
    fill or cancel) never wait on each other and never expire an order twice.
    """
    now = now_ms() if now is None else now
    expired = 0
    for network in Network.objects.all():
        while True:
            with transaction.atomic():
                batch = list(
                    Order.objects.select_for_update(skip_locked=True)
                    .filter(network=network, status=OrderStatus.OPEN, expiry_ms__lte=now)
                    .order_by("id")[:batch_size]
                )
                if not batch:
                    break
                orders_close(network, batch, status=OrderStatus.EXPIRED)
            expired += len(batch)
            logger.info("event=orders_expired network=%s count=%s", network.id, len(batch))
    return expired
