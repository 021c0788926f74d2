"""Runs the baselines and the scenarios and gathers every figure into one result."""

import os
import time
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.urls import Resolver404, resolve

from benchmarks.load import Load, run_wrk, write_requests
from benchmarks.machine import machine
from benchmarks.scenarios import (
    BASELINES,
    SCENARIOS,
    WORKER_SCENARIOS,
    Scenario,
    WorkerScenario,
)
from benchmarks.seed import Seeded, reuse, seed
from benchmarks.server import DEPLOYED_CONFIG, WORKERS, Server
from benchmarks.workers import WorkerRun, worker_chain
from exchange.models import CostClass, RateLimitPolicy

WARM_UP_SECONDS = 1
# The benchmark's rate-limit policy: every request is still counted in Redis as in
# production (the middleware's cost is measured), but no limit is reached by wrk.
BENCH_RATE_LIMIT = 10**9


def bench_rate_limits() -> None:
    """Production-like limits that do not throttle the load generator (README)."""
    for cost_class in CostClass:
        RateLimitPolicy.objects.update_or_create(
            cost_class=cost_class,
            defaults={
                "window_seconds": 3600,
                "ip_limit": BENCH_RATE_LIMIT,
                "account_limit": BENCH_RATE_LIMIT,
                "api_key_limit": BENCH_RATE_LIMIT,
            },
        )


def server_env(database_url: str, settings_module: str) -> dict:
    """The production settings: DEBUG off, a SECRET_KEY, PostgreSQL and Redis."""
    env = {
        "DJANGO_SETTINGS_MODULE": settings_module,
        "DEBUG": "0",
        "SECRET_KEY": os.environ.get("BENCH_SECRET_KEY", "benchmark-secret-key-not-for-production"),
        "DATABASE_URL": database_url,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DEFAULT_NETWORK_ID": "1",
    }
    if settings.REDIS_URL:
        env["REDIS_URL"] = settings.REDIS_URL
    return env


def wired(scenario: Scenario) -> bool:
    """Whether the scenario's endpoint exists in the API's URLs (its branch has landed)."""
    try:
        resolve(scenario.probe)
    except Resolver404:
        return False
    return True


def measure(
    scenario: Scenario, *, server: Server, seeded: Seeded, load: Load, work_dir: Path, log
) -> dict:
    requests = scenario.requests(seeded, load.duration)
    requests_file = write_requests(work_dir / f"{scenario.name}.requests", requests)
    if not scenario.once:
        warm = Load(duration=WARM_UP_SECONDS, connections=load.connections, threads=load.threads)
        run_wrk(url=server.url, requests_file=requests_file, once=False, load=warm)
    server.reset_peak_rss()
    figures = run_wrk(url=server.url, requests_file=requests_file, once=scenario.once, load=load)
    figures["peak_rss_mib"] = server.peak_rss_mib()
    figures["prepared_requests"] = len(requests)
    log(
        f"  {scenario.name}: {figures['throughput']}/s p50 {figures['p50_ms']} ms"
        f" p99 {figures['p99_ms']} ms rss {figures['peak_rss_mib']} MiB"
        + (f" FAILED {figures['failed']}: {figures['first_error']}" if figures["failed"] else "")
    )
    return figures


def judge(scenario: Scenario, figures: dict, baseline: dict | None) -> dict:
    result = {
        "name": scenario.name,
        "description": scenario.description,
        "status": "measured",
        "baseline": scenario.baseline,
        **figures,
    }
    if baseline:
        result["ratio"] = {
            "throughput": round(figures["throughput"] / baseline["throughput"], 3)
            if baseline["throughput"]
            else None,
            "p50": round(figures["p50_ms"] / baseline["p50_ms"], 2) if baseline["p50_ms"] else None,
            "p99": round(figures["p99_ms"] / baseline["p99_ms"], 2) if baseline["p99_ms"] else None,
        }
    result["targets"] = [
        {
            "target": target.describe(),
            "met": target.met(figures, baseline)
            if baseline or target.kind == "min_throughput"
            else None,
        }
        for target in scenario.targets
    ]
    # A run with refused requests measured something else than the scenario.
    result["met"] = (
        None
        if not scenario.targets
        else figures["failed"] == 0 and all(t["met"] for t in result["targets"])
    )
    return result


def run(
    *,
    scale: float,
    load: Load,
    only: set[str] | None,
    out_dir: Path,
    reuse_seed: bool = False,
    log=print,
) -> dict:
    started = datetime.now(UTC)
    load_at_start = os.getloadavg()
    work_dir = out_dir / "work"
    work_dir.mkdir(parents=True, exist_ok=True)
    database_url = _database_url()

    def selected(name: str) -> bool:
        return only is None or name in only

    seeded, baselines, results = None, [], []
    if any(selected(scenario.name) for scenario in SCENARIOS):
        seeded = reuse(scale=scale) if reuse_seed else None
        if seeded is None:
            seeded = seed(scale=scale, log=log)
        else:
            log(f"reusing the data seeded earlier at scale {scale}")
        bench_rate_limits()
        connection.close()
        baselines, results = _http(seeded, load, selected, database_url, work_dir, log)
    workers = run_workers(
        scale=scale, selected=selected, database_url=database_url, work_dir=work_dir, log=log
    )
    return {
        "date": started.isoformat(timespec="seconds"),
        "machine": machine(),
        "config": {
            "scale": scale,
            "duration_s": load.duration,
            "connections": load.connections,
            "wrk_threads": load.threads,
            "gunicorn_workers": WORKERS,
            "gunicorn_config": str(DEPLOYED_CONFIG.relative_to(settings.BASE_DIR)),
            "database": connection.settings_dict["NAME"],
        },
        "seed": None
        if seeded is None
        else {
            "accounts": len(seeded.accounts),
            "open_orders_in_book": seeded.book_orders,
            "trades": seeded.trades,
            "hot_account_trades": seeded.hot_trades,
            "seconds": round(seeded.seconds, 1),
            "reused": seeded.seconds == 0,
        },
        "baselines": baselines,
        "scenarios": results,
        "workers": workers,
        # Other work on the machine skews every figure: a load above nproc says so.
        "load_average_1m": {
            "start": round(load_at_start[0], 2),
            "end": round(os.getloadavg()[0], 2),
        },
        "seconds": round(time.monotonic() - _T0, 1),
    }


def _http(seeded: Seeded, load: Load, selected, database_url: str, work_dir: Path, log):
    """The baselines and the selected HTTP scenarios, each server under gunicorn."""
    baselines: dict[str, dict] = {}
    log("baseline (minimal Django/DRF app, same gunicorn config):")
    with Server(
        name="baseline",
        app="benchmarks.baseline.wsgi:application",
        env=server_env(database_url, "benchmarks.baseline.settings"),
        log_path=work_dir / "baseline-gunicorn.log",
    ) as server:
        for scenario in BASELINES:
            figures = measure(
                scenario, server=server, seeded=seeded, load=load, work_dir=work_dir, log=log
            )
            baselines[scenario.name] = judge(scenario, figures, None)

    results = []
    log("API (relayer.wsgi under gunicorn):")
    with Server(
        name="api",
        app="relayer.wsgi:application",
        env=server_env(database_url, "relayer.settings"),
        log_path=work_dir / "api-gunicorn.log",
    ) as server:
        for scenario in SCENARIOS:
            if not selected(scenario.name):
                continue
            if not wired(scenario):
                results.append(
                    {
                        "name": scenario.name,
                        "description": scenario.description,
                        "status": f"not measured yet: {scenario.probe} is not in the API's URLs",
                        "targets": [
                            {"target": t.describe(), "met": None} for t in scenario.targets
                        ],
                        "met": None,
                    }
                )
                log(f"  {scenario.name}: not measured yet ({scenario.probe} not wired)")
                continue
            figures = measure(
                scenario, server=server, seeded=seeded, load=load, work_dir=work_dir, log=log
            )
            results.append(judge(scenario, figures, baselines.get(scenario.baseline)))
    return list(baselines.values()), results


def run_workers(*, scale: float, selected, database_url: str, work_dir: Path, log) -> list[dict]:
    """The selected worker scenarios, in order, on one local anvil (workers.py)."""
    chosen = [worker for worker in WORKER_SCENARIOS if selected(worker.name)]
    if not chosen:
        return []
    log("workers (the chain workers' code on a local anvil):")
    results = []
    with worker_chain(
        scale=scale,
        work_dir=work_dir,
        database_url=database_url,
        server_env=server_env,
        log=log,
    ) as chain:
        for worker in chosen:
            results.append(_run_worker(worker, chain, log))
    return results


def _run_worker(worker: WorkerScenario, chain: WorkerRun, log) -> dict:
    result = {"name": worker.name, "description": worker.description}
    try:
        figures = worker.run(chain)
    except Exception as error:  # reported, and the other scenarios still run
        log(f"  {worker.name}: FAILED {error!r}")
        figures = f"failed: {error!r}"
    if isinstance(figures, str):
        targets = [{"target": t.describe(), "met": None} for t in worker.targets]
        log(f"  {worker.name}: {figures}")
        return {**result, "status": figures, "targets": targets, "met": None}
    targets = [{"target": t.describe(), "met": t.met(figures, {})} for t in worker.targets]
    log(f"  {worker.name}: {figures}")
    return {
        **result,
        "status": "measured",
        **figures,
        "targets": targets,
        "met": all(t["met"] for t in targets) if targets else None,
    }


_T0 = time.monotonic()


def _database_url() -> str:
    db = connection.settings_dict
    user = db["USER"] or "postgres"
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    host = db["HOST"] or "127.0.0.1"
    port = db["PORT"] or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"
