"""`make scale-test`: the exchange past one machine, as real processes on this one.

Starts a PostgreSQL primary and a synchronous standby (tests/scale/cluster.py), anvil,
two web replicas (uvicorn: REST and /ws) behind nginx (docker/nginx.conf, connecting
from 127.0.0.2, the replicas' only trusted proxy), two Celery workers on the network's
queue and beat, on the machine's Redis (db SCALE_REDIS_DB, 10 unless set). It drives
deposits, orders, trades, cancels and withdrawals through the proxy from concurrent
clients, and prints each check as a row:

  a ban earned through replica A is in force on replica B (and through the proxy);
  a forged X-Forwarded-For from a peer that is no proxy is ignored;
  an event written through B reaches a subscriber on A, in sequence;
  a worker killed with SIGKILL mid-job is taken over within a tick, nothing paid twice;
  public reads fall back to the primary while the standby's replay is held back;
  after the primary is killed and the standby promoted, every acknowledged write is
  there and reconciliation is clean.

Every process it started is stopped at the end, also when a check fails. Exit status 1
when any check failed.

    python -m tests.scale.run
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import psutil
import redis
import requests
from requests.adapters import HTTPAdapter

from relayer.demo import CHAIN_ID
from tests.scale.cluster import (
    Cluster,
    Processes,
    app_environment,
    multi_host_url,
    primary_and_standby,
)

REDIS_DB = int(os.environ.get("SCALE_REDIS_DB", "10"))
REDIS_URL = f"redis://127.0.0.1:6379/{REDIS_DB}"
PROXY_ADDRESS = "127.0.0.2"  # nginx connects to the replicas from here (proxy_bind)
MARKET = "ETH_TST"
CHAIN_TICK_SECONDS = 2
MAX_LAG_SECONDS = 2
WAIT = 90.0
SERVING = "relayer_database_replica_serving"
LAG = "relayer_database_replica_lag_seconds"


class SourceAddressAdapter(HTTPAdapter):
    """Connects from a given loopback address: each one is a different client."""

    def __init__(self, source: str, **kwargs):
        self.source = source
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)


def client_from(source: str) -> requests.Session:
    session = requests.Session()
    session.mount("http://", SourceAddressAdapter(source))
    return session


class Checks:
    def __init__(self):
        self.rows: list[tuple[str, bool, str]] = []

    @contextlib.contextmanager
    def check(self, name: str):
        detail = SimpleNamespace(text="")
        try:
            yield detail
        except Exception as error:  # a failed check is a row, and the run goes on
            traceback.print_exc()
            self.rows.append((name, False, f"{type(error).__name__}: {error}"[:300]))
        else:
            self.rows.append((name, True, detail.text))
        print(f"{'PASS' if self.rows[-1][1] else 'FAIL'}  {name}  {self.rows[-1][2]}", flush=True)

    def table(self) -> str:
        width = max(len(name) for name, _, _ in self.rows)
        lines = [f"{'check':<{width}}  result  detail", "-" * (width + 40)]
        for name, passed, detail in self.rows:
            lines.append(f"{name:<{width}}  {'PASS' if passed else 'FAIL':<6}  {detail}")
        return "\n".join(lines)

    @property
    def ok(self) -> bool:
        return bool(self.rows) and all(passed for _, passed, _ in self.rows)


def wait_until(what: str, condition, limit: float = WAIT):
    deadline = time.monotonic() + limit
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what} after {limit:.0f} s")
        time.sleep(0.2)


class Exchange:
    """The running topology and the in-process Django (on the primary, multi-host)."""

    def __init__(self, root: Path, processes: Processes):
        self.root, self.processes = root, processes
        self.primary: Cluster
        self.standby: Cluster
        self.env: dict[str, str] = {}

    # ---- start ----

    def start(self, stack: contextlib.ExitStack) -> None:
        self.primary, self.standby = primary_and_standby(self.root)
        self.processes.clusters += [self.primary, self.standby]
        self.primary.connect().execute("CREATE DATABASE relayer")
        self.node = self.processes.anvil()
        redis.Redis.from_url(REDIS_URL).flushdb()
        self.env = app_environment(
            self.root,
            DATABASE_URL=multi_host_url("relayer", self.primary, self.standby),
            DATABASE_REPLICA_URL=self.standby.url("relayer"),
            DATABASE_REPLICA_MAX_LAG_SECONDS=str(MAX_LAG_SECONDS),
            REDIS_URL=REDIS_URL,
            CELERY_NETWORK_QUEUES="1",
            CHAIN_TICK_SECONDS=str(CHAIN_TICK_SECONDS),
            RATELIMIT_TRUSTED_PROXIES="1",
            RATELIMIT_TRUSTED_PROXY_ADDRESSES=f"{PROXY_ADDRESS}/32",
            RATELIMIT_POLICY_TTL="0",
            RATELIMIT_BAN_AFTER="3",
            MARKET_DATA_CACHE_SECONDS="0",
        )
        os.environ.update(self.env)
        self._deploy()
        self.web_a = self.processes.web("web-a", self.env)
        self.web_b = self.processes.web("web-b", self.env)
        from tests.edge.proxy import nginx_proxy

        proxy = stack.enter_context(
            nginx_proxy(
                self.root,
                [self.web_a.url.removeprefix("http://"), self.web_b.url.removeprefix("http://")],
                bind=PROXY_ADDRESS,
            )
        )
        self.proxy_url = proxy.url
        queues = f"celery,chain-{CHAIN_ID}"
        self.workers = [self.processes.worker(f"worker-{n}", self.env, queues) for n in (1, 2)]
        self.processes.beat(self.env)

    def _deploy(self) -> None:
        import django

        django.setup()
        from django.core.management import call_command

        from relayer.demo import _deploy_steps
        from tests.reliability.test_concurrency import raise_rate_limits

        _deploy_steps(SimpleNamespace(rpc_url=self.node.url), call_command, io.StringIO())  # type: ignore[arg-type]  # the steps read only rpc_url
        raise_rate_limits()
        from exchange.models import Network

        self.network = Network.objects.get(pk=CHAIN_ID)

    def client(self, api_url: str | None = None):
        from relayer.demo_client import DemoClient, Target

        target = Target(api_url or self.proxy_url, self.node.url, self.network.exchange_address)
        return DemoClient(target, out=io.StringIO())

    def metric(self, web, name: str) -> float | None:
        text = requests.get(web.url + "/metrics", timeout=10).text
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return None


# ---- the checks ----


def check_ban_across_replicas(exchange: Exchange, checks: Checks) -> None:
    from exchange.models import CostClass, RateLimitPolicy
    from tests.reliability.test_concurrency import raise_rate_limits

    RateLimitPolicy.objects.filter(cost_class=CostClass.LIGHT).update(ip_limit=2)
    try:
        banned = client_from("127.0.0.9")
        with checks.check("ban earned through replica A is in force on replica B") as row:
            earned = [banned.get(exchange.web_a.url + "/tokens", timeout=10) for _ in range(8)]
            assert earned[-1].status_code == 418, [r.status_code for r in earned]
            on_b = banned.get(exchange.web_b.url + "/tokens", timeout=10).status_code
            via_proxy = banned.get(exchange.proxy_url + "/tokens", timeout=10).status_code
            assert (on_b, via_proxy) == (418, 418), (on_b, via_proxy)
            row.text = (
                f"A: {[r.status_code for r in earned]}; B: {on_b}; via the proxy: {via_proxy}"
            )
        with checks.check("forged X-Forwarded-For from a peer that is no proxy is ignored") as row:
            forged = {"X-Forwarded-For": "203.0.113.7"}
            direct = banned.get(exchange.web_b.url + "/tokens", headers=forged, timeout=10)
            other = client_from("127.0.0.10")
            framed = other.get(
                exchange.proxy_url + "/tokens",
                headers={"X-Forwarded-For": "127.0.0.9"},
                timeout=10,
            )
            assert direct.status_code == 418, direct.status_code
            assert framed.status_code == 200, framed.status_code
            row.text = (
                f"banned client claiming 203.0.113.7 on B: {direct.status_code}; "
                f"another client claiming the banned address through the proxy: {framed.status_code}"
            )
    finally:
        raise_rate_limits()


def fund_traders(exchange: Exchange, checks: Checks) -> None:
    with checks.check("deposits from 4 concurrent clients credited (through the proxy)") as row:
        errors: list[str] = []

        def deposit(account: int) -> None:
            try:
                client = exchange.client()
                client.deposit(account, "ETH", "20")
                client.deposit(account, "TST", "100000")
            except Exception as error:
                errors.append(f"{account}: {error}")

        threads = [threading.Thread(target=deposit, args=(n,)) for n in (1, 2, 3, 4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors
        row.text = "accounts 1-4: 20 ETH and 100000 TST each"


def check_streams_across_replicas(exchange: Exchange, checks: Checks) -> None:
    from tests.streams.server import Client

    with checks.check("event written through B reaches a subscriber on A") as row:
        subscriber = Client(exchange.web_a.url.replace("http://", "ws://") + "/ws")
        try:
            book, trades = f"book:{MARKET}", f"trades:{MARKET}"
            assert subscriber.subscribe(book, trades)["op"] == "subscribed"
            snapshot = subscriber.event_of(book)
            through_b = exchange.client(exchange.web_b.url)
            placed = through_b.order(1, MARKET, "buy", "100", "0.001")
            [trade] = through_b.fill(2, placed["orderHash"], "40")
            order_event = subscriber.event_of(book)
            fill_event = subscriber.event_of(book)
            trade_event = subscriber.event_of(trades)
            assert order_event["data"]["orderHash"] == placed["orderHash"], order_event
            assert order_event["sequence"] == snapshot["sequence"] + 1
            assert fill_event["sequence"] == order_event["sequence"] + 1
            assert fill_event["data"]["filled"] == str(40 * 10**18), fill_event
            assert trade_event["data"]["uuid"] == trade["uuid"], trade_event
            row.text = (
                f"book sequence {snapshot['sequence']} -> {order_event['sequence']} (order) -> "
                f"{fill_event['sequence']} (fill); the trade {trade['uuid'][:8]}"
            )
        finally:
            subscriber.close()


def _advisory_holder(conn, jobs: tuple[str, ...]) -> int | None:
    """The client port of the database session holding one of the network's job locks
    (a bigint advisory key is split into classid, its high half, and objid)."""
    from chain.locks import _advisory_key

    keys = {_advisory_key(job, CHAIN_ID) % 2**64 for job in jobs}
    rows = conn.execute(
        "SELECT l.classid::bigint, l.objid::bigint, a.client_port "
        "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted"
    ).fetchall()
    return next((port for high, low, port in rows if (high << 32) | low in keys), None)


def _worker_with_port(exchange: Exchange, port: int):
    for worker in exchange.workers:
        if worker.process.poll() is not None:
            continue
        family = [psutil.Process(worker.process.pid)]
        family += family[0].children(recursive=True)
        for member in family:
            with contextlib.suppress(psutil.Error):
                if any(c.laddr and c.laddr.port == port for c in member.net_connections("tcp")):
                    return worker
    return None


def _tick_started_after(moment: float, lane: str = "operator") -> float | None:
    from django.core.cache import cache

    from chain.tick_schedule import _state_key

    state = cache.get(_state_key(CHAIN_ID, lane))
    return state["started"] if state and state["started"] > moment else None


def check_worker_killed_mid_job(exchange: Exchange, checks: Checks) -> None:
    from exchange.models import Transfer, TransferStatus

    with checks.check("worker killed mid-job taken over within a tick, nothing paid twice") as row:
        clients = {account: exchange.client() for account in (3, 4)}
        nonces = []
        for account, client in clients.items():
            for _ in range(3):
                client.withdraw(account, "ETH", "0.1", wait=False)
                nonces.append((client.address(account), client._last_nonce))
        holder, deadline = None, time.monotonic() + 30
        with exchange.primary.connect("relayer") as conn:
            while holder is None and time.monotonic() < deadline:
                port = _advisory_holder(conn, ("withdrawals", "settlement", "deposits"))
                holder = _worker_with_port(exchange, port) if port else None
        assert holder is not None, "no worker was seen holding a chain job's lock"
        killed_at = time.time()
        exchange.processes.kill(holder)
        started = wait_until("the next operator tick", lambda: _tick_started_after(killed_at))
        taken_over = started - killed_at

        def all_paid():
            rows = Transfer.objects.filter(
                account__in=[a for a, _ in nonces], nonce__in=[n for _, n in nonces]
            )
            return rows.count() == len(nonces) and all(
                t.status == TransferStatus.COMPLETE for t in rows
            )

        wait_until("the withdrawals to complete", all_paid)
        hashes = list(
            Transfer.objects.filter(nonce__in=[n for _, n in nonces]).values_list(
                "transaction_hash", flat=True
            )
        )
        assert len(set(hashes)) == len(nonces), hashes
        assert taken_over <= CHAIN_TICK_SECONDS + 1, f"taken over after {taken_over:.1f} s"
        row.text = (
            f"killed {holder.name} holding a job lock; the other ran the next operator tick "
            f"{taken_over:.1f} s later (tick {CHAIN_TICK_SECONDS} s); {len(nonces)} withdrawals "
            "COMPLETE, one transaction each (reconciliation below)"
        )


def _book_hashes(url: str) -> set[str]:
    answer = requests.post(url + "/get_orderbook", json={"market": MARKET}, timeout=10).json()
    return {o["orderHash"] for side in ("bids", "asks") for o in answer[side]["records"]}


def check_reads_fall_back(exchange: Exchange, checks: Checks) -> None:
    web_a, web_b = exchange.web_a, exchange.web_b
    with checks.check("reads fall back to the primary while the standby is held back") as row:
        wait_until("the standby to serve", lambda: exchange.metric(web_a, SERVING) == 1.0)
        exchange.standby.value("SELECT pg_wal_replay_pause()")
        try:
            placed = exchange.client().order(3, MARKET, "buy", "5", "0.001")
            wait_until(
                "both replicas to fall back",
                lambda: exchange.metric(web_a, SERVING) == exchange.metric(web_b, SERVING) == 0.0,
            )
            lag = exchange.metric(web_a, LAG)
            seen = [placed["orderHash"] in _book_hashes(exchange.proxy_url) for _ in range(6)]
            assert all(seen), seen
            on_standby = exchange.standby.value(
                f"SELECT count(*) FROM exchange_order WHERE hash = '{placed['orderHash']}'",
                "relayer",
            )
            assert on_standby == 0, "the paused standby has the order already"
        finally:
            exchange.standby.value("SELECT pg_wal_replay_resume()")
        wait_until("the standby to serve again", lambda: exchange.metric(web_a, SERVING) == 1.0)
        row.text = (
            f"standby lag {lag:.1f} s > bound {MAX_LAG_SECONDS} s: the new order was in "
            "6 of 6 books through the proxy (not yet on the standby); serving again once resumed"
        )


class Load:
    """Orders, fills, cancels and withdrawals through the proxy from concurrent clients;
    records what the API acknowledged."""

    def __init__(self, exchange: Exchange):
        self.exchange = exchange
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.orders: list[str] = []
        self.trades: list[str] = []
        self.cancels: list[str] = []
        self.withdrawals: list[tuple[str, int]] = []
        self.refused: Counter[str] = Counter()
        self.threads = [
            threading.Thread(target=self._loop, args=(work,), daemon=True)
            for work in (self._order, self._order_and_fill, self._order_and_cancel, self._withdraw)
        ]

    def _loop(self, work) -> None:
        client = self.exchange.client()
        while not self.stop.is_set():
            try:
                work(client)
            except Exception as error:
                status = re.search(r": (\d{3}) ", str(error))
                with self.lock:
                    self.refused[status.group(1) if status else type(error).__name__] += 1
                time.sleep(0.2)

    def _order(self, client) -> None:
        placed = client.order(1, MARKET, "buy", "1", "0.001")
        with self.lock:
            self.orders.append(placed["orderHash"])

    def _order_and_fill(self, client) -> None:
        placed = client.order(3, MARKET, "sell", "1", "0.002")
        with self.lock:
            self.orders.append(placed["orderHash"])
        trades = client.fill(2, placed["orderHash"])
        with self.lock:
            self.trades += [trade["uuid"] for trade in trades]

    def _order_and_cancel(self, client) -> None:
        placed = client.order(4, MARKET, "buy", "1", "0.0005")
        with self.lock:
            self.orders.append(placed["orderHash"])
        client.cancel(4, placed["orderHash"])
        with self.lock:
            self.cancels.append(placed["orderHash"])

    def _withdraw(self, client) -> None:
        client.withdraw(2, "TST", "1", wait=False)
        with self.lock:
            self.withdrawals.append((client.address(2), client._last_nonce))
        time.sleep(0.5)

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)


def check_failover(exchange: Exchange, checks: Checks) -> None:
    from django.db import connections

    from exchange.models import Order, OrderStatus, Trade, Transfer

    with checks.check("after kill -9 of the primary and promotion, every ack is there") as row:
        with Load(exchange) as load:
            time.sleep(4)
            before_kill = len(load.orders)
            exchange.primary.kill()
            exchange.standby.promote()
            promoted_at = time.monotonic()
            wait_until("writes through the proxy again", lambda: len(load.orders) > before_kill + 3)
            recovered = time.monotonic() - promoted_at
            time.sleep(3)
        connections.close_all()
        orders = Order.objects.filter(hash__in=load.orders).count()
        trades = Trade.objects.filter(uuid__in=load.trades).count()
        cancelled = Order.objects.filter(hash__in=load.cancels, status=OrderStatus.CANCELLED)
        withdrawals = Transfer.objects.filter(nonce__in=[n for _, n in load.withdrawals]).count()
        counts = (orders, trades, cancelled.count(), withdrawals)
        wanted = (len(load.orders), len(load.trades), len(load.cancels), len(load.withdrawals))
        assert counts == wanted, f"present {counts}, acknowledged {wanted}"
        assert "500" not in load.refused, f"500s during the failover: {dict(load.refused)}"
        row.text = (
            f"acknowledged and present: {orders} orders, {trades} trades, {counts[2]} cancels, "
            f"{withdrawals} withdrawal requests; refused during the switch (status: count) "
            f"{dict(load.refused)}; writes again {recovered:.1f} s after the promotion"
        )
    with checks.check("reconcile clean after failover (nothing paid twice)") as row:
        run = wait_until("a clean reconciliation once settled and paid", _settled_and_reconciled)
        row.text = f"block {run.block_number}: {run.balances_checked} balances equal the contract's"


def _settled_and_reconciled():
    from chain.client import exchange_client
    from chain.reconciliation import reconciliation_run
    from exchange.models import Network, SettlementStatus, Trade, Transfer, TransferStatus

    busy = Trade.objects.exclude(settlement_status=SettlementStatus.SETTLED).exists()
    busy = busy or Transfer.objects.exclude(status__in=[TransferStatus.COMPLETE]).exists()
    if busy:
        return None
    network = Network.objects.get(pk=CHAIN_ID)
    run = reconciliation_run(network=network, client=exchange_client(network))
    assert run.ok, run.differences or run.error
    return run


def main() -> int:
    started = time.monotonic()
    checks = Checks()
    root = Path(tempfile.mkdtemp(prefix="relayer-scale-"))
    os.chmod(root, 0o755)
    processes = Processes(root)
    try:
        with contextlib.ExitStack() as stack:
            exchange = Exchange(root, processes)
            print(f"Starting the topology in {root} ...", flush=True)
            exchange.start(stack)
            print(
                f"Up in {time.monotonic() - started:.0f} s; proxy {exchange.proxy_url}", flush=True
            )
            check_ban_across_replicas(exchange, checks)
            fund_traders(exchange, checks)
            check_streams_across_replicas(exchange, checks)
            check_worker_killed_mid_job(exchange, checks)
            check_reads_fall_back(exchange, checks)
            check_failover(exchange, checks)
    except Exception:
        traceback.print_exc()
        checks.rows.append(("the run itself", False, "stopped early: see the trace above"))
    finally:
        processes.stop_all()
    if checks.ok:
        shutil.rmtree(root, ignore_errors=True)
    else:
        print(f"\nLogs and data: {root}", flush=True)
    print("\n" + checks.table())
    print(f"\n{'PASSED' if checks.ok else 'FAILED'} in {time.monotonic() - started:.0f} s")
    return 0 if checks.ok else 1


if __name__ == "__main__":
    sys.exit(main())
