"""Upper bounds on the SQL queries of each hot endpoint (README, Benchmarks).

Timings vary with the machine; query counts do not. A bound that fails means a change
added a query per request (or per record) on a path the benchmark drives: look for a
lazy foreign key, a count or a lookup that could be cached or joined.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from exchange.models import CostClass, Market
from exchange.selectors.access import rate_limits_get
from exchange.services.maintenance import maintenance_open
from tests.api.test_orders import bid as signed_bid
from tests.api.test_transfers import withdrawal_payload
from tests.factories import MarketFactory, TokenFactory
from tests.signing import address_of, signed_cancel
from tests.trading import execute, fill, fill_payload, place

# The budgets are PostgreSQL's (production); the embedded SQLite mode takes other paths.
pytestmark = [pytest.mark.django_db, pytest.mark.postgres_only]

ETH = 10**18


@pytest.fixture(autouse=True)
def _no_snapshots(settings):
    """The budgets are of the database reads: a market-data snapshot served from the
    cache runs none (test_a_market_data_snapshot_costs_no_query)."""
    settings.MARKET_DATA_CACHE_SECONDS = 0


def queries(call) -> tuple[object, int]:
    """The call's result and its query count, once the per-process memos (the
    rate-limit policy) are warm: a request served by a running worker."""
    rate_limits_get(cost_class=CostClass.LIGHT)
    maintenance_open()  # read once a second per process (exchange/services/maintenance.py)
    with CaptureQueriesContext(connection) as captured:
        result = call()
    return result, len(captured.captured_queries)


@pytest.fixture
def book(market, maker):
    """A bid and an ask in the market."""
    return [
        place(
            maker,
            give_token=market.base,
            give_amount=2 * ETH,
            take_token=market.quote,
            take_amount=4000 * ETH,
        ),
        place(
            maker,
            give_token=market.quote,
            give_amount=3000 * ETH,
            take_token=market.base,
            take_amount=ETH,
        ),
    ]


def test_create_orders_stays_within_its_query_budget(api, network, market, fees, maker):
    response, count = queries(
        lambda: api.post("/create_orders", signed_bid(network, market, maker), format="json")
    )
    assert response.status_code == 201
    assert count <= QUERY_BUDGET["create_orders"], count


def test_create_orders_of_a_running_worker_is_one_statement_and_the_outbox(
    api, network, market, fees, maker
):
    """Once the reference rows are kept, the placement is its one statement and the
    outbox flush (and BEGIN, COMMIT): PostgreSQL's fast path (docs/hot-path.md)."""
    api.post("/create_orders", signed_bid(network, market, maker), format="json")
    response, count = queries(
        lambda: api.post("/create_orders", signed_bid(network, market, maker), format="json")
    )
    assert response.status_code == 201
    assert count <= QUERY_BUDGET["create_orders_warm"], count


def test_delete_orders_stays_within_its_query_budget(api, network, market, fees, maker, book):
    payload = signed_cancel(maker, order_hash=book[0].hash)
    response, count = queries(lambda: api.post("/delete_orders", payload, format="json"))
    assert response.status_code == 200
    assert count <= QUERY_BUDGET["delete_orders"], count


def test_create_transfers_stays_within_its_query_budget(api, network, market, fees, maker):
    payload = withdrawal_payload(maker, network=network, token=market.base, amount=10**18)
    response, count = queries(lambda: api.post("/create_transfers", payload, format="json"))
    assert response.status_code == 200
    assert count <= QUERY_BUDGET["create_transfers"], count


def test_create_trades_stays_within_its_query_budget(api, network, market, fees, taker, book):
    response, count = queries(
        lambda: api.post("/create_trades", fill_payload(taker, book[0], 1000 * ETH), format="json")
    )
    assert response.status_code == 201, response.json()
    assert count <= QUERY_BUDGET["create_trades_single"], count


def test_five_trades_cost_no_more_queries_than_one(api, network, market, fees, maker, taker):
    orders = [
        place(
            maker,
            give_token=market.base,
            give_amount=2 * ETH,
            take_token=market.quote,
            take_amount=4000 * ETH,
        )
        for _ in range(5)
    ]
    body = [fill_payload(taker, order, 1000 * ETH) for order in orders]
    response, count = queries(lambda: api.post("/create_trades", body, format="json"))
    assert response.status_code == 201, response.json()
    # The ledger legs of every fill are one UPDATE and one INSERT, the orders one UPDATE,
    # the trades one INSERT: five fills cost what one does.
    assert count <= QUERY_BUDGET["create_trades_single"], count


def test_get_orderbook_stays_within_its_query_budget(api, network, market, book):
    response, count = queries(
        lambda: api.post("/get_orderbook", {"market": "ETH_TST"}, format="json")
    )
    assert response.status_code == 200
    assert response.json()["bids"]["total"] == 1
    assert count <= QUERY_BUDGET["get_orderbook"], count


def test_get_trades_of_an_account_stays_within_its_query_budget(
    api, network, market, fees, maker, taker, book
):
    execute(network, [fill(taker, book[0], 1000 * ETH)])
    execute(network, [fill(taker, book[1], ETH // 10)])
    response, count = queries(
        lambda: api.post(
            "/get_trades", {"account": address_of(maker), "per_page": 1, "page": 2}, format="json"
        )
    )
    assert response.status_code == 200
    assert response.json()["total"] == 2
    assert len(response.json()["records"]) == 1
    assert count <= QUERY_BUDGET["get_trades"], count


def test_get_ticker_queries_do_not_grow_with_the_markets(api, network, market, fees, taker, book):
    execute(network, [fill(taker, book[0], 1000 * ETH)])
    api.post("/get_ticker", {}, format="json")
    _, one_market = queries(lambda: api.post("/get_ticker", {}, format="json"))
    for symbol in ("AAA", "BBB", "CCC"):
        MarketFactory(
            network=network, base=market.base, quote=TokenFactory(network=network, symbol=symbol)
        )
    response, four_markets = queries(lambda: api.post("/get_ticker", {}, format="json"))
    assert response.json()["total"] == Market.objects.filter(network=network).count() == 4
    print("QC ticker", one_market, four_markets)
    assert four_markets == one_market <= QUERY_BUDGET["get_ticker"], (one_market, four_markets)


def test_get_chart_data_stays_within_its_query_budget(api, network, market, fees, taker, book):
    execute(network, [fill(taker, book[0], 1000 * ETH)])
    body = {
        "market": "ETH_TST",
        "periodInSeconds": "300",
        "startingTimestampInMilliseconds": str(
            int(book[0].created_at.timestamp() * 1000) - 86_400_000
        ),
        "endingTimestampInMilliseconds": str(int(book[0].created_at.timestamp() * 1000) + 60_000),
    }
    response, count = queries(lambda: api.post("/get_chart_data", body, format="json"))
    assert response.status_code == 200, response.json()
    assert count <= QUERY_BUDGET["get_chart_data"], count


def test_a_market_data_snapshot_costs_no_query(api, network, market, fees, taker, book, settings):
    settings.MARKET_DATA_CACHE_SECONDS = 60
    execute(network, [fill(taker, book[0], 1000 * ETH)])
    chart = {
        "market": "ETH_TST",
        "periodInSeconds": "300",
        "startingTimestampInMilliseconds": "0",
        "endingTimestampInMilliseconds": str(int(book[0].created_at.timestamp() * 1000)),
    }
    reads = [
        ("/get_orderbook", {"market": "ETH_TST"}),
        ("/get_ticker", {}),
        ("/get_ticker", {"market": "ETH_TST"}),
        ("/get_chart_data", chart),
    ]
    first = [api.post(path, body, format="json").json() for path, body in reads]

    for (path, body), answer in zip(reads, first, strict=True):
        response, count = queries(lambda: api.post(path, body, format="json"))  # noqa: B023
        assert response.json() == answer
        assert count <= QUERY_BUDGET["snapshot"], (path, count)


# Measured on a cold cache (the ban lookup and, on the first trade, the fee account's
# balance rows are created): a worker under load runs fewer.
QUERY_BUDGET = {
    # +1 each: the accounts' open restrictions (deep-reorg freeze, escape hatch), one query.
    # +1 each: the streams' outbox (counters and events, one statement; docs/streams.md).
    "create_orders": 10,
    # The reference rows kept: BEGIN, the statement, the outbox, COMMIT (savepoints in a
    # test's transaction).
    "create_orders_warm": 4,
    # Cold: the ban lookup and the savepoints of a test's transaction; a running worker
    # sends 5 (the order read by its hash, BEGIN, the statement, the outbox, COMMIT) and
    # 4 (BEGIN, the statement, the outbox, COMMIT): 8 and 11 before the fast path.
    "delete_orders": 7,
    "create_transfers": 7,
    "create_trades_single": 15,
    # +1: the book stream's sequence beside the book (+1 more outside a test's
    # transaction: SET TRANSACTION REPEATABLE READ, so the two reads agree).
    "get_orderbook": 7,
    "get_trades": 6,
    "get_ticker": 4,
    "get_chart_data": 4,
    # None: the network and the market are kept per process, the answer in the cache.
    "snapshot": 0,
}
