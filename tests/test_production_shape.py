"""The production shape, started for real without Docker: the commands of
docker/compose.yaml (migrate, bootstrap, gunicorn with docker/gunicorn.conf.py, a Celery
worker, Celery beat) as processes, on a new PostgreSQL database, a private Redis and an
anvil mining a block every second, as compose's anvil does. Then a user's whole path
through them: deposits on chain credited by the watcher, an order, a trade settled on
chain, withdrawals paid; and bootstrap run again changes nothing.

Only what a container would give differently is swapped: the hosts (127.0.0.1 and free
ports for postgres, redis, anvil and gunicorn's bind) and two paths (/tmp/prometheus and
beat's schedule under /app/var), both to this test's own folder."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import yaml
from django.conf import settings

from chain.anvil import start_anvil, stop_anvil
from relayer.demo import CHAIN_ID, DEV_ACCOUNTS, OPERATOR_KEY
from relayer.demo_client import DemoClient, Target
from relayer.ports import free_port
from tests.reliability.servers import private_redis

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())
BIN = Path(sys.executable).parent
PASSWORD = "production-shape-operator"
START_TIMEOUT = 120.0

pytestmark = pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "relayer.postgres",
    reason="the production shape runs on PostgreSQL",
)


def compose_command(service: str, *, folder: Path) -> list[str]:
    """The service's command as compose runs it, its container paths moved to `folder`."""
    command = COMPOSE["services"][service]["command"]
    words = shlex.split(command) if isinstance(command, str) else list(command)
    return [
        word.replace("/tmp/prometheus", str(folder / "prometheus")).replace(
            "/app/var/", f"{folder}/"
        )
        for word in words
    ]


@contextlib.contextmanager
def database() -> Iterator[str]:
    """A new, empty database beside the suite's, as compose's postgres starts."""
    db = settings.DATABASES["default"]
    user, host, port = db["USER"] or "postgres", db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    name = f"relayer_shape_{os.getpid()}"
    admin = f"postgresql://{user}@{host}:{port}/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgres://{user}@{host}:{port}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Stack:
    def __init__(self, folder: Path, env: dict[str, str]):
        self.folder, self.env = folder, env
        self.processes: dict[str, subprocess.Popen] = {}

    def run_once(self, service: str) -> str:
        """A one-shot service (migrate, bootstrap): its output, and it must exit 0."""
        result = subprocess.run(
            compose_command(service, folder=self.folder),
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, f"{service}:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def start(self, service: str, *extra: str) -> None:
        command = compose_command(service, folder=self.folder)
        if command[:2] == ["sh", "-c"]:  # options go to the command the script execs
            command[-1] += " " + shlex.join(extra)
        else:
            command += extra
        with open(self.folder / f"{service}.log", "wb") as log:
            self.processes[service] = subprocess.Popen(
                command,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def log(self, service: str) -> str:
        return (self.folder / f"{service}.log").read_text(errors="replace")[-4000:]

    def check(self) -> None:
        for name, process in self.processes.items():
            assert process.poll() is None, f"{name} exited:\n{self.log(name)}"

    def stop(self) -> None:
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def _wait(condition, stack: Stack, what: str, limit: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + limit
    while True:
        stack.check()
        with contextlib.suppress(OSError):
            if condition():
                return
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.5)


def test_the_compose_commands_start_and_carry_a_deposit_order_trade_and_withdrawal(tmp_path):
    anvil = start_anvil(extra_args=tuple(COMPOSE["services"]["anvil"]["command"][-2:]))
    assert COMPOSE["services"]["anvil"]["command"][-2:] == ["--block-time", "1"]
    try:
        with database() as database_url, private_redis(tmp_path) as redis:
            (tmp_path / "prometheus").mkdir()
            http_port = free_port()
            environment = COMPOSE["services"]["bootstrap"]["environment"]
            assert environment["BOOTSTRAP_DEMO_TOKENS"] == "${BOOTSTRAP_DEMO_TOKENS:-true}"
            env = {
                **os.environ,
                "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
                "DATABASE_URL": database_url,
                "REDIS_URL": redis.url(0),
                "SECRET_KEY": "production-shape-test-only",
                "DEBUG": "0",
                "ALLOWED_HOSTS": "127.0.0.1,localhost",
                "DEFAULT_NETWORK_ID": str(CHAIN_ID),
                "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
                "VAR_DIR": str(tmp_path / "var"),
                # From ../.env in compose: the operator key (anvil's account 0 here).
                "OPERATOR_PRIVATE_KEY": OPERATOR_KEY,
                "OPERATOR_PRIVATE_KEY_FILE": "",
                "FEE_ACCOUNT": DEV_ACCOUNTS[0][0],
                "OPERATOR_PASSWORD": PASSWORD,
                "BOOTSTRAP_RPC_URL": anvil.rpc_url,
                "BOOTSTRAP_DEMO_TOKENS": "true",
            }
            stack = Stack(tmp_path, env)
            try:
                stack.run_once("migrate")
                first = stack.run_once("bootstrap")
                assert "exchange deployed" in first and "operator login created" in first
                again = stack.run_once("bootstrap")
                assert again.strip().splitlines() == first.strip().splitlines()[-1:]

                stack.start("web", "--bind", f"127.0.0.1:{http_port}")
                stack.start("worker")
                stack.start("beat")
                api = f"http://127.0.0.1:{http_port}"
                _wait(lambda: _get(f"{api}/healthz")[0] == 200, stack, "/healthz 200")
                tokens = _get(f"{api}/tokens")[1]["records"]
                assert sorted(t["symbol"] for t in tokens) == ["ETH", "SIX", "TST"]
                exchange = _get(f"{api}/helpers/return_contract_address")[1]["address"]

                client = DemoClient(Target(api, anvil.rpc_url, exchange), out=io.StringIO())
                client.deposit(1, "ETH", "2")
                client.deposit(2, "TST", "1000")
                order = client.order(1, "ETH_TST", "buy", "100", "0.001")
                client.fill(2, order["orderHash"], "40")
                client.withdraw(1, "ETH", "0.5")
                client.withdraw(2, "ETH", "0.03")  # paid once the trade is settled on chain

                trades = client.call("POST", "/get_trades", {"market": "ETH_TST"})["records"]
                assert len(trades) == 1 and trades[0]["transactionHash"]
                maker = {
                    b["token"]: b
                    for b in client.call("GET", f"/balances?account={DEV_ACCOUNTS[1][0]}")[
                        "records"
                    ]
                }
                ether = "0x" + "00" * 20
                assert (maker[ether]["balance"], maker[ether]["holdBalance"]) == (
                    str(146 * 10**16),
                    str(6 * 10**16),
                )
                transfers = client.call("POST", "/get_transfers", {"account": DEV_ACCOUNTS[2][0]})
                assert sorted((t["type"].upper(), t["status"]) for t in transfers["records"]) == [
                    ("DEPOSIT", "COMPLETE"),
                    ("WITHDRAWAL", "COMPLETE"),
                ]
                stack.check()
            finally:
                stack.stop()
    finally:
        stop_anvil(anvil)
