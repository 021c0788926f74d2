"""The streams' fan-out benchmark: `python -m benchmarks --only streams`.

A uvicorn process (relayer/serve.py, the production server) on the benchmark
database and Redis; SUBSCRIBERS WebSocket clients (one asyncio process, `websockets`)
on one channel; this process commits EVENTS events, one transaction each, through the
real outbox (exchange/streams/outbox.py: counter, row, COMMIT, relay through the
Channels layer, hub, per-client queues). Each event carries its commit time; the
clients record arrival times and sequences.

Figures: messages delivered per second (fan-out), p50/p99 from commit to arrival,
events lost or out of order (by sequence), the server's RSS. The events are
synthetic (account:<address> records written straight to the outbox), not
create_trades: the path after the commit is the same, the trade's own cost is not in
it.
"""

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction

from relayer.ports import free_port

SUBSCRIBERS = int(os.environ.get("STREAMS_BENCH_SUBSCRIBERS", "1000"))
EVENTS = 300
RATE = 100  # events committed per second
NETWORK_ID = 99999
CHANNEL = "account:0x" + "be" * 20


def _rss_mib(pid: int) -> float:
    total = 0
    for child in [pid, *_children(pid)]:
        with contextlib.suppress(OSError), open(f"/proc/{child}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return round(total / 1024, 1)


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


connected_count = [0]
failures: list[str] = []


async def _clients(url: str, count: int, expected: int, ready: asyncio.Event, results: list):
    import websockets

    settled = [0]

    def settle():
        settled[0] += 1
        if settled[0] == count:
            ready.set()

    async def one():
        try:
            ws = await websockets.connect(url, open_timeout=120, max_queue=None)
            await ws.send(json.dumps({"op": "subscribe", "id": 1, "channels": [CHANNEL]}))
            json.loads(await ws.recv())
        except Exception as error:
            failures.append(repr(error))
            settle()
            return
        connected_count[0] += 1
        settle()
        seen = []
        with contextlib.suppress(Exception):
            while len(seen) < expected:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
                seen.append((frame["sequence"], frame["data"]["t"], time.time()))
        results.append(seen)
        await ws.close()

    await asyncio.gather(*(one() for _ in range(count)), return_exceptions=True)


def run_streams(log=print, subscribers: int = SUBSCRIBERS, events: int = EVENTS) -> dict:
    from benchmarks.runner import bench_rate_limits
    from exchange.models import Network
    from exchange.streams.outbox import emit

    bench_rate_limits()  # the clients' upgrades are counted as requests

    Network.objects.get_or_create(id=NETWORK_ID, defaults={"name": "Streams bench"})
    port = free_port()
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER'] or 'postgres'}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "RATELIMIT_POLICY_TTL": "0",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "relayer.serve", "--port", str(port)],
        cwd=Path(settings.BASE_DIR),
        env=env,
        start_new_session=True,
    )
    try:
        url = f"ws://127.0.0.1:{port}/ws?networkId={NETWORK_ID}"
        import requests

        deadline = time.monotonic() + 120
        while True:  # up when it answers HTTP
            try:
                requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline and server.poll() is None, (
                    "uvicorn did not start"
                )
                time.sleep(0.2)
        results: list = []
        loop = asyncio.new_event_loop()
        ready = asyncio.Event()

        import threading

        thread = threading.Thread(
            target=lambda: loop.run_until_complete(
                _clients(url, subscribers, events, ready, results)
            )
        )
        thread.start()
        while not ready.is_set():
            assert server.poll() is None, "uvicorn died"
            time.sleep(0.2)
        log(
            f"{connected_count[0]} of {subscribers} subscribers connected; committing {events} events at {RATE}/s"
        )
        rss_idle = _rss_mib(server.pid)
        started = time.time()
        for index in range(events):
            with transaction.atomic():
                emit(NETWORK_ID, CHANNEL, "balance", {"i": index, "t": time.time()})
            delay = started + (index + 1) / RATE - time.time()
            if delay > 0:
                time.sleep(delay)
        rss_busy = _rss_mib(server.pid)
        thread.join()
        latencies = sorted(arrived - sent for seen in results for _s, sent, arrived in seen)
        delivered = len(latencies)
        first = min((s[0][2] for s in results if s), default=started)
        last = max((s[-1][2] for s in results if s), default=started)
        in_order = (
            sum(
                1
                for seen in results
                if [s for s, _t, _a in seen] == list(range(seen[0][0], seen[0][0] + len(seen)))
            )
            if results
            else 0
        )
        pct = lambda q: round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 1)  # noqa: E731
        return {
            "subscribers": subscribers,
            "subscribers_connected": connected_count[0],
            "clients_finished": len(results),
            "connect_failures": sorted(set(failures))[:3],
            "events": events,
            "commit_rate_per_s": RATE,
            "delivered": delivered,
            "lost": connected_count[0] * events - delivered,  # of the connected clients
            "clients_in_order": in_order,
            "messages_per_s": round(delivered / max(last - first, 1e-9)),
            "latency_ms_p50": pct(0.5) if latencies else None,
            "latency_ms_p99": pct(0.99) if latencies else None,
            "rss_mib_idle": rss_idle,
            "rss_mib_busy": rss_busy,
            "load_average_1m": round(os.getloadavg()[0], 2),
        }
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
