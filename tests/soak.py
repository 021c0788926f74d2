"""`make soak`: the real `make run` (relayer.demo, a subprocess on free ports and its own
VAR_DIR) under load for SOAK_MINUTES, with every core kept busy by a CPU hog:

  a deposit every 30 s (account 3, 1 ETH), an order and its fill every 10 s (account 1
  bids for 10 TST at 0.001 ETH, account 2 fills it), a withdrawal every minute (account
  4, 0.1 ETH); the queue length and the RSS of web and worker sampled every 5 s.

It reports, then asserts: every deposit credited within DEPOSIT_LIMIT_SECONDS of its last
confirmation (the first block at which the watcher may credit it), every withdrawal
COMPLETE, every trade settled, a clean reconciliation after the last action, the queue
not growing. Figures of the 30-minute run: docs/runtime.md.

    python -m tests.soak --minutes 30
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import redis

from relayer.demo import CHAIN_ID, DemoConfig, _rpc
from relayer.demo_client import DemoClient
from relayer.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
DEPOSIT_LIMIT_SECONDS = 5.0
DEPOSIT_EVERY, TRADE_EVERY, WITHDRAW_EVERY, SAMPLE_EVERY = 30.0, 10.0, 60.0, 5.0
GIVE_UP_SECONDS = 120.0  # one action's wait; past it the action counts as failed
QUEUE_LIMIT = 20  # messages waiting in the broker at any sample


def _hog() -> None:
    while True:
        pass


class Soak:
    def __init__(self, minutes: float):
        self.minutes = minutes
        self.tmp = Path(tempfile.mkdtemp(prefix="soak-"))
        self.config = DemoConfig(
            http_port=free_port(), chain_port=free_port(), var_dir=self.tmp / "var"
        )
        self.deposits: list[dict] = []
        self.withdrawals: list[dict] = []
        self.trades: list[dict] = []
        self.samples: list[dict] = []
        self.errors: list[str] = []
        self.threads: list[threading.Thread] = []
        self.lock = threading.Lock()

    # -- the demo ---------------------------------------------------------------------
    def start(self) -> None:
        env = {
            **os.environ,
            "DEMO_HTTP_PORT": str(self.config.http_port),
            "DEMO_CHAIN_PORT": str(self.config.chain_port),
            "VAR_DIR": str(self.config.var_dir),
            "RECONCILE_SECONDS": "30",  # a run soon after the last action
        }
        with open(self.tmp / "demo.out", "w") as log:  # the child keeps its own descriptor
            self.demo = subprocess.Popen(
                [sys.executable, "-m", "relayer.demo"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 300
        while "Ready at " not in (self.tmp / "demo.out").read_text():
            if self.demo.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("make run did not start:\n" + (self.tmp / "demo.out").read_text())
            time.sleep(0.5)
        self.client = DemoClient(self.config, out=io.StringIO())
        self.broker = redis.Redis(unix_socket_path=str(self.config.redis_socket))
        self.confirmations = self._query(
            "SELECT confirmations FROM exchange_network WHERE id=?", CHAIN_ID
        )[0][0]

    def stop(self) -> None:
        if self.demo.poll() is None:
            self.demo.send_signal(signal.SIGINT)
            self.demo.wait(timeout=90)

    def _query(self, sql: str, *params):
        with sqlite3.connect(
            f"file:{self.config.var_dir / 'relayer.sqlite3'}?mode=ro", uri=True, timeout=30
        ) as db:
            return db.execute(sql, params).fetchall()

    def _children(self) -> dict[str, dict]:
        state = json.loads((self.config.var_dir / "supervisor.json").read_text())
        return {c["name"]: c for c in state["children"]}

    # -- actions ----------------------------------------------------------------------
    def _in_thread(self, target) -> None:
        def run():
            try:
                target()
            except Exception as error:
                with self.lock:
                    self.errors.append(f"{target.__name__}: {type(error).__name__}: {error}")

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        self.threads.append(thread)

    def deposit(self) -> None:
        token = self.client.token("ETH")
        before = self.client.balance(3, token)
        tx = self.client.deposit(3, "ETH", "1", wait=False)
        block = int(_rpc(self.config.rpc_url, "eth_getTransactionReceipt", [tx])["blockNumber"], 16)
        last_confirmation = block + max(1, self.confirmations) - 1
        confirmed_at = credited_at = None
        deadline = time.monotonic() + GIVE_UP_SECONDS
        while credited_at is None and time.monotonic() < deadline:
            now = time.monotonic()
            if (
                confirmed_at is None
                and int(_rpc(self.config.rpc_url, "eth_blockNumber"), 16) >= last_confirmation
            ):
                confirmed_at = now
            if self.client.balance(3, token) >= before + 10**18:
                credited_at = time.monotonic()
                confirmed_at = confirmed_at or credited_at
            time.sleep(0.2)
        record = {"tx": tx, "block": block, "credited": credited_at is not None}
        if credited_at is not None:
            assert confirmed_at is not None  # set to credited_at at the latest
            record["after_confirmation"] = round(credited_at - confirmed_at, 2)
        with self.lock:
            self.deposits.append(record)

    def trade(self) -> None:
        placed = self.client.order(1, "ETH_TST", "buy", "10", "0.001")
        filled = self.client.fill(2, placed["orderHash"])
        with self.lock:
            self.trades.append({"order": placed["orderHash"], "trades": len(filled)})

    def withdraw(self) -> None:
        started = time.monotonic()
        transfer = self.client.withdraw(4, "ETH", "0.1")
        with self.lock:
            self.withdrawals.append(
                {"status": transfer["status"], "seconds": round(time.monotonic() - started, 1)}
            )

    def sample(self) -> None:
        children = self._children()
        rss = {}
        for name in ("web", "worker"):
            pid = children[name]["pid"]
            try:
                process = psutil.Process(pid)
                rss[name] = sum(
                    p.memory_info().rss for p in [process, *process.children(recursive=True)]
                )
            except (psutil.Error, TypeError):
                rss[name] = 0
        self.samples.append(
            {
                "t": time.monotonic(),
                "queue": self.broker.llen("celery"),
                "rss": rss,
                "restarts": sum(c["restarts"] for c in children.values()),
            }
        )

    # -- the run ----------------------------------------------------------------------
    def run(self) -> dict:
        hogs = [
            multiprocessing.Process(target=_hog, daemon=True) for _ in range(os.cpu_count() or 2)
        ]
        for hog in hogs:
            hog.start()
        try:
            self.start()
            self.client.deposit(1, "ETH", "20")  # the bids' ETH
            self.client.deposit(2, "TST", "100000")  # the fills' TST
            self.client.deposit(4, "ETH", "30")  # the withdrawals'
            started = time.monotonic()
            end = started + self.minutes * 60
            due = {"deposit": started, "trade": started, "withdraw": started, "sample": started}
            while time.monotonic() < end:
                now = time.monotonic()
                if now >= due["sample"]:
                    self.sample()
                    due["sample"] += SAMPLE_EVERY
                if now >= due["deposit"]:
                    self._in_thread(self.deposit)
                    due["deposit"] += DEPOSIT_EVERY
                if now >= due["trade"]:
                    self._in_thread(self.trade)
                    due["trade"] += TRADE_EVERY
                if now >= due["withdraw"]:
                    self._in_thread(self.withdraw)
                    due["withdraw"] += WITHDRAW_EVERY
                if self.demo.poll() is not None:
                    self.errors.append(f"make run stopped (exit code {self.demo.returncode})")
                    break
                time.sleep(0.2)
            for thread in self.threads:
                thread.join(GIVE_UP_SECONDS + 30)
            for hog in hogs:
                hog.terminate()
            return self.finish(started)
        finally:
            for hog in hogs:
                if hog.is_alive():
                    hog.terminate()
            self.stop()

    def finish(self, started: float) -> dict:
        # Every trade settled, then a reconciliation that started after that.
        deadline = time.monotonic() + 180
        unsettled = None
        while time.monotonic() < deadline:
            unsettled = self._query(
                "SELECT count(*) FROM exchange_trade WHERE settlement_status != 'SETTLED'"
            )[0][0]
            if unsettled == 0:
                break
            time.sleep(1)
        settled_at = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
        reconciliation = None
        while time.monotonic() < deadline + 120:
            rows = self._query(
                "SELECT ok, differences, error FROM chain_reconciliationrun "
                "WHERE started_at > ? AND finished_at IS NOT NULL ORDER BY id DESC LIMIT 1",
                settled_at,
            )
            if rows:
                reconciliation = {
                    "ok": bool(rows[0][0]),
                    "differences": rows[0][1],
                    "error": rows[0][2],
                }
                break
            time.sleep(2)
        trades_total = self._query("SELECT count(*) FROM exchange_trade")[0][0]
        latencies = [d["after_confirmation"] for d in self.deposits if d["credited"]]
        queue = [s["queue"] for s in self.samples]
        half = queue[len(queue) // 2 :] or [0]
        return {
            "minutes": self.minutes,
            "seconds": round(time.monotonic() - started),
            "cpu_hogs": os.cpu_count(),
            "deposits": len(self.deposits),
            "deposits_credited": sum(d["credited"] for d in self.deposits),
            "deposit_after_confirmation_s": {
                "median": round(statistics.median(latencies), 2) if latencies else None,
                "p95": round(sorted(latencies)[int(0.95 * (len(latencies) - 1))], 2)
                if latencies
                else None,
                "max": max(latencies) if latencies else None,
            },
            "orders_filled": len(self.trades),
            "trades": trades_total,
            "trades_unsettled": unsettled,
            "withdrawals": len(self.withdrawals),
            "withdrawals_complete": sum(w["status"] == "COMPLETE" for w in self.withdrawals),
            "withdrawal_s_max": max((w["seconds"] for w in self.withdrawals), default=None),
            "reconciliation": reconciliation,
            "queue_max": max(queue, default=0),
            "queue_max_second_half": max(half),
            "queue_last": queue[-1] if queue else None,
            "rss_peak_mb": {
                name: round(
                    max((s["rss"].get(name, 0) for s in self.samples), default=0) / 2**20, 1
                )
                for name in ("web", "worker")
            },
            "restarts": self.samples[-1]["restarts"] if self.samples else None,
            "errors": self.errors,
            "logs": str(self.config.log_dir),
        }


def failures(report: dict) -> list[str]:
    found = list(report["errors"])
    expected_deposits = int(report["minutes"] * 60 // DEPOSIT_EVERY)
    if report["deposits"] < expected_deposits:
        found.append(f"{report['deposits']} deposits made, {expected_deposits} expected")
    if report["deposits_credited"] != report["deposits"]:
        found.append("a deposit was never credited")
    slowest = report["deposit_after_confirmation_s"]["max"]
    if slowest is not None and slowest > DEPOSIT_LIMIT_SECONDS:
        found.append(
            f"a deposit took {slowest} s after its last confirmation (limit {DEPOSIT_LIMIT_SECONDS})"
        )
    if report["withdrawals_complete"] != report["withdrawals"] or not report["withdrawals"]:
        found.append("a withdrawal did not complete")
    if report["trades_unsettled"] != 0 or not report["trades"]:
        found.append(f"{report['trades_unsettled']} trades unsettled")
    if not (report["reconciliation"] or {}).get("ok"):
        found.append(f"reconciliation not clean: {report['reconciliation']}")
    if report["queue_max"] > QUEUE_LIMIT or (report["queue_last"] or 0) > QUEUE_LIMIT // 2:
        found.append(f"the queue grew: max {report['queue_max']}, last {report['queue_last']}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--minutes", type=float, default=float(os.environ.get("SOAK_MINUTES") or 30)
    )
    args = parser.parse_args(argv)
    report = Soak(args.minutes).run()
    print(json.dumps(report, indent=2), flush=True)
    found = failures(report)
    for failure in found:
        print(f"soak FAILED: {failure}", flush=True)
    if not found:
        print("soak passed", flush=True)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
