"""shared/STREAMS.md's limits against a real uvicorn server: every bad frame gets the
REST error body and leaves the connection open; the limits close it with their codes."""

import json
import socket

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.streams.server import Client, uvicorn_server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres_only]


@pytest.fixture
def server(tmp_path):
    with uvicorn_server(tmp_path) as server:
        yield server


def closed_code(client: Client) -> int:
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            client.recv()
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


def test_bad_frames_and_limits(server, network, market):
    client = Client(f"{server.ws_url}?networkId={network.id}")

    client.ws.send("not json")
    assert client.recv()["code"] == 101
    client.ws.send("[1, 2]")
    assert client.recv()["code"] == 100
    unknown_op = client.request("publish")
    assert (unknown_op["op"], unknown_op["code"]) == ("error", 100)
    assert unknown_op["validationErrors"][0]["field"] == "op"

    bad = client.subscribe(f"trades:{market.name}", "book:ETH_XYZ")
    assert bad["op"] == "error" and bad["code"] == 100 and bad["reason"] == "Validation failed"
    assert bad["validationErrors"][0]["field"] == "channels"
    assert "ETH_XYZ" in bad["validationErrors"][0]["reason"]
    assert client.subscribe("weather:ETH_TST")["op"] == "error"
    assert client.subscribe(f"candles:{market.name}:61")["op"] == "error"
    assert client.subscribe("account:0x123")["op"] == "error"
    accounts = [f"account:0x{i:040x}" for i in range(51)]
    too_many = client.subscribe(*accounts)
    assert too_many["op"] == "error" and too_many["validationErrors"][0]["code"] == 1004
    # Nothing was subscribed by the refused frames: 50 still fit.
    assert client.subscribe(*accounts[:50])["op"] == "subscribed"
    assert client.request("ping")["op"] == "pong"  # still open

    client.ws.send(json.dumps({"op": "ping", "pad": "x" * (64 * 1024)}))
    assert closed_code(client) == 1009


def test_an_unknown_network_is_closed_with_4400(server, network):
    client = Client(f"{server.ws_url}?networkId=999")
    error = client.recv()
    assert (error["op"], error["code"]) == ("error", 100)
    assert error["validationErrors"][0]["field"] == "networkId"
    assert error["validationErrors"][0]["code"] == 1006
    assert closed_code(client) == 4400


def test_an_unknown_api_key_is_refused_with_401_on_the_upgrade(server, network):
    with pytest.raises(InvalidStatus) as refused:
        Client(server.ws_url, additional_headers={"X-API-KEY": "no-such-key"})
    assert refused.value.response.status_code == 401
    assert json.loads(refused.value.response.body)["code"] == 401


def test_a_client_that_stops_reading_is_closed_with_1008_and_others_get_everything(
    tmp_path, network
):
    """The hub writes each frame straight to every socket (relayer/stream_socket.py): a
    client that stops reading only fills its own write buffer, and is closed with 1008
    once it holds more than STREAMS_SEND_BUFFER_BYTES; a subscriber that reads gets every
    sequence in order."""
    from django.db import transaction

    from exchange.streams.outbox import emit

    channel = "account:0x" + "ab" * 20
    with uvicorn_server(tmp_path, STREAMS_SEND_BUFFER_BYTES=str(64 * 1024)) as server:
        url = f"{server.ws_url}?networkId={network.id}"
        reader = Client(url, max_queue=None)  # takes every frame off the socket at once
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect(("127.0.0.1", int(server.ws_url.rsplit(":", 1)[1].split("/")[0])))
        slow = Client(url, sock=stalled, max_queue=1)  # reads nothing until recv()
        for client in (reader, slow):
            assert client.subscribe(channel)["op"] == "subscribed"

        count, pad = 300, "x" * 30_000  # ~9 MB: past the kernel's buffers and the limit
        for batch in range(0, count, 50):
            with transaction.atomic():
                for index in range(batch, batch + 50):
                    emit(network.id, channel, "balance", {"i": index, "pad": pad})

        events = reader.events(count)
        first = events[0]["sequence"]
        assert [e["sequence"] for e in events] == list(range(first, first + count))
        assert [e["data"]["i"] for e in events] == list(range(count))

        received = []
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                received.append(slow.recv()["sequence"])
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        assert received == list(range(first, first + len(received)))
        assert len(received) < count
        assert reader.request("ping")["op"] == "pong"  # the reader is still served
        reader.close()
