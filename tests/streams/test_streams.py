"""The streams (shared/STREAMS.md) against a real uvicorn server, PostgreSQL and Redis:
a WebSocket client subscribes, gets the book's snapshot with its sequence, and sees
each committed change once, in order, with sequences rising by exactly 1."""

import threading

import pytest
from django.conf import settings
from django.db import connections, transaction

from exchange.models import StreamEvent
from tests.streams.server import Client, uvicorn_server
from tests.trading import execute, fill, place

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres_only]

ETH = 10**18


@pytest.fixture
def server(tmp_path):
    with uvicorn_server(tmp_path) as server:
        yield server


@pytest.fixture
def client(server, network):
    client = Client(f"{server.ws_url}?networkId={network.id}")
    yield client
    client.close()


def bid(market, maker, give=2, take=4000):
    return place(
        maker,
        give_token=market.base,
        give_amount=give * ETH,
        take_token=market.quote,
        take_amount=take * ETH,
    )


def ask(market, maker, give=3000, take=1):
    return place(
        maker,
        give_token=market.quote,
        give_amount=give * ETH,
        take_token=market.base,
        take_amount=take * ETH,
    )


def rest_book(api, market) -> dict:
    response = api.post("/get_orderbook", {"market": market.name, "per_page": 100}, format="json")
    assert response.status_code == 200
    return response.json()


def test_book_snapshot_then_each_committed_change_in_order(
    api, client, network, market, fees, maker, taker
):
    first = bid(market, maker)
    book = f"book:{market.name}"
    trades = f"trades:{market.name}"
    account = f"account:{maker.address.lower()}"

    assert client.subscribe(book, trades, account) == {
        "op": "subscribed",
        "id": 1,
        "channels": [book, trades, account],
    }
    snapshot = client.recv()
    rest = rest_book(api, market)
    assert (snapshot["op"], snapshot["channel"], snapshot["type"]) == ("event", book, "snapshot")
    assert snapshot["sequence"] == rest["sequence"] > 0
    assert snapshot["data"] == {"bids": rest["bids"]["records"], "asks": rest["asks"]["records"]}
    assert [r["orderHash"] for r in snapshot["data"]["bids"]] == [first.hash]

    second = ask(market, maker)
    placed = client.event_of(book)
    assert (placed["type"], placed["sequence"]) == ("order", snapshot["sequence"] + 1)
    assert placed["data"] == {**rest_book(api, market)["asks"]["records"][0], "status": "open"}
    assert placed["data"]["orderHash"] == second.hash

    [trade] = execute(network, [fill(taker, first, 1000 * ETH)])
    traded = client.event_of(trades)
    history = api.post("/get_trades", {"market": market.name}, format="json").json()
    assert traded["type"] == "trade"
    assert traded["data"] == history["records"][0]
    assert traded["data"]["uuid"] == str(trade.uuid)
    filled = client.event_of(book)
    assert filled["sequence"] == placed["sequence"] + 1
    assert (filled["data"]["orderHash"], filled["data"]["filled"]) == (first.hash, str(1000 * ETH))
    assert filled["data"]["status"] == "open"

    # The account channel: the maker's order, its balances and its trade, all of them.
    kinds = set()
    while "trade" not in kinds:
        kinds.add(client.event_of(account)["type"])
    assert {"order", "balance", "trade"} <= kinds

    # Snapshot + events equal a fresh REST read: the book's first bid shows the fill.
    assert rest_book(api, market)["bids"]["records"][0] == {
        key: value for key, value in filled["data"].items() if key != "status"
    }


def test_a_rolled_back_change_gives_no_event(client, network, market, fees, maker):
    book = f"book:{market.name}"
    client.subscribe(book)
    snapshot = client.recv()

    with pytest.raises(RuntimeError), transaction.atomic():
        bid(market, maker)
        raise RuntimeError("rolled back")
    with pytest.raises(RuntimeError), transaction.atomic():
        with transaction.atomic():  # a savepoint rolled back, in a transaction that commits
            pass
        bid(market, maker, give=1)
        raise RuntimeError("rolled back")
    kept = bid(market, maker, give=3)

    event = client.event_of(book)
    assert event["sequence"] == snapshot["sequence"] + 1
    assert event["data"]["orderHash"] == kept.hash
    assert StreamEvent.objects.filter(channel=f"{network.id}/{book}").count() == event["sequence"]


def test_a_savepoint_rolled_back_drops_only_its_events(client, network, market, fees, maker):
    book = f"book:{market.name}"
    client.subscribe(book)
    snapshot = client.recv()
    with transaction.atomic():
        kept = bid(market, maker, give=1)
        with pytest.raises(RuntimeError), transaction.atomic():
            bid(market, maker, give=2)
            raise RuntimeError("rolled back")
    event = client.event_of(book)
    assert (event["sequence"], event["data"]["orderHash"]) == (snapshot["sequence"] + 1, kept.hash)
    last = bid(market, maker, give=3)
    event = client.event_of(book)
    assert (event["sequence"], event["data"]["orderHash"]) == (snapshot["sequence"] + 2, last.hash)


def test_concurrent_writers_give_gapless_sequences(client, network, market, fees, fund):
    from tests.trading import _funded

    makers = [_funded(market, fund) for _ in range(4)]
    book = f"book:{market.name}"
    client.subscribe(book)
    snapshot = client.recv()
    per_writer = 5
    errors = []

    def write(maker):
        try:
            for give in range(1, per_writer + 1):
                bid(market, maker, give=give)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(maker,)) for maker in makers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []

    events = [client.event_of(book) for _ in range(len(makers) * per_writer)]
    assert [e["sequence"] for e in events] == list(
        range(snapshot["sequence"] + 1, snapshot["sequence"] + 1 + len(events))
    )
    assert len({e["data"]["orderHash"] for e in events}) == len(events)


def test_a_lost_publish_is_repaired_from_the_outbox(client, network, market, fees, maker, settings):
    """The server's hub sees a sequence past the next one (the publish of the one in
    between was lost): it reads the missing events from the outbox and delivers all in
    order. The same sweep is how the embedded mode (no Redis) carries events across
    processes."""
    book = f"book:{market.name}"
    client.subscribe(book)
    snapshot = client.recv()
    settings.STREAMS_LAYER_PUBLISH = False  # this process's commits reach the outbox only
    lost = bid(market, maker, give=1)
    settings.STREAMS_LAYER_PUBLISH = True
    published = bid(market, maker, give=2)
    events = [client.event_of(book), client.event_of(book)]
    assert [(e["sequence"], e["data"]["orderHash"]) for e in events] == [
        (snapshot["sequence"] + 1, lost.hash),
        (snapshot["sequence"] + 2, published.hash),
    ]


def test_events_reach_a_subscriber_by_the_sweep_alone(
    client, network, market, fees, maker, settings
):
    """Nothing published (the embedded mode's web process hears of a worker's commits
    only from the outbox): the sweep delivers the event."""
    book = f"book:{market.name}"
    client.subscribe(book)
    snapshot = client.recv()
    settings.STREAMS_LAYER_PUBLISH = False
    order = bid(market, maker)
    event = client.event_of(book)
    assert (event["sequence"], event["data"]["orderHash"]) == (snapshot["sequence"] + 1, order.hash)


def test_ping_unsubscribe_and_sequences_survive_a_reconnect(server, network, market, fees, maker):
    book = f"book:{market.name}"
    first = Client(f"{server.ws_url}?networkId={network.id}")
    assert first.request("ping") == {"op": "pong", "id": 1}
    first.subscribe(book)
    snapshot = first.recv()
    assert first.request("unsubscribe", channels=[book]) == {
        "op": "unsubscribed",
        "id": 3,
        "channels": [book],
    }
    first.close()
    bid(market, maker)
    second = Client(f"{server.ws_url}?networkId={network.id}")
    second.subscribe(book)
    again = second.recv()
    assert again["sequence"] == snapshot["sequence"] + 1  # the channel's, not the connection's
    second.close()
    assert settings.STREAMS_LAYER_PUBLISH
