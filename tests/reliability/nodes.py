"""Sick nodes for the fault tests, in front of the suite's real anvil (never a mock of it):

- `NodeProxy`: forwards every JSON-RPC request (single or batch) to anvil, and can be
  taken down (its port refuses connections, as a stopped node's does) and brought back
  on the same port, hold requests of one method (forwarded or not) until released, watch
  each request before it is forwarded, and rewrite the answers of a method (a provider's
  "block range too large" error, a mangled log).
- `SilentNode`: accepts connections and never answers; counts what it accepted.

    with NodeProxy(anvil.rpc_url) as proxy:
        network.rpc_url = proxy.url
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

from relayer.ports import free_port

Call = dict[str, Any]  # one JSON-RPC request
Answer = dict[str, Any]  # one JSON-RPC answer


def methods(body: Any) -> list[str]:
    calls = body if isinstance(body, list) else [body]
    return [call.get("method", "") for call in calls if isinstance(call, dict)]


class _Server(ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True


class NodeProxy:
    def __init__(self, upstream: str):
        self.upstream = upstream
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.seen: list[str] = []  # methods, in the order they arrived
        self.watchers: list[Callable[[list[str]], None]] = []
        self.rewrites: dict[str, Callable[[Call, Answer], Answer]] = {}
        self._holds: dict[str, tuple[bool, threading.Event, threading.Event]] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle ----

    def __enter__(self) -> NodeProxy:
        self.up()
        return self

    def __exit__(self, *exc) -> None:
        self.release_all()
        self.down()

    def up(self) -> None:
        """Listens (again) on its port."""
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                answer = proxy._handle(body)
                if answer is None:  # dropped: the connection closes unanswered
                    self.close_connection = True
                    return
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = _Server(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def down(self) -> None:
        """Stops listening: connections are refused, as by a stopped node."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # ---- faults ----

    def hold(self, method: str, *, forward: bool) -> threading.Event:
        """Requests calling `method` wait until release(method); with forward=True they
        reach the node first (a send that happened, whose answer never came back).
        Returns an event set once such a request has arrived."""
        arrived = threading.Event()
        self._holds[method] = (forward, threading.Event(), arrived)
        return arrived

    def release(self, method: str, *, drop: bool = False) -> None:
        """Lets held requests go (drop=True: their connections close unanswered)."""
        _forward, gate, _arrived = self._holds.pop(method)
        self._dropping = drop
        gate.set()

    def release_all(self) -> None:
        for method in list(self._holds):
            self.release(method, drop=True)

    # ---- the forwarding ----

    _dropping = False

    def _handle(self, body: Any) -> Any:
        names = methods(body)
        self.seen.extend(names)
        for watch in self.watchers:
            watch(names)
        held = next((self._holds[m] for m in names if m in self._holds), None)
        if held is not None and not held[0]:
            held[2].set()
            held[1].wait()
            if self._dropping:
                return None
        answer = requests.post(self.upstream, json=body, timeout=30).json()
        if held is not None and held[0]:
            held[2].set()
            held[1].wait()
            if self._dropping:
                return None
        return self._rewritten(body, answer)

    def _rewritten(self, body: Any, answer: Any) -> Any:
        if not self.rewrites:
            return answer
        if isinstance(body, list):
            by_id = {item.get("id"): item for item in answer}
            return [self._rewrite_one(call, by_id[call["id"]]) for call in body]
        return self._rewrite_one(body, answer)

    def _rewrite_one(self, call: Call, answer: Answer) -> Answer:
        rewrite = self.rewrites.get(call.get("method", ""))
        return rewrite(call, answer) if rewrite else answer


class SilentNode:
    """A TCP port that accepts connections and never answers a byte."""

    def __init__(self):
        self._socket = socket.create_server(("127.0.0.1", free_port()), backlog=64)
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        self.accepted = 0
        self._open: list[socket.socket] = []
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._socket.accept()
            except OSError:
                return
            self.accepted += 1
            self._open.append(conn)  # held open, never read, never answered

    def open_connections(self) -> int:
        """Connections the client has not closed yet (a closed one reads as EOF)."""
        still = 0
        for conn in self._open:
            conn.setblocking(False)
            try:
                while True:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
            except BlockingIOError:
                still += 1
        return still

    def close(self) -> None:
        self._closed = True
        self._socket.close()
        for conn in self._open:
            conn.close()

    def __enter__(self) -> SilentNode:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
