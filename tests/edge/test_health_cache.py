"""Finding 8 (issue 13): /healthz is cheap under a node outage. A node that accepts
connections and never answers is asked once per HEALTH_CACHE_SECONDS, not once per probe,
and each question is bounded by HEALTH_NODE_TIMEOUT."""

import socket
import threading

import pytest

from relayer import health
from tests.factories import NetworkFactory

pytestmark = pytest.mark.django_db


class SilentNode:
    """A TCP server that accepts every connection, reads, and never answers."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        self.accepted = 0
        self.held = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            self.accepted += 1
            self.held.append(connection)

    def close(self):
        self.server.close()
        for connection in self.held:
            connection.close()


@pytest.fixture
def silent_node():
    node = SilentNode()
    yield node
    node.close()


@pytest.fixture
def clock(monkeypatch):
    moment = [1_000_000.0]
    monkeypatch.setattr(health, "now", lambda: moment[0])
    return moment


def test_many_probes_ask_a_silent_node_once_per_cache_period(api, silent_node, clock, settings):
    settings.HEALTH_NODE_TIMEOUT = 1
    settings.HEALTH_CACHE_SECONDS = 2
    network = NetworkFactory(id=31337, rpc_url=silent_node.url)
    answers = [api.get("/healthz") for _ in range(40)]
    assert {answer.status_code for answer in answers} == {503}
    check = answers[0].json()["checks"][f"node:{network.id}"]
    assert check == {"ok": False, "error": "TimeoutError"}
    assert all(a.json()["checks"][f"node:{network.id}"] == check for a in answers)
    assert silent_node.accepted == 1  # 39 probes answered from the cache

    clock[0] += 2.5  # the answer is stale: one process asks again
    assert api.get("/healthz").status_code == 503
    assert silent_node.accepted == 2


def test_a_probe_finding_another_process_asking_answers_with_the_last_result(
    api, silent_node, clock, settings
):
    from django.core.cache import cache

    settings.HEALTH_CACHE_SECONDS = 2
    NetworkFactory(id=31337, rpc_url=silent_node.url)
    assert api.get("/healthz").status_code == 503
    clock[0] += 10
    key = next(k for k in cache._cache.get_client().keys("*healthz:node:*"))
    cache.add(key.decode().split(":", 2)[-1] + ":asking", 1, timeout=30)  # another process
    assert api.get("/healthz").status_code == 503
    assert silent_node.accepted == 1
