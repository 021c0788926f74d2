"""Reads of trades: create_trades results and the get_trades history."""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet
from psycopg.types.numeric import Int8

from exchange.models import Market, Network, Trade
from exchange.paging import PageRequest
from exchange.prepared_statements import prepared_fetchall
from exchange.records import Record
from exchange.trading_math import decimal_str

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
TRADE_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def from_ms(milliseconds: int) -> datetime:
    """Unix milliseconds as an exact aware datetime (no float on the way)."""
    return _EPOCH + timedelta(milliseconds=milliseconds)


def trade_result(trade: Trade) -> Record:
    """One create_trades result (PROTOCOL.md "Trades"): sizes in QUOTE and BASE base
    units, the human price BASE per QUOTE, and the taker's side."""
    market = trade.market
    return {
        "amount": str(trade.quote_amount),
        "date": trade.created_at.astimezone(UTC).strftime(TRADE_TIME_FORMAT),
        "total": str(trade.base_amount),
        "baseTokenAddress": market.base.address,
        "quoteTokenAddress": market.quote.address,
        "type": trade.taker_side,
        "price": decimal_str(trade.price),
        "orderHash": trade.order.hash,
        "uuid": str(trade.uuid),
    }


_FIELDS = (
    "id",
    "give_token__address",
    "give_amount",
    "take_token__address",
    "take_amount",
    "order__hash",
    "uuid",
    "buyer_fee",
    "seller_fee",
    "gas_fee",
    "maker",
    "taker",
    "transaction_hash",
    "created_at",
)


def _history_record(row: Sequence[Any]) -> Record:
    (id_, give_token, give, take_token, take, order_hash, uuid, buyer_fee, seller_fee, gas_fee) = (
        row[:10]
    )
    maker, taker, transaction_hash, created_at = row[10:]
    return {
        "id": str(id_),
        "giveTokenAddress": give_token,
        "giveAmount": str(give),
        "takeTokenAddress": take_token,
        "takeAmount": str(take),
        "orderHash": order_hash,
        "uuid": str(uuid),
        "buyerFee": str(buyer_fee),
        "sellerFee": str(seller_fee),
        "gasFee": str(gas_fee),
        "makerAddress": maker,
        "takerAddress": taker,
        "transactionHash": transaction_hash or None,
        "created_at": created_at.astimezone(UTC).strftime(TRADE_TIME_FORMAT),
    }


def trade_list(
    *,
    network: Network,
    page: PageRequest,
    order_hash: str | None = None,
    market: Market | None = None,
    account: str | None = None,
    start_ms: int | None = None,
    end_ms: int | None = None,
    ascending: bool = False,
) -> tuple[int, list[Record]]:
    """Trades matching every filter given (account: as maker or taker), by time.

    The range is inclusive at both ends, to the millisecond. Each record shows the
    maker's side: give* is what the maker gave (the taker received), take* the
    `amount` the taker gave; transactionHash is null until the settlement is sent.
    """
    trades = Trade.objects.filter(network=network)
    if order_hash is not None:
        trades = trades.filter(order__hash=order_hash.lower())
    if market is not None:
        trades = trades.filter(market=market)
    if start_ms is not None:
        trades = trades.filter(created_at__gte=from_ms(start_ms))
    if end_ms is not None:
        trades = trades.filter(created_at__lt=from_ms(end_ms + 1))
    ordering = ("created_at", "id") if ascending else ("-created_at", "-id")
    if account is not None and connection.vendor == "postgresql":
        return _account_trades(trades, account.lower(), page, ordering)
    if account is not None:
        # The embedded SQLite mode: one OR query (its compound selects take no LIMIT).
        account = account.lower()
        trades = trades.filter(Q(maker=account) | Q(taker=account))
    rows = page.slice(trades.order_by(*ordering).values_list(*_FIELDS))
    return trades.count(), [_history_record(row) for row in rows]


# One statement for an account's page: the two sides' index-only scans cut at the
# page's end and merged (as before), the page's rows with their tokens and order hash,
# and the total (a count of each side), so the ORM builds two small WHERE clauses and
# nothing else (its compiling was most of the cost; the database's part is ~2 ms at
# page 50 of 10k trades).
_ACCOUNT_PAGE = """
SELECT c.total, r.* FROM (
    SELECT (SELECT count(*) FROM ({maker}) AS m) + (SELECT count(*) FROM ({taker}) AS t) AS total
) AS c LEFT JOIN LATERAL (
    SELECT t.id, g.address, t.give_amount, k.address, t.take_amount, o.hash, t.uuid,
        t.buyer_fee, t.seller_fee, t.gas_fee, t.maker, t.taker, t.transaction_hash,
        t.created_at
    FROM (
        (({maker}) ORDER BY 1 {direction}, 2 {direction} LIMIT %s)
        UNION ALL (({taker}) ORDER BY 1 {direction}, 2 {direction} LIMIT %s)
        ORDER BY 1 {direction}, 2 {direction} OFFSET %s LIMIT %s
    ) AS p (created_at, id)
    JOIN exchange_trade t ON t.id = p.id
    JOIN exchange_token g ON g.id = t.give_token_id
    JOIN exchange_token k ON k.id = t.take_token_id
    JOIN exchange_order o ON o.id = t.order_id
    ORDER BY p.created_at {direction}, p.id {direction}
) AS r ON true
"""


def _account_trades(
    trades: QuerySet[Trade], account: str, page: PageRequest, ordering: tuple[str, str]
) -> tuple[int, list[Record]]:
    """maker = account OR taker = account as two index-ordered scans (trade_maker_time,
    trade_taker_time), each cut at the page's end, merged; the taker side leaves out
    the account's own makes, so no trade is counted twice. One statement
    (_ACCOUNT_PAGE) with the total."""
    keys = ("created_at", "id")
    maker, maker_params = (
        trades.filter(maker=account).order_by().values_list(*keys).query.sql_with_params()
    )
    taker, taker_params = (
        trades.filter(taker=account).exclude(maker=account).order_by().values_list(*keys).query
    ).sql_with_params()
    if page.past_any_table:
        page = PageRequest(page=1, per_page=0)  # the total alone
    end = page.offset + page.per_page
    sql = _ACCOUNT_PAGE.format(
        maker=maker, taker=taker, direction="ASC" if ordering[0] == "created_at" else "DESC"
    )
    params = [*maker_params, *taker_params, *maker_params, end, *taker_params, end]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, page.offset, page.per_page])
        rows = cursor.fetchall()
    total = rows[0][0]
    return total, [_history_record(row[1:]) for row in rows if row[1] is not None]


# The account-filtered page on PostgreSQL, rendered by the database (issue #20: building
# the records in Python was most of a deep page's CPU). Each record is the JSON text
# _history_record's dict renders to with the API's renderer (compact separators, the same
# key order): PostgreSQL's json_build_object writes `"key" : value, ...`, so the
# records are written by this template instead, every string value through to_json (the
# JSON escaping of PostgreSQL, equal to Python's for these values: addresses, hashes);
# numbers are NUMERIC(78, 0) and bigint text, as str() of their Python values; the date
# is the UTC wall time to the second, as TRADE_TIME_FORMAT; an empty transaction hash is
# null. tests/api/test_trade_pages_rendered.py compares the bytes with the ORM path's.
_RECORD_JSON = """'{"id":"' || t.id::text
    || '","giveTokenAddress":' || to_json(g.address)::text
    || ',"giveAmount":"' || t.give_amount::text
    || '","takeTokenAddress":' || to_json(k.address)::text
    || ',"takeAmount":"' || t.take_amount::text
    || '","orderHash":' || to_json(o.hash)::text
    || ',"uuid":"' || t.uuid::text
    || '","buyerFee":"' || t.buyer_fee::text
    || '","sellerFee":"' || t.seller_fee::text
    || '","gasFee":"' || t.gas_fee::text
    || '","makerAddress":' || to_json(t.maker)::text
    || ',"takerAddress":' || to_json(t.taker)::text
    || ',"transactionHash":' || coalesce(to_json(nullif(t.transaction_hash, ''))::text, 'null')
    || ',"created_at":"' || to_char(t.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')
    || '"}'"""

# The same two index-ordered scans as _ACCOUNT_PAGE, cut at the page's end and merged,
# the total, and the page's records joined with commas in the page's order: one row.
_RENDERED_PAGE = """
WITH page AS (
    SELECT u.created_at, u.id FROM (
        (SELECT t.created_at, t.id FROM exchange_trade t WHERE {maker}
            ORDER BY 1 {direction}, 2 {direction} LIMIT %(end_row)s)
        UNION ALL (SELECT t.created_at, t.id FROM exchange_trade t WHERE {taker}
            ORDER BY 1 {direction}, 2 {direction} LIMIT %(end_row)s)
    ) AS u
    ORDER BY 1 {direction}, 2 {direction} OFFSET %(offset)s LIMIT %(per_page)s
)
SELECT
    (SELECT count(*) FROM exchange_trade t WHERE {maker})
        + (SELECT count(*) FROM exchange_trade t WHERE {taker}),
    (SELECT string_agg({record}, ',' ORDER BY p.created_at {direction}, p.id {direction})
        FROM page p
        JOIN exchange_trade t ON t.id = p.id
        JOIN exchange_token g ON g.id = t.give_token_id
        JOIN exchange_token k ON k.id = t.take_token_id
        JOIN exchange_order o ON o.id = t.order_id)
"""

# The filters' conditions, in trade_list's order; each statement has the ones given.
_FILTERS = (
    (
        "order_hash",
        "t.order_id IN (SELECT o.id FROM exchange_order o WHERE o.hash = %(order_hash)s)",
    ),
    ("market", "t.market_id = %(market)s"),
    ("since", "t.created_at >= %(since)s"),
    ("until", "t.created_at < %(until)s"),
)

# One text per (filters given, direction): each is prepared once per connection.
_rendered_statements: dict[tuple[frozenset[str], bool], str] = {}


def _rendered_statement(given: frozenset[str], ascending: bool) -> str:
    key = (given, ascending)
    if key not in _rendered_statements:
        filters = "".join(f" AND {sql}" for name, sql in _FILTERS if name in given)
        _rendered_statements[key] = _RENDERED_PAGE.format(
            maker=f"t.network_id = %(network)s AND t.maker = %(account)s{filters}",
            taker=(
                "t.network_id = %(network)s AND t.taker = %(account)s"
                f" AND t.maker <> %(account)s{filters}"
            ),
            direction="ASC" if ascending else "DESC",
            record=_RECORD_JSON,
        )
    return _rendered_statements[key]


def trade_page_json(
    *,
    network: Network,
    page: PageRequest,
    order_hash: str | None = None,
    market: Market | None = None,
    account: str | None = None,
    start_ms: int | None = None,
    end_ms: int | None = None,
    ascending: bool = False,
) -> tuple[int, bytes] | None:
    """trade_list's total and page as the JSON text of its records array, comma-joined
    without the brackets, built by PostgreSQL in one prepared statement; None where
    trade_list is the way (no account filter, or not PostgreSQL)."""
    if account is None or connection.vendor != "postgresql":
        return None
    params: dict[str, Any] = {"network": Int8(network.id), "account": account.lower()}
    if order_hash is not None:
        params["order_hash"] = order_hash.lower()
    if market is not None:
        params["market"] = Int8(market.id)
    if start_ms is not None:
        params["since"] = from_ms(start_ms)
    if end_ms is not None:
        params["until"] = from_ms(end_ms + 1)
    if page.past_any_table:
        page = PageRequest(page=1, per_page=0)  # the total alone
    params.update(
        end_row=Int8(page.offset + page.per_page),
        offset=Int8(page.offset),
        per_page=Int8(page.per_page),
    )
    [(total, records)] = prepared_fetchall(
        _rendered_statement(frozenset(params), ascending), params
    )
    return total, (records or "").encode()
