"""A real Celery worker process for end-to-end tests, on the suite's Redis db and the test
database (loaded as a pytest plugin from tests/conftest.py).

    def test_x(celery_worker, ...):
        wait_for(lambda: done(), nudge=lambda: some_task.delay(network_id), worker=celery_worker)
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection

from relayer.celery import app

ROOT = Path(__file__).resolve().parents[1]


def _database_url() -> str:
    """The test database (pytest-django's test_<name>) for the worker process."""
    db = connection.settings_dict
    user = db["USER"] or "postgres"
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{user}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


@contextlib.contextmanager
def worker_process(
    env: dict[str, str],
    *,
    log_path: Path,
    pool: str = "solo",
    beat_schedule: Path | None = None,
) -> Iterator[subprocess.Popen]:
    """A `celery worker` process on the test database, its output in `log_path` (read
    with `worker.log()`); `pool="prefork"` runs one child, and with `beat_schedule`
    beat runs inside it (the production schedule drives it, no nudges needed)."""
    command = [
        str(Path(sys.executable).parent / "celery"),
        "-A",
        "relayer",
        "worker",
        f"--pool={pool}",
        "--concurrency=1",
        "--loglevel=INFO",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    if beat_schedule is not None:
        command += ["--beat", "--schedule", str(beat_schedule)]
    with open(log_path, "wb") as log:
        worker = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, "DATABASE_URL": _database_url(), **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    # The test's handle on the worker's log, carried by its process.
    worker.log = lambda: log_path.read_text(errors="replace")  # type: ignore[attr-defined]
    try:
        yield worker
    finally:
        # The whole process group: with --beat, beat runs in a child process of its own.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            worker.wait(timeout=20)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()


def chain_worker_env(deployment, redis_url: str) -> dict[str, str]:
    return {
        "REDIS_URL": redis_url,
        "OPERATOR_PRIVATE_KEY": deployment.operator.key,
        "FEE_ACCOUNT": deployment.fee_account.address,
        "CHAIN_RPC_TIMEOUT": "5",
    }


@pytest.fixture
def celery_worker(deployment, settings, tmp_path):
    app.control.purge()  # only this suite's Redis db: tasks left by an earlier run
    env = chain_worker_env(deployment, settings.REDIS_URL)
    with worker_process(env, log_path=tmp_path / "celery-worker.log") as worker:
        yield worker


def wait_for(condition, *, nudge, worker, limit: float = 90.0):
    """Re-sends `nudge` (a task) every second until `condition()` holds; fails after `limit`
    seconds only so that a broken worker cannot hang the suite."""
    deadline = time.monotonic() + limit
    while not condition():
        assert worker.poll() is None, worker.log()[-3000:]
        assert time.monotonic() < deadline, "the worker did not finish the work"
        nudge()
        time.sleep(1)
