"""Real server processes for the reliability tests: gunicorn (the production server)
on the test database, with its environment overridable (a Redis URL on a closed port).

    with gunicorn_server(workers=4, threads=4) as server:
        requests.get(server.url + "/tokens")

Tests that use it must be transactional (django_db(transaction=True)): the server
reads what the test has committed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests
from django.conf import settings
from django.db import connection

from relayer.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def closed_port_url() -> str:
    """A redis:// URL on a port nothing listens on (connections are refused at once)."""
    return f"redis://127.0.0.1:{free_port()}/0"


def database_url_for_tests() -> str:
    """pytest-django's test database, for another process."""
    db = connection.settings_dict
    user = db["USER"] or "postgres"
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{user}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def server_env(**overrides: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_tests(),
        "REDIS_URL": settings.REDIS_URL,
        "DEFAULT_NETWORK_ID": str(settings.DEFAULT_NETWORK_ID),
        "FEE_ACCOUNT": settings.FEE_ACCOUNT,
        "RATELIMIT_POLICY_TTL": "0",
        "LOG_LEVEL": "INFO",
    }
    env.update(overrides)
    return env


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextlib.contextmanager
def started(
    command: list[str],
    *,
    name: str,
    port: int,
    tmp_path: Path,
    env: dict[str, str] | None = None,
    ready_requests: int = 1,
) -> Iterator[Server]:
    """Runs `command` serving HTTP on `port` (its own process group, its output in
    tmp_path/<name>-<port>.log), waits until `ready_requests` requests in a row are
    answered, and stops the whole group on exit (SIGTERM, then SIGKILL)."""
    log_path = tmp_path / f"{name}-{port}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(f"http://127.0.0.1:{port}", process, log_path)
    try:
        serving_wait(server, name=name, ready_requests=ready_requests)
        yield server
    finally:
        process_stop(process)


def serving_wait(server: Server, *, name: str, ready_requests: int = 1) -> None:
    """Waits (60 s at most) until `ready_requests` requests in a row are answered."""
    deadline = time.monotonic() + 60
    while True:
        assert server.process.poll() is None, server.log()[-3000:]
        try:
            for _ in range(ready_requests):
                requests.get(server.url + "/helpers/return_contract_address", timeout=30)
            return
        except (requests.ConnectionError, requests.Timeout):
            assert time.monotonic() < deadline, f"{name} did not start: {server.log()}"
            time.sleep(0.1)


def process_stop(process: subprocess.Popen) -> None:
    """Stops a process started in its own group: SIGTERM to the group, then SIGKILL."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextlib.contextmanager
def gunicorn_server(
    tmp_path: Path, *, workers: int = 2, threads: int = 4, timeout: int = 30, **env: str
) -> Iterator[Server]:
    port = free_port()
    command = [
        str(BIN / "gunicorn"),
        "relayer.wsgi",
        *("--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads)),
        *("--timeout", str(timeout), "--graceful-timeout", "5"),
    ]
    # Every worker imports the project on its first request: wait for all.
    with started(
        command,
        name="gunicorn",
        port=port,
        tmp_path=tmp_path,
        env=server_env(**env),
        ready_requests=workers,
    ) as server:
        yield server


class RedisServer:
    """A private redis-server on a free port that a test may kill and start again (the
    suite's shared Redis is never touched). Like production's, it keeps nothing on disk:
    a restart loses every queued message, lock and counter."""

    def __init__(self, work_dir: Path):
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed (Debian package redis-server)"
        self.binary, self.work_dir, self.port = binary, work_dir, free_port()
        self.process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                *(self.binary, "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self.work_dir)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: a crash, not a shutdown."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@contextlib.contextmanager
def private_redis(work_dir: Path) -> Iterator[RedisServer]:
    server = RedisServer(work_dir)
    server.start()
    try:
        yield server
    finally:
        server.kill()
