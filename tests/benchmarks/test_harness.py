"""The benchmark harness end to end at a tiny scale, so it cannot rot: it seeds, serves
the API and the baseline under gunicorn, drives every scenario with wrk, runs the worker
scenarios on a local anvil (50 deposits, 2,000 blocks, 2 credit delays) and writes the
report. No figure is asserted, only that every scenario ran and was accepted."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dj_database_url
import pytest

from benchmarks.scenarios import BASELINES, SCENARIOS, WORKER_SCENARIOS

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.environ.get("RUN_SLOW"), reason="about a minute: RUN_SLOW=1"),
    pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (make bench)"),
]


def harness_database_url() -> str:
    """A database of its own beside the suite's, e.g. relayer_bench_harness."""
    url = os.environ["DATABASE_URL"]
    name = dj_database_url.parse(url)["NAME"]
    return url.rsplit("/", 1)[0] + f"/{name}_harness"


def test_the_harness_runs_every_scenario_and_writes_the_report(tmp_path):
    env = {**os.environ, "BENCH_DATABASE_URL": harness_database_url()}
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--scale=0.001",
            "--duration=1",
            "--connections=2",
            "--threads=1",
            f"--output={tmp_path}",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "create_orders" in completed.stdout

    result = json.loads((tmp_path / "latest.json").read_text())
    assert {"nproc", "memory_mib", "cpu_model"} <= result["machine"].keys()
    assert [b["name"] for b in result["baselines"]] == [b.name for b in BASELINES]
    assert [s["name"] for s in result["scenarios"]] == [s.name for s in SCENARIOS]
    for figures in result["baselines"] + result["scenarios"]:
        assert figures["status"] == "measured", figures
        assert figures["requests"] > 0, figures
        # Pre-signed requests the API refuses would measure the error path instead.
        assert figures["failed"] == 0, figures
        assert figures["peak_rss_mib"] > 0, figures
    workers = {w["name"]: w for w in result["workers"]}
    assert list(workers) == [w.name for w in WORKER_SCENARIOS]
    for name in ("deposits_credited", "blocks_scanned", "credit_delay"):
        assert workers[name]["status"] == "measured", workers[name]
        assert [t["met"] in (True, False) for t in workers[name]["targets"]] == [True]
    assert workers["deposits_credited"]["deposits"] == 50
    assert workers["deposits_credited"]["throughput"] > 0
    assert workers["blocks_scanned"]["blocks"] == 2_000
    assert workers["credit_delay"]["samples"] == 2
    assert 0 < workers["credit_delay"]["p50_s"] <= workers["credit_delay"]["max_s"]
    # Measured once the settler's scenario module lands (benchmarks/).
    settled = workers["trades_settled"]
    assert settled["status"] == "measured" or settled["status"].startswith("not measured yet")
    assert "deposits_credited" in completed.stdout
