"""The streams benchmark's own WebSocket client (benchmarks/stream_clients.py), against
a real uvicorn server: every client records every event of its channels, in order."""

import pickle
import subprocess
import sys
from urllib.parse import urlsplit

import pytest
from django.db import transaction

from exchange.streams.outbox import emit
from tests.reliability.servers import ROOT
from tests.streams.server import uvicorn_server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres_only]
CHANNELS = ["account:0x" + "ab" * 20, "account:0x" + "cd" * 20]


def test_each_client_records_every_event_of_its_channels_in_order(network, tmp_path):
    out = tmp_path / "clients.pickle"
    with uvicorn_server(tmp_path) as server:
        url = urlsplit(server.url)
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "benchmarks.stream_clients", url.hostname, str(url.port)),
                *(f"/ws?networkId={network.id}", "3", str(out), *CHANNELS),
            ],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout.readline().split() == ["ready", "3", "0", "-"]
        for index in range(5):
            with transaction.atomic():
                emit(network.id, CHANNELS[index % 2], "balance", {"i": index})
        process.stdin.write("stop 3 2\n")
        process.stdin.flush()
        assert process.wait(timeout=120) == 0
    clients = pickle.loads(out.read_bytes())
    assert len(clients) == 3
    for channels, sequences, arrivals in clients:
        # In order within each channel (channels are independent of each other).
        by_channel = [
            [s for c, s in zip(channels, sequences, strict=True) if c == i] for i in (0, 1)
        ]
        assert by_channel == [[1, 2, 3], [1, 2]]
        assert arrivals == sorted(arrivals)
