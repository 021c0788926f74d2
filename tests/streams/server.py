"""A real uvicorn process (relayer/serve.py, the production ASGI server) on the test
database and the suite's Redis, and a WebSocket client for it (`websockets`).

Tests that use it must be transactional (django_db(transaction=True)): the server
reads what the test has committed.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests
from websockets.sync.client import connect

from relayer.ports import free_port
from tests.reliability.servers import server_env

ROOT = Path(__file__).resolve().parents[2]
# A bound on every wait, only so that a broken server cannot hang the suite.
WAIT = 60.0


@dataclass
class Server:
    url: str
    ws_url: str
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextlib.contextmanager
def uvicorn_server(tmp_path: Path, **env: str) -> Iterator[Server]:
    port = free_port()
    log_path = tmp_path / f"uvicorn-{port}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "relayer.serve", "--port", str(port), "--log-level", "info"],
            cwd=ROOT,
            env=server_env(**env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/ws", process, log_path)
    try:
        deadline = time.monotonic() + WAIT
        while True:
            assert process.poll() is None, server.log()[-3000:]
            try:
                requests.get(server.url + "/helpers/return_contract_address", timeout=30)
                break
            except (requests.ConnectionError, requests.Timeout):
                assert time.monotonic() < deadline, f"uvicorn did not start: {server.log()}"
                time.sleep(0.1)
        yield server
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


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
