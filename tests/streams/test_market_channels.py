"""ticker:<MARKET> and candles:<MARKET>:<period> (shared/STREAMS.md) against a real uvicorn
server: each trade's commit gives its candles as POST /get_chart_data shows them, and a
real Celery worker sends the market's ticker as POST /get_ticker shows it."""

import pytest

from exchange.models import CANDLE_PERIODS
from relayer.celery import app
from tests.celery_worker import worker_process
from tests.streams.server import Client, uvicorn_server
from tests.streams.test_streams import ETH, bid
from tests.trading import execute, fill

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres_only]


@pytest.fixture
def client(tmp_path, network):
    with uvicorn_server(tmp_path) as server:
        client = Client(f"{server.ws_url}?networkId={network.id}")
        yield client
        client.close()


def chart(api, market, period: int, date: str) -> list[dict]:
    moment_ms = int(date) * 1000
    response = api.post(
        "/get_chart_data",
        {
            "market": market.name,
            "periodInSeconds": period,
            "startingTimestampInMilliseconds": moment_ms,
            "endingTimestampInMilliseconds": moment_ms,
        },
        format="json",
    )
    assert response.status_code == 200
    return response.json()


def test_each_trade_gives_its_candles_as_get_chart_data_shows_them(
    api, client, network, market, fees, maker, taker
):
    channels = [f"candles:{market.name}:{period}" for period in CANDLE_PERIODS]
    assert client.subscribe(*channels)["channels"] == channels
    order = bid(market, maker, give=2, take=4000)
    for sequence, amount in enumerate((1000 * ETH, 2000 * ETH), start=1):
        execute(network, [fill(taker, order, amount)])
        for period, channel in zip(CANDLE_PERIODS, channels, strict=True):
            event = client.event_of(channel)
            assert (event["type"], event["sequence"]) == ("candle", sequence)
            assert [event["data"]] == chart(api, market, period, event["data"]["date"])


def test_a_worker_sends_the_ticker_after_trades_as_get_ticker_shows_it(
    api, client, network, market, fees, maker, taker, settings, tmp_path
):
    channel = f"ticker:{market.name}"
    client.subscribe(channel)
    order = bid(market, maker, give=2, take=4000)
    app.control.purge()
    with worker_process({"REDIS_URL": settings.REDIS_URL}, log_path=tmp_path / "worker.log"):
        execute(network, [fill(taker, order, 1000 * ETH)])
        execute(network, [fill(taker, order, 500 * ETH)])
        rest = api.post("/get_ticker", {"market": market.name}, format="json").json()
        [record] = rest["records"]
        events = [client.event_of(channel)]
        while events[-1]["data"]["baseVolume"] != record["baseVolume"]:
            events.append(client.event_of(channel))
    assert [e["sequence"] for e in events] == list(range(1, len(events) + 1))
    assert {e["type"] for e in events} == {"ticker"}
    assert events[-1]["data"] == record
    assert record["last"] != "N/A"
