"""A real uvicorn process (relayer/serve.py, the production ASGI server) on the test
database and the suite's Redis, and a WebSocket client for it (`websockets`).

Tests that use it must be transactional (django_db(transaction=True)): the server
reads what the test has committed.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from websockets.sync.client import connect

from relayer.ports import free_port
from tests.reliability.servers import Server, server_env, started

# A bound on every wait, only so that a broken server cannot hang the suite.
WAIT = 60.0


@dataclass
class StreamServer(Server):
    ws_url: str = ""


@contextlib.contextmanager
def uvicorn_server(tmp_path: Path, **env: str) -> Iterator[StreamServer]:
    port = free_port()
    command = [sys.executable, "-m", "relayer.serve", "--port", str(port), "--log-level", "info"]
    with started(
        command, name="uvicorn", port=port, tmp_path=tmp_path, env=server_env(**env)
    ) as server:
        yield StreamServer(server.url, server.process, server.log_path, f"ws://127.0.0.1:{port}/ws")


class Client:
    """A WebSocket client speaking shared/STREAMS.md."""

    def __init__(self, url: str, **kwargs):
        self.ws = connect(url, open_timeout=WAIT, **kwargs)
        self.ids = 0
        self.held: dict[str | None, list[dict]] = {}

    def close(self) -> None:
        self.ws.close()

    def send(self, message: dict) -> None:
        self.ws.send(json.dumps(message))

    def recv(self) -> dict:
        return json.loads(self.ws.recv(timeout=WAIT))

    def request(self, op: str, **fields) -> dict:
        self.ids += 1
        self.send({"op": op, "id": self.ids, **fields})
        reply = self.recv()
        assert reply.get("id") == self.ids, reply
        return reply

    def subscribe(self, *channels: str) -> dict:
        return self.request("subscribe", channels=list(channels))

    def events(self, count: int) -> list[dict]:
        return [self.recv() for _ in range(count)]

    def event_of(self, channel: str) -> dict:
        """The next event of `channel` (those of other channels are kept for later)."""
        if self.held.get(channel):
            return self.held[channel].pop(0)
        while True:
            message = self.recv()
            if message.get("channel") == channel:
                return message
            self.held.setdefault(message.get("channel"), []).append(message)
