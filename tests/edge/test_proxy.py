"""Findings 5 and 9 (issue 13): behind docker/nginx.conf, slow clients trickling a body
cannot hold the production gunicorn's two sync workers, and every error the edge produces
is the API's JSON body (a long request line, a too-large body, the app down)."""

import socket
import threading
import time
from urllib.parse import urlparse

import pytest
import requests

from tests.edge.proxy import nginx_or_skip, nginx_proxy, production_gunicorn

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres_only]

ANSWER_WITHIN = 15  # seconds: a request that takes longer is hanging


class SlowClient(threading.Thread):
    """Sends a POST's headers, then its body one byte every `every` seconds."""

    def __init__(self, url: str, every: float = 0.5, length: int = 1000):
        super().__init__(daemon=True)
        parsed = urlparse(url)
        self.sock = socket.create_connection((parsed.hostname, parsed.port))
        self.sock.sendall(
            (
                "POST /get_fee_info HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
            ).encode()
        )
        self.every, self.stop = every, threading.Event()

    def run(self):
        while not self.stop.wait(self.every):
            try:
                self.sock.sendall(b" ")
            except OSError:
                return

    def close(self):
        self.stop.set()
        self.sock.close()


@pytest.fixture
def edge(tmp_path):
    nginx_or_skip()
    with production_gunicorn(tmp_path, RATELIMIT_TRUSTED_PROXIES="1") as app:  # noqa: SIM117
        with nginx_proxy(tmp_path, urlparse(app.url).netloc) as proxy:
            yield app, proxy


def test_slow_clients_do_not_hold_the_workers_behind_the_proxy(edge, network):
    _app, proxy = edge
    slow = [SlowClient(proxy.url) for _ in range(8)]  # 4 per worker
    for client in slow:
        client.start()
    try:
        time.sleep(1.5)  # every slow client is mid-body
        for _ in range(10):
            answer = requests.post(proxy.url + "/get_fee_info", json={}, timeout=ANSWER_WITHIN)
            assert answer.status_code < 500, answer.text
            assert answer.headers["Content-Type"] == "application/json"
    finally:
        for client in slow:
            client.close()


def test_edge_errors_are_json(edge, network):
    app, proxy = edge
    long_line = requests.get(proxy.url + "/tokens?x=" + "a" * 5000, timeout=ANSWER_WITHIN)
    assert long_line.status_code == 414
    assert long_line.json()["code"] == 414
    too_big = requests.post(
        proxy.url + "/create_orders",
        data=b"{" + b" " * (1024 * 1024 + 10) + b"}",
        headers={"Content-Type": "application/json"},
        timeout=ANSWER_WITHIN,
    )
    assert too_big.status_code == 413 and too_big.json()["code"] == 101
    big_header = requests.get(
        proxy.url + "/tokens", headers={"X-Junk": "a" * 5000}, timeout=ANSWER_WITHIN
    )
    assert big_header.status_code in (400, 431) and "code" in big_header.json()
    app.process.terminate()
    app.process.wait(timeout=30)
    down = requests.get(proxy.url + "/tokens", timeout=ANSWER_WITHIN)
    assert down.status_code == 502 and down.json()["code"] == 502
