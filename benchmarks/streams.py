"""The streams' benchmark: `python -m benchmarks --only streams` (docs/streams.md, Benchmark).

As deployed: the REST API under gunicorn (benchmarks/server.py) and the streams under
uvicorn (relayer/serve.py, one worker), PostgreSQL and Redis (the Channels layer
carries each commit's rows from the gunicorn workers to the uvicorn hub).

1. Streams off: the create_trades_single scenario (signed fills through the real API,
   wrk at full speed, as in `make bench`) with no streams server and no subscriber.
2. Streams on: STREAMS_BENCH_SUBSCRIBERS clients (benchmarks/stream_clients.py, in
   STREAMS_BENCH_CLIENT_PROCESSES processes) subscribed to trades:ETH_TKC, the market
   those fills trade in, while the same scenario runs again.
3. Fan-out capacity: the trade rate this machine reaches bounds what phase 2 asks of
   the fan-out, so the same clients' second channel (an account channel) then gets
   STREAMS_BENCH_FANOUT_EVENTS events committed at STREAMS_BENCH_FANOUT_RATE per second
   through the real outbox from this process (counter, row, COMMIT, relay through
   Redis, hub, sockets: the path after a trade's commit).

Figures: REST throughput on against off; from each trade's commit (its outbox row's
created_at, written just before COMMIT) to its event at each client, p50 and p99;
messages delivered per second; events lost or out of order (every client must see
every sequence of the channel from the load's start to its end, in order); the RSS of
the uvicorn process, and its CPU time (user + system) per 1,000 messages delivered
(cpu_ms_per_1000: the phase's CPU, which includes the Redis layer's receive, over its
messages). The outbox is written in both runs (it is part of every write):
"off" means no streams server and no subscriber.
"""

import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

from benchmarks.load import Load
from benchmarks.runner import _database_url, bench_rate_limits, measure, server_env
from benchmarks.scenarios import SCENARIOS
from benchmarks.seed import reuse, seed
from benchmarks.server import Server
from relayer.ports import free_port

SUBSCRIBERS = int(os.environ.get("STREAMS_BENCH_SUBSCRIBERS", "1000"))
CLIENT_PROCESSES = int(os.environ.get("STREAMS_BENCH_CLIENT_PROCESSES", "2"))
SCALE = float(os.environ.get("STREAMS_BENCH_SCALE", "0.02"))
DURATION = float(os.environ.get("STREAMS_BENCH_SECONDS", "10"))
FANOUT_RATE = int(os.environ.get("STREAMS_BENCH_FANOUT_RATE", "50"))
FANOUT_EVENTS = int(os.environ.get("STREAMS_BENCH_FANOUT_EVENTS", "300"))
MARKET = "ETH_TKC"
NETWORK_ID = 1  # server_env's DEFAULT_NETWORK_ID
CHANNEL = f"trades:{MARKET}"
SYNTHETIC = "account:0x" + "be" * 20
CHANNELS = [CHANNEL, SYNTHETIC]
KEYS = [f"{NETWORK_ID}/{channel}" for channel in CHANNELS]


def _rss_mib(pid: int, field: str = "VmRSS") -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _cpu_ms(pid: int) -> float:
    """The process's CPU time so far (user + system), in milliseconds."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def _cpu_per_1000(cpu_ms: float, figures: dict) -> float | None:
    delivered = figures["delivered"]
    return round(cpu_ms * 1000 / delivered, 2) if delivered else None


def _sequences() -> list[int]:
    from exchange.streams.snapshots import channel_sequences

    values = channel_sequences(KEYS)
    connection.close()
    return [values.get(key, 0) for key in KEYS]


def _commit_times(key: str, after: int, last: int) -> dict[int, float]:
    from exchange.models import StreamEvent

    rows = StreamEvent.objects.filter(
        channel=key, sequence__gt=after, sequence__lte=last
    ).values_list("sequence", "created_at")
    times = {sequence: created.timestamp() for sequence, created in rows}
    connection.close()
    return times


def _synthetic_events(count: int, rate: int) -> None:
    from django.db import transaction

    from exchange.streams.outbox import emit

    started = time.time()
    for index in range(count):
        with transaction.atomic():
            emit(NETWORK_ID, SYNTHETIC, "balance", {"i": index})
        delay = started + (index + 1) / rate - time.time()
        if delay > 0:
            time.sleep(delay)
    connection.close()


class _Uvicorn:
    def __init__(self, env: dict, log_path: Path):
        self.port = free_port()
        self.log = open(log_path, "w")  # noqa: SIM115 (closed in stop())
        self.process = subprocess.Popen(
            [sys.executable, "-m", "relayer.serve", "--port", str(self.port)],
            cwd=settings.BASE_DIR,
            env={**os.environ, **env},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait()

    def _wait(self) -> None:
        import requests

        deadline = time.monotonic() + 120
        while True:
            try:
                requests.get(f"http://127.0.0.1:{self.port}/healthz", timeout=10)
                return
            except requests.ConnectionError:
                assert time.monotonic() < deadline and self.process.poll() is None, "no uvicorn"
                time.sleep(0.2)

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=30)
        self.log.close()


def _subscribers(port: int, count: int, work_dir: Path, log) -> tuple[list, dict]:
    """The client processes, each connected and subscribed (or failed)."""
    processes: list[tuple[subprocess.Popen[str], Path]] = []
    ready: dict[str, Any] = {"connected": 0, "failed": 0, "errors": []}
    shares = [
        count // CLIENT_PROCESSES + (i < count % CLIENT_PROCESSES) for i in range(CLIENT_PROCESSES)
    ]
    for index, share in enumerate(s for s in shares if s):
        out = work_dir / f"stream-clients-{index}.pickle"
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "benchmarks.stream_clients", "127.0.0.1", str(port)),
                *(f"/ws?networkId={NETWORK_ID}", str(share), str(out), *CHANNELS),
            ],
            cwd=settings.BASE_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        processes.append((process, out))
    for process, _out in processes:
        assert process.stdout is not None
        _word, connected, failed, error = process.stdout.readline().split(" ", 3)
        ready["connected"] += int(connected)
        ready["failed"] += int(failed)
        if error.strip() != "-":
            ready["errors"].append(error.strip())
    log(f"{ready['connected']} of {count} subscribers connected ({ready['failed']} failed)")
    return processes, ready


def _collect(processes: list, last: list[int]) -> list:
    clients = []
    for process, _out in processes:
        process.stdin.write(f"stop {' '.join(map(str, last))}\n")
        process.stdin.flush()
    for process, out in processes:
        process.wait(timeout=600)
        with open(out, "rb") as handle:
            clients.extend(pickle.load(handle))
    return clients


def _figures(clients: list, index: int, start: int, last: int) -> dict:
    """Channel `index`'s figures over its sequences in (start, last]."""
    commits = _commit_times(KEYS[index], start, last)
    expected = list(range(start + 1, last + 1))
    latencies, lost, out_of_order, delivered = [], 0, 0, 0
    first_arrival, last_arrival = float("inf"), 0.0
    for channels, sequences, arrivals in clients:
        # Sequences past `last` are of fills wrk gave up on that committed after it.
        mine = [
            (s, a)
            for c, s, a in zip(channels, sequences, arrivals, strict=True)
            if c == index and start < s <= last
        ]
        seen = [s for s, _a in mine]
        if seen != sorted(seen) or len(set(seen)) != len(seen):
            out_of_order += 1
        lost += len(set(expected) - set(seen))
        delivered += len(mine)
        for sequence, arrival in mine:
            latencies.append(arrival - commits[sequence])
            first_arrival, last_arrival = min(first_arrival, arrival), max(last_arrival, arrival)
    latencies.sort()

    def percentile(q: float) -> float | None:
        if not latencies:
            return None
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 1)

    span = last_arrival - first_arrival if delivered else 0
    return {
        "events": len(expected),
        "delivered": delivered,
        "lost": lost,
        "clients_out_of_order": out_of_order,
        "messages_per_s": round(delivered / span) if span > 0 else None,
        "latency_ms_p50": percentile(0.5),
        "latency_ms_p99": percentile(0.99),
        "latency_ms_max": percentile(1.0),
    }


def run_streams(log=print, subscribers: int = SUBSCRIBERS) -> dict:
    work_dir = Path(settings.BASE_DIR) / "bench-results" / "work"
    work_dir.mkdir(parents=True, exist_ok=True)
    seeded = reuse(scale=SCALE) or seed(scale=SCALE, log=log)
    bench_rate_limits()
    connection.close()
    env = {**server_env(_database_url(), "relayer.settings"), "RATELIMIT_POLICY_TTL": "0"}
    scenario = next(s for s in SCENARIOS if s.name == "create_trades_single")
    load = Load(duration=DURATION, connections=8, threads=2)
    result: dict = {"subscribers": subscribers, "channel": CHANNEL, "load": vars(load)}
    with Server(
        name="api", app="relayer.wsgi:application", env=env, log_path=work_dir / "streams-api.log"
    ) as api:
        log("create_trades, streams off:")
        off = measure(scenario, server=api, seeded=seeded, load=load, work_dir=work_dir, log=log)
        streams = _Uvicorn(env, work_dir / "streams-uvicorn.log")
        try:
            processes, ready = _subscribers(streams.port, subscribers, work_dir, log)
            rss_idle = _rss_mib(streams.process.pid)
            start = _sequences()
            cpu = [_cpu_ms(streams.process.pid)]
            log("create_trades, streams on:")
            on = measure(scenario, server=api, seeded=seeded, load=load, work_dir=work_dir, log=log)
            middle = _sequences()
            cpu.append(_cpu_ms(streams.process.pid))
            log(f"fan-out: {FANOUT_EVENTS} events at {FANOUT_RATE}/s to every subscriber")
            _synthetic_events(FANOUT_EVENTS, FANOUT_RATE)
            last = _sequences()
            time.sleep(1)  # the last events' fan-out
            cpu.append(_cpu_ms(streams.process.pid))
            clients = _collect(processes, last)
            rss_peak = _rss_mib(streams.process.pid, "VmHWM")
        finally:
            streams.stop()
    trades = _figures(clients, 0, start[0], middle[0])
    fanout = _figures(clients, 1, middle[1], last[1])
    return {
        **result,
        "subscribers_connected": ready["connected"],
        "connect_failures": ready["errors"][:3],
        "rest_off": {k: off[k] for k in ("throughput", "p50_ms", "p99_ms", "failed")},
        "rest_on": {k: on[k] for k in ("throughput", "p50_ms", "p99_ms", "failed")},
        "rest_on_vs_off": round(on["throughput"] / off["throughput"], 3)
        if off["throughput"]
        else None,
        "trades": {**trades, "cpu_ms_per_1000": _cpu_per_1000(cpu[1] - cpu[0], trades)},
        "fanout": {
            "commit_rate_per_s": FANOUT_RATE,
            **fanout,
            "cpu_ms_per_1000": _cpu_per_1000(cpu[2] - cpu[1], fanout),
        },
        "rss_mib_idle": rss_idle,
        "rss_mib_peak": rss_peak,
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
