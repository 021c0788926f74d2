"""Bench for finding 5 (issue 13): N slow clients trickle request bodies at the production
gunicorn (docker/gunicorn.conf.py), first directly, then behind docker/nginx.conf; meanwhile
20 normal requests are sent one after another. Prints served/20 and their median latency.

    DATABASE_URL=... REDIS_URL=... SECRET_KEY=... .venv/bin/python -m tests.edge.slow_clients 20
"""

import os
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "relayer.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-not-a-production-key")
django.setup()

import requests  # noqa: E402

from tests.edge.proxy import nginx_proxy, production_gunicorn  # noqa: E402
from tests.edge.test_proxy import SlowClient  # noqa: E402

NORMAL = 20
WAIT = 5.0  # seconds a normal request may take before it counts as not served


def _measure(url: str, slow: int) -> tuple[int, float | None]:
    clients = [SlowClient(url) for _ in range(slow)]
    for client in clients:
        client.start()
    time.sleep(1.5)
    latencies = []
    try:
        for _ in range(NORMAL):
            started = time.monotonic()
            try:
                requests.post(url + "/get_fee_info", json={}, timeout=WAIT)
            except requests.RequestException:
                continue
            latencies.append(time.monotonic() - started)
    finally:
        for client in clients:
            client.close()
    return len(latencies), (statistics.median(latencies) if latencies else None)


@contextmanager
def _direct(tmp: Path):
    with production_gunicorn(tmp) as app:
        yield app.url


@contextmanager
def _proxied(tmp: Path):
    with production_gunicorn(tmp, RATELIMIT_TRUSTED_PROXIES="1") as app:  # noqa: SIM117
        with nginx_proxy(tmp, urlparse(app.url).netloc) as proxy:
            yield proxy.url


def main() -> int:
    slow = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    for name, edge in (("gunicorn alone", _direct), ("behind nginx", _proxied)):
        with tempfile.TemporaryDirectory() as tmp, edge(Path(tmp)) as url:
            served, median = _measure(url, slow)
        shown = f"{median * 1000:.0f} ms" if median is not None else "-"
        print(f"{name:15} {slow} slow clients: served {served}/{NORMAL}, median latency {shown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
