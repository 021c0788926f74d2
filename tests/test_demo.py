"""`make run` (relayer/demo.py) for real: the orchestrator on free ports and a temporary
VAR_DIR, the manual's walk-through (docs/getting-started.md) against it, the admin, then Ctrl-C (SIGINT) and no
process left behind."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from relayer.demo import (
    CHAIN_ID,
    CRASH_LOOP_CRASHES,
    DEV_ACCOUNTS,
    STATE_FILE,
    DemoConfig,
    DemoError,
    Supervisor,
    port_is_free,
)
from relayer.ports import free_port
from tests.docs_examples import example

ROOT = Path(__file__).resolve().parent.parent
READY = re.compile(r"^Ready at (http://\S+) in ")
START_TIMEOUT = 180.0


def _walkthrough() -> str:
    return example("walkthrough").code


def _process_groups_alive(groups: set[int]) -> list[str]:
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, pgid = fields[0], int(fields[2])
        if pgid in groups and state != "Z":
            alive.append(f"{entry.name} {(entry / 'cmdline').read_bytes()[:120]!r}")
    return alive


class Demo:
    def __init__(self, tmp: Path):
        self.http_port, self.chain_port = free_port(), free_port()
        self.var_dir = tmp / "var"
        self.env = {
            **os.environ,
            "DEMO_HTTP_PORT": str(self.http_port),
            "DEMO_CHAIN_PORT": str(self.chain_port),
            "VAR_DIR": str(self.var_dir),
        }
        self.lines: list[str] = []
        self.ready = threading.Event()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "relayer.demo"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # SIGINT goes to the demo alone, as Ctrl-C would
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            if READY.match(line):
                self.ready_at = time.monotonic()
                self.ready.set()
        self.ready.set()

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def banner_value(self, label: str) -> str:
        for line in self.lines:
            if line.strip().startswith(label):
                return line.strip()[len(label) :].strip()
        raise AssertionError(f"no {label!r} line in:\n{self.output}")

    def child_groups(self) -> set[int]:
        # "Processes  redis 122, anvil 123, web 124, ...": each leads its own group.
        return {int(pid) for pid in re.findall(r"\b(\d+)\b", self.banner_value("Processes"))}

    def get(self, path: str) -> dict:
        separator = "&" if "?" in path else "?"
        with urllib.request.urlopen(f"{self.api}{path}{separator}networkId={CHAIN_ID}") as r:
            return json.load(r)

    def post(self, path: str, body: dict) -> dict:
        request = urllib.request.Request(
            f"{self.api}{path}?networkId={CHAIN_ID}",
            json.dumps(body).encode(),
            {"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request) as response:
            return json.load(response)

    def interrupt(self) -> int:
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=60)
        finally:
            self.reader.join(timeout=10)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    demo = Demo(tmp_path_factory.mktemp("demo"))
    try:
        demo.ready.wait(START_TIMEOUT)
        if demo.process.poll() is not None or not any(READY.match(x) for x in demo.lines):
            pytest.fail(f"make run did not get ready:\n{demo.output}")
        yield demo
    finally:
        if demo.process.poll() is None:
            demo.process.send_signal(signal.SIGINT)
            demo.process.wait(timeout=60)


def test_it_deploys_and_serves_the_tokens_markets_and_contract(demo):
    tokens = {t["symbol"]: t for t in demo.get("/tokens")["records"]}
    assert sorted(tokens) == ["ETH", "SIX", "TST"]
    assert (tokens["TST"]["decimals"], tokens["SIX"]["decimals"]) == ("18", "6")
    contract = demo.get("/helpers/return_contract_address")["address"]
    assert contract == demo.banner_value("Exchange")
    assert demo.banner_value("Markets") == "ETH_TST, ETH_SIX"
    assert demo.get(f"/tokens?networkId={CHAIN_ID}") == demo.get("/tokens")  # the default
    # The printed keys are anvil's dev accounts, which the demo funded.
    for address, key in DEV_ACCOUNTS:
        assert address in demo.output and key in demo.output


def test_it_writes_where_it_runs_to_var_dir_demo_json(demo):
    state = json.loads((demo.var_dir / STATE_FILE).read_text())
    assert state["api"] == demo.api
    assert state["rpc"] == f"http://127.0.0.1:{demo.chain_port}"
    assert (state["httpPort"], state["chainPort"]) == (demo.http_port, demo.chain_port)
    assert state["exchange"] == demo.banner_value("Exchange")
    assert state["chainId"] == CHAIN_ID and state["pid"] == demo.process.pid


def test_the_docs_walkthrough_runs_against_it(demo):
    # Only VAR_DIR, as a person's shell has: the client finds the ports in demo.json.
    env = {k: v for k, v in demo.env.items() if not k.startswith("DEMO_")}
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", _walkthrough()],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr

    maker, taker = DEV_ACCOUNTS[1][0], DEV_ACCOUNTS[2][0]
    trades = demo.post("/get_trades", {"market": "ETH_TST"})["records"]
    assert [(t["makerAddress"], t["takerAddress"]) for t in trades] == [(maker, taker)]
    assert {trades[0]["giveAmount"], trades[0]["takeAmount"]} == {
        str(40 * 10**15),
        str(40 * 10**18),
    }
    balances = {b["token"]: b for b in demo.get(f"/balances?account={maker}")["records"]}
    ether = "0x" + "00" * 20
    # 2 deposited, 0.04 paid for 40 TST, 0.5 withdrawn; 0.06 still held by the bid.
    assert balances[ether]["balance"] == str(146 * 10**16)
    assert balances[ether]["holdBalance"] == str(6 * 10**16)
    transfers = demo.post("/get_transfers", {"account": maker})["records"]
    assert sorted((t["type"].upper(), t["status"]) for t in transfers) == [
        ("DEPOSIT", "COMPLETE"),
        ("WITHDRAWAL", "COMPLETE"),
    ]
    # The taker's withdrawal of what it got in the trade was paid: the trade is on chain.
    taker_transfers = demo.post("/get_transfers", {"account": taker})["records"]
    assert sorted((t["type"].upper(), t["status"]) for t in taker_transfers) == [
        ("DEPOSIT", "COMPLETE"),
        ("WITHDRAWAL", "COMPLETE"),
    ]
    settled = demo.post("/get_trades", {"market": "ETH_TST"})["records"][0]
    assert settled["transactionHash"]


def test_the_docs_order_example_runs_against_it(demo):
    """After the walk-through account 1 has ETH on the exchange; the example's token
    address is the demo's TST (deployed at the same address every run)."""
    block = example("order-python")
    tst = next(t for t in demo.get("/tokens")["records"] if t["symbol"] == "TST")
    assert f'TOKEN = "{tst["address"]}"' in block.code
    exec(compile(block.with_server(demo.api), str(block.page), "exec"), {})


def test_the_operator_logs_in_to_the_admin_with_the_printed_password(demo):
    password = demo.banner_value("Admin").rsplit(" / ", 1)[1]
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    login = f"{demo.api}/admin/login/?next=/admin/"
    page = opener.open(login).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode(
        {
            "csrfmiddlewaretoken": token,
            "username": "operator",
            "password": password,
            "next": "/admin/",
        }
    ).encode()
    request = urllib.request.Request(login, form, {"Referer": login})
    with opener.open(request) as response:
        body = response.read().decode()
        assert response.url.endswith("/admin/")
    assert "Site administration" in body
    for model in ("orders", "trades", "balances", "transfers"):
        assert f"/admin/exchange/{model[:-1]}/" in body
    # The walk-through's order and trade are there for the operator to see.
    maker = DEV_ACCOUNTS[1][0]
    orders = opener.open(f"{demo.api}/admin/exchange/order/").read().decode()
    trades = opener.open(f"{demo.api}/admin/exchange/trade/").read().decode()
    assert "1 trade" in trades
    assert maker[:6] in orders
    with opener.open(f"{demo.api}/admin/dashboard/") as response:
        assert response.status == 200
    with opener.open(f"{demo.api}/static/admin/css/base.css") as response:
        assert response.status == 200


# The old embedded runtime (Celery's filesystem transport, expiring tick messages)
# stopped crediting deposits about 10 s after start: this waits well past that.
PAST_THE_OLD_FAILURE_SECONDS = 20.0


def _supervisor_state(demo) -> dict:
    return json.loads((demo.var_dir / "supervisor.json").read_text())


def _deposit(demo, account: int = 3) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "relayer.demo_client", "deposit", str(account), "ETH", "1"],
        cwd=ROOT,
        env=demo.env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_deposits_are_still_credited_well_after_start(demo):
    running = time.monotonic() - demo.ready_at
    time.sleep(max(0.0, PAST_THE_OLD_FAILURE_SECONDS - running))
    result = _deposit(demo)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "deposit credited" in result.stdout
    with urllib.request.urlopen(f"{demo.api}/metrics") as response:
        metrics = response.read().decode()
    assert f'relayer_chain_tick_age_seconds{{lane="deposits",network="{CHAIN_ID}"}}' in metrics
    assert f'relayer_chain_tick_delay_seconds{{lane="operator",network="{CHAIN_ID}"}}' in metrics


def test_a_killed_worker_is_restarted_and_the_exchange_keeps_working(demo):
    (worker,) = [c for c in _supervisor_state(demo)["children"] if c["name"] == "worker"]
    os.kill(worker["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 60
    while True:
        (now,) = [c for c in _supervisor_state(demo)["children"] if c["name"] == "worker"]
        if now["restarts"] >= 1 and now["state"] == "running":
            break
        assert demo.process.poll() is None, demo.output
        assert time.monotonic() < deadline, demo.output
        time.sleep(0.2)
    assert now["last_exit"] == -signal.SIGKILL and now["pid"] != worker["pid"]
    assert "supervisor: worker stopped unexpectedly (exit code -9)" in demo.output
    result = _deposit(demo, account=4)
    assert result.returncode == 0, result.stdout + result.stderr


def test_it_serves_the_streams_on_the_same_port(demo):
    """The embedded mode's /ws (docs/streams.md): the book's snapshot carries the
    sequence that get_orderbook returns."""
    from websockets.sync.client import connect

    url = f"ws://127.0.0.1:{demo.http_port}/ws?networkId={CHAIN_ID}"
    with connect(url, open_timeout=60) as ws:
        ws.send(json.dumps({"op": "subscribe", "id": 1, "channels": ["book:ETH_TST"]}))
        assert json.loads(ws.recv(timeout=60))["op"] == "subscribed"
        snapshot = json.loads(ws.recv(timeout=60))
    book = demo.post("/get_orderbook", {"market": "ETH_TST", "per_page": 100})
    assert snapshot["type"] == "snapshot"
    assert snapshot["sequence"] == book["sequence"]
    assert snapshot["data"]["bids"] == book["bids"]["records"]


def test_ctrl_c_stops_everything_it_started(demo):
    groups = demo.child_groups()
    assert len(groups) == 5  # redis, anvil, web, worker, beat
    groups |= {c["pid"] for c in _supervisor_state(demo)["children"] if c["pid"]}
    assert demo.interrupt() == 0
    assert "Stopped." in demo.output
    assert not (demo.var_dir / STATE_FILE).exists()
    assert _process_groups_alive(groups | {demo.process.pid}) == []
    assert port_is_free(demo.http_port) and port_is_free(demo.chain_port)


def test_it_refuses_to_start_when_a_port_is_taken(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "relayer.demo"],
            cwd=ROOT,
            env={
                **os.environ,
                "DEMO_HTTP_PORT": str(port),
                "DEMO_CHAIN_PORT": str(free_port()),
                "VAR_DIR": str(tmp_path / "var"),
            },
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is taken" in result.stderr
    assert "DEMO_HTTP_PORT" in result.stderr
    assert not (tmp_path / "var").exists()  # nothing started, nothing touched


def test_a_crash_loop_stops_the_exchange_with_the_reason(tmp_path):
    config = DemoConfig(http_port=free_port(), chain_port=free_port(), var_dir=tmp_path)
    config.log_dir.mkdir()
    supervisor = Supervisor(config, dict(os.environ))
    supervisor.start("flaky", ["sh", "-c", "echo starting flaky; exit 3"])
    try:
        with pytest.raises(DemoError) as stopped:
            while True:  # 1 + 2 + 4 + 8 s of backoff between its five deaths
                supervisor.check()
                time.sleep(0.1)
    finally:
        supervisor.stop_all()
    assert f"flaky died {CRASH_LOOP_CRASHES} times" in str(stopped.value)
    assert "last exit code 3" in str(stopped.value)
    assert "starting flaky" in str(stopped.value)  # the end of its log
    state = json.loads((tmp_path / "supervisor.json").read_text())
    assert state["stopped_reason"].startswith(f"flaky died {CRASH_LOOP_CRASHES} times")
    assert state["children"][0]["restarts"] == CRASH_LOOP_CRASHES - 1
