"""`make bench-scale`: what the multi-machine topology buys, measured in one run on this
machine (figures: docs/deploying.md).

A PostgreSQL primary with a synchronous standby (tests/scale/cluster.py), the benchmark's
seeded exchange (benchmarks/seed.py), web replicas under gunicorn as deployed
(docker/gunicorn.conf.py, two sync workers each) behind nginx, driven by wrk (benchmarks/load.py):

  order-book reads/s and signed order posts/s through the proxy, 1 replica vs 2;
  order-book reads/s served by the standby vs by the primary (1 replica each);
  signed order post latency (1 connection) and a bare commit's latency with
  synchronous replication on vs off.

On a 2-core machine the database, the replicas, nginx and wrk share the same cores:
the ratios are what count, and a second replica cannot add cores that are not there.

    python -m tests.scale.bench [--seconds 5]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tests.scale.cluster import Processes, app_environment, primary_and_standby

REDIS_URL = f"redis://127.0.0.1:6379/{os.environ.get('SCALE_REDIS_DB', '11')}"


def _commit_latency_ms(cluster, commits: int = 300) -> float:
    """The median latency of a one-row INSERT's commit (autocommit), in ms."""
    with cluster.connect("relayer") as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_commit (id serial, at timestamptz)")
        timings = []
        for _ in range(commits):
            started = time.perf_counter()
            conn.execute("INSERT INTO bench_commit (at) VALUES (now())")
            timings.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(timings), 3)


def _synchronous(primary, on: bool) -> None:
    with primary.connect() as conn:
        conn.execute(f"ALTER SYSTEM SET synchronous_standby_names = '{'standby' if on else ''}'")
        conn.execute("SELECT pg_reload_conf()")
    time.sleep(0.5)


def _standby_caught_up(primary, standby) -> None:
    target = primary.value("SELECT pg_current_wal_lsn()::text")
    deadline = time.monotonic() + 120
    while standby.value(f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn") is not True:
        assert time.monotonic() < deadline, "the standby did not catch up"
        time.sleep(0.2)


def _quarters(items: list) -> list[list]:
    size = len(items) // 4
    return [items[i * size : (i + 1) * size] for i in range(4)]


def run(seconds: float, root: Path, processes: Processes, stack: contextlib.ExitStack) -> dict:
    primary, standby = primary_and_standby(root)
    processes.clusters += [primary, standby]
    primary.connect().execute("CREATE DATABASE relayer")
    env = app_environment(
        root,
        DATABASE_URL=primary.url("relayer"),
        REDIS_URL=REDIS_URL,
        DEFAULT_NETWORK_ID="1",
        # The database's path, not the one-second Redis snapshot of a hot book.
        MARKET_DATA_CACHE_SECONDS="0",
        DATABASE_REPLICA_MAX_LAG_SECONDS="30",
    )
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    from benchmarks.load import Load, run_wrk, write_requests
    from benchmarks.runner import bench_rate_limits
    from benchmarks.scenarios import _create_orders, _orderbook
    from benchmarks.seed import seed
    from tests.edge.proxy import nginx_proxy

    call_command("migrate", interactive=False, verbosity=0)
    bench_rate_limits()
    seeded = seed(scale=0.02, log=lambda line: print(line, flush=True))
    posts = _quarters(_create_orders(seeded, 2.0))
    _standby_caught_up(primary, standby)

    on_standby = {**env, "DATABASE_REPLICA_URL": standby.url("relayer")}
    web_a = processes.web("web-a", on_standby, server="gunicorn")
    web_b = processes.web("web-b", on_standby, server="gunicorn")
    web_p = processes.web("web-primary-reads", env, server="gunicorn")

    def proxy(name: str, webs) -> str:
        folder = root / name
        folder.mkdir()
        upstreams = [web.url.removeprefix("http://") for web in webs]
        return stack.enter_context(nginx_proxy(folder, upstreams)).url

    one, two, primary_reads = (
        proxy("one", [web_a]),
        proxy("two", [web_a, web_b]),
        proxy("primary", [web_p]),
    )
    load = Load(duration=seconds, connections=16, threads=2)
    single = Load(duration=seconds, connections=1, threads=1)
    book = write_requests(root / "book.txt", _orderbook(seeded, 0))
    files = [write_requests(root / f"orders-{i}.txt", batch) for i, batch in enumerate(posts)]

    def measure(name: str, url: str, requests_file: Path, once: bool, how: Load) -> dict:
        figures = run_wrk(url=url, requests_file=requests_file, once=once, load=how)
        print(f"{name}: {json.dumps(figures)}", flush=True)
        return figures

    results = {
        "book_1_replica": measure("book, 1 replica", one, book, False, load),
        "book_2_replicas": measure("book, 2 replicas", two, book, False, load),
        "book_on_primary": measure(
            "book, 1 replica, primary reads", primary_reads, book, False, load
        ),
        "orders_1_replica": measure("orders, 1 replica", one, files[0], True, load),
        "orders_2_replicas": measure("orders, 2 replicas", two, files[1], True, load),
        "order_latency_sync": measure("order latency, sync", one, files[2], True, single),
        "commit_ms_sync": _commit_latency_ms(primary),
    }
    _synchronous(primary, on=False)
    results["order_latency_async"] = measure("order latency, async", one, files[3], True, single)
    results["commit_ms_async"] = _commit_latency_ms(primary)
    _synchronous(primary, on=True)
    results["cores"] = os.cpu_count()
    results["load_average"] = round(os.getloadavg()[0], 2)
    return results


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def report(results: dict) -> str:
    def rate(key):
        return results[key]["throughput"]

    def p50(key):
        return results[key]["p50_ms"]

    rows = [
        ("order-book reads/s, 1 replica", rate("book_1_replica"), ""),
        (
            "order-book reads/s, 2 replicas",
            rate("book_2_replicas"),
            _ratio(rate("book_2_replicas"), rate("book_1_replica")),
        ),
        ("signed order posts/s, 1 replica", rate("orders_1_replica"), ""),
        (
            "signed order posts/s, 2 replicas",
            rate("orders_2_replicas"),
            _ratio(rate("orders_2_replicas"), rate("orders_1_replica")),
        ),
        ("order-book reads/s, reads on the primary", rate("book_on_primary"), ""),
        (
            "order-book reads/s, reads on the standby",
            rate("book_1_replica"),
            _ratio(rate("book_1_replica"), rate("book_on_primary")),
        ),
        (
            "order post p50 ms (1 connection), synchronous replication off",
            p50("order_latency_async"),
            "",
        ),
        (
            "order post p50 ms (1 connection), synchronous replication on",
            p50("order_latency_sync"),
            _ratio(p50("order_latency_sync"), p50("order_latency_async")),
        ),
        ("bare commit p50 ms, synchronous replication off", results["commit_ms_async"], ""),
        (
            "bare commit p50 ms, synchronous replication on",
            results["commit_ms_sync"],
            _ratio(results["commit_ms_sync"], results["commit_ms_async"]),
        ),
    ]
    lines = ["| Figure | Value | Ratio |", "|---|---:|---:|"]
    lines += [f"| {name} | {value} | {ratio} |" for name, value, ratio in rows]
    failed = {k: v["failed"] for k, v in results.items() if isinstance(v, dict) and v["failed"]}
    lines.append(
        f"\n{results['cores']} cores, 1-minute load {results['load_average']} at the end; "
        f"non-2xx or failed requests: {failed or 'none'}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="relayer-bench-scale-"))
    os.chmod(root, 0o755)
    processes = Processes(root)
    try:
        with contextlib.ExitStack() as stack:
            results = run(args.seconds, root, processes, stack)
    finally:
        processes.stop_all()
    print("\n" + report(results))
    failed = any(isinstance(v, dict) and v["failed"] for v in results.values())
    if failed:
        print(f"Logs: {root}")
        return 1
    shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
