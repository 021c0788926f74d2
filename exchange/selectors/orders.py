"""Reads of orders: an account's open orders, one order, the order book.

Every read shows live orders only: OPEN and not yet expired (expiry_ms > now), so an
order that has expired but has not been swept yet is never shown. Records are built
from values_list rows (a serializer per object would cost more than the query).
"""

from collections.abc import Sequence
from typing import Any

from django.db.models import Count, Q, QuerySet

from exchange.clock import now_ms
from exchange.models import Market, Network, Order, OrderSide, OrderStatus
from exchange.paging import PageRequest
from exchange.records import Record

_FIELDS = (
    "account",
    "give_token__address",
    "give_amount",
    "take_token__address",
    "take_amount",
    "filled",
    "nonce",
    "expiry_ms",
    "hash",
    "created_at",
)
_BOOK_FIELDS = (
    "account",
    "give_amount",
    "take_amount",
    "filled",
    "nonce",
    "expiry_ms",
    "hash",
    "created_at",
)


def _record(row: Sequence[Any], hash_key: str) -> Record:
    account, give_token, give, take_token, take, filled, nonce, expiry, hash_, created = row
    return {
        "account": account,
        "giveTokenAddress": give_token,
        "giveAmount": str(give),
        "takeTokenAddress": take_token,
        "takeAmount": str(take),
        "filled": str(filled),
        "nonce": str(nonce),
        "expiryTimestampInMilliseconds": str(expiry),
        hash_key: hash_,
        "created_at": str(int(created.timestamp())),
    }


def order_record(order: Order, *, hash_key: str = "orderHash") -> Record:
    """One order as the API shows it (create_orders: "orderHash"; get_orders: "hash")."""
    return _record(
        (
            order.account,
            order.give_token.address,
            order.give_amount,
            order.take_token.address,
            order.take_amount,
            order.filled,
            order.nonce,
            order.expiry_ms,
            order.hash,
            order.created_at,
        ),
        hash_key,
    )


def live_orders(network: Network) -> QuerySet[Order]:
    return Order.objects.filter(network=network, status=OrderStatus.OPEN, expiry_ms__gt=now_ms())


_LIST_EXTRA = ("status", "close_reason", "market__base__symbol", "market__quote__symbol")
# get_orders' `status` filter: OPEN is live (open, not expired); EXPIRED includes the
# open orders whose expiry passed before the sweep closed them.
ORDER_STATUSES = ("OPEN", "FILLED", "CANCELLED", "EXPIRED", "ALL")


def _status_filter(orders: QuerySet[Order], status: str, now: int) -> QuerySet[Order]:
    if status == "OPEN":
        return orders.filter(status=OrderStatus.OPEN, expiry_ms__gt=now)
    if status == "EXPIRED":
        return orders.filter(
            Q(status=OrderStatus.EXPIRED) | Q(status=OrderStatus.OPEN, expiry_ms__lte=now)
        )
    if status == "ALL":
        return orders
    return orders.filter(status=status)


def order_list(
    *,
    network: Network,
    page: PageRequest,
    account: str | None = None,
    order_hash: str | None = None,
    market: Market | None = None,
    status: str | None = None,
) -> tuple[int, list[Record]]:
    """An account's orders and/or the order with a hash, oldest first (get_orders).

    By account the default is the live orders (as the spec); `status` picks another
    state (or ALL). By hash the order is found in any state unless `status` is given.
    Records carry status, market and closeReason beside the spec's fields."""
    now = now_ms()
    orders = Order.objects.filter(network=network)
    if account is not None:
        orders = orders.filter(account=account.lower())
    if order_hash is not None:
        orders = orders.filter(hash=order_hash.lower())
    if market is not None:
        orders = orders.filter(market=market)
    if status is None:
        status = "ALL" if order_hash is not None else "OPEN"
    orders = _status_filter(orders, status, now)
    rows = page.slice(orders.order_by("created_at", "id").values_list(*_FIELDS, *_LIST_EXTRA))
    records = []
    for row in rows:
        record = _record(row[: len(_FIELDS)], "hash")
        state, reason, base, quote = row[len(_FIELDS) :]
        if state == OrderStatus.OPEN and row[_FIELDS.index("expiry_ms")] <= now:
            state = OrderStatus.EXPIRED
        record.update(status=state, market=f"{base}_{quote}", closeReason=reason or None)
        records.append(record)
    return orders.count(), records


def market_by_name(*, network: Network, name: str) -> Market | None:
    base, sep, quote = name.partition("_")
    if not sep:
        return None
    return (
        Market.objects.select_related("base", "quote")
        .filter(network=network, base__symbol__iexact=base, quote__symbol__iexact=quote)
        .first()
    )


def orderbook_side(market: Market, side: str, expiry_after: int) -> QuerySet[Order]:
    """The query of one side of the book, in book order (served by the order_book index)."""
    ordering = (
        ("-price", "expiry_ms", "id") if side == OrderSide.BID else ("price", "expiry_ms", "id")
    )
    return Order.objects.filter(
        market=market, side=side, status=OrderStatus.OPEN, expiry_ms__gt=expiry_after
    ).order_by(*ordering)


def orderbook_counts(market: Market) -> dict[str, int]:
    """Both sides' live order counts, by side, in one index-only scan (order_book_count)."""
    rows = (
        Order.objects.filter(market=market, status=OrderStatus.OPEN, expiry_ms__gt=now_ms())
        .values_list("side")
        .order_by()
        .annotate(count=Count("*"))
    )
    return dict(rows)


def orderbook_read(
    *, market: Market, page: PageRequest, counts: dict[str, int] | None = None
) -> tuple[dict[str, Record], int | None]:
    """{"bids": envelope, "asks": envelope}: bids by price descending, asks ascending,
    each then by expiry ascending (and arrival); page/per_page apply to both sides.
    With it, the earliest expiry (Unix ms) of an order shown, or None. `counts` (from
    orderbook_counts) gives the totals, read now when not given."""
    now = now_ms()
    if counts is None:
        counts = orderbook_counts(market)
    book: dict[str, Record] = {}
    expiries: list[int] = []
    for key, side in (("bids", OrderSide.BID), ("asks", OrderSide.ASK)):
        give, take = (
            (market.base, market.quote) if side == OrderSide.BID else (market.quote, market.base)
        )
        rows = page.slice(orderbook_side(market, side, now).values_list(*_BOOK_FIELDS))
        records = []
        for account, g, *rest in rows:
            records.append(_record((account, give.address, g, take.address, *rest), "orderHash"))
            expiries.append(rest[3])
        book[key] = page.envelope(counts.get(side, 0), records)
    return book, min(expiries, default=None)


def orderbook_get(*, market: Market, page: PageRequest) -> dict[str, Record]:
    """The order book's page (see orderbook_read)."""
    return orderbook_read(market=market, page=page)[0]
