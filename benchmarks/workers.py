"""The worker scenarios: the chain workers' real code against a local anvil node.

Each scenario is a function (WorkerRun) -> figures. WorkerRun holds the node, the
deployment (chain/anvil.py: the exchange and test tokens) and its Network + Token rows
in the benchmark database; the node is started once per benchmark run and stopped after.

- deposits_credited: a burst of deposits from distinct accounts lands in a few blocks,
  then the watcher task (chain.tasks.deposits_watch, as Celery runs it) is timed from
  its first run until every deposit is COMPLETE and in the ledger.
- blocks_scanned: the same task over an empty range of blocks, on a node of its own
  (history pruned, so mining many blocks stays fast).
- credit_delay: a real Celery worker and beat (settings.CELERY_BEAT_SCHEDULE) run the
  watcher; one deposit at a time gets its confirmations and the time from the block
  that gave the last one to its ledger entry is taken.
- trades_settled: the settler over booked trades (benchmarks/settlement_scenario.py).
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from benchmarks.settlement_scenario import measure_trades_settled
from chain.anvil import AnvilNode, Deployment, DevAccount, deploy, start_anvil, stop_anvil
from chain.client import ETHER, ExchangeClient
from chain.models import ChainBlock, UnknownTokenDeposit, WatcherCursor
from chain.rpc_batch import batch, selector
from exchange.models import (
    Balance,
    CancelAll,
    Candle,
    FeeAccrual,
    FeeSchedule,
    LedgerEntry,
    LedgerKind,
    Market,
    MarketRules,
    Network,
    Order,
    Token,
    Trade,
    Transfer,
    TransferKind,
    TransferStatus,
)

DEPOSITS_NETWORK_ID = 31337
BLOCKS_NETWORK_ID = 31338
FULL_DEPOSITS = 5_000
FULL_BLOCKS = 100_000
# anvil_mine slows down as the chain grows. With pruned history and the cancun rules a
# chunk of 5,000 blocks takes about a second up to ~50,000 blocks, then minutes (README,
# Benchmarks): mining stops at the first chunk slower than MINE_CHUNK_SLOW_SECONDS and
# the scan is measured over the blocks made so far.
MINE_CHUNK = 5_000
MINE_CHUNK_SLOW_SECONDS = 5
MINE_CHUNK_TIMEOUT = 300
BLOCKS_NODE_ARGS = ("--hardfork", "cancun", "--prune-history", "1")
DEPOSIT = "0x" + selector("deposit()").hex()
DEPOSIT_GAS = 100_000
WATCH_TIMEOUT_SECONDS = 600
CREDIT_DELAY_CONFIRMATIONS = 3


@dataclass
class WorkerRun:
    """What every worker scenario gets: the node, its deployment and Network row."""

    node: AnvilNode
    deployment: Deployment
    network: Network
    scale: float
    work_dir: Path
    database_url: str
    server_env: Callable[[str, str], dict]
    log: Callable[[str], None]

    def count(self, full: int, smallest: int) -> int:
        return max(smallest, round(full * self.scale))


@contextmanager
def worker_chain(
    *,
    scale: float,
    work_dir: Path,
    database_url: str,
    server_env: Callable[[str, str], dict],
    log: Callable[[str], None],
) -> Iterator[WorkerRun]:
    """A fresh anvil with the exchange deployed, and its rows in the benchmark database."""
    node = start_anvil(accounts=10, extra_args=("--auto-impersonate",))
    try:
        deployment = deploy(node)
        network = chain_network(DEPOSITS_NETWORK_ID, node, deployment)
        yield WorkerRun(node, deployment, network, scale, work_dir, database_url, server_env, log)
    finally:
        stop_anvil(node)
        Network.objects.filter(id=DEPOSITS_NETWORK_ID).update(enabled=False)


def chain_network(network_id: int, node: AnvilNode, deployment: Deployment) -> Network:
    """The Network (confirmations 1) and Token rows (ETH, TST, SIX) for a deployment,
    replacing what an earlier benchmark run left for that network id."""
    forget_network(network_id)
    network = Network.objects.create(
        id=network_id,
        name=f"Benchmark anvil {network_id}",
        rpc_url=node.rpc_url,
        exchange_address=deployment.exchange,
        confirmations=1,
    )
    for address, symbol, decimals in (
        (ETHER, "ETH", 18),
        (deployment.tst, "TST", 18),
        (deployment.six, "SIX", 6),
    ):
        Token.objects.create(
            network=network, address=address, symbol=symbol, name=symbol, decimals=decimals
        )
    return network


def forget_network(network_id: int) -> None:
    """Deletes what an earlier run left for `network_id`, the rows that protect others
    first: the settlement scenario's trades, orders and market as well as the deposits."""
    Trade.objects.filter(network_id=network_id).delete()
    FeeAccrual.objects.filter(network_id=network_id).delete()
    CancelAll.objects.filter(network_id=network_id).delete()
    Order.objects.filter(network_id=network_id).delete()
    Candle.objects.filter(market__network_id=network_id).delete()
    MarketRules.objects.filter(market__network_id=network_id).delete()
    Market.objects.filter(network_id=network_id).delete()
    FeeSchedule.objects.filter(network_id=network_id).delete()
    LedgerEntry.objects.filter(balance__network_id=network_id).delete()
    Balance.objects.filter(network_id=network_id).delete()
    Transfer.objects.filter(network_id=network_id).delete()
    ChainBlock.objects.filter(network_id=network_id).delete()
    UnknownTokenDeposit.objects.filter(network_id=network_id).delete()
    WatcherCursor.objects.filter(network_id=network_id).delete()
    Token.objects.filter(network_id=network_id).delete()
    Network.objects.filter(id=network_id).delete()


def watch_until(network: Network, done: Callable[[], bool]) -> tuple[float, int]:
    """Runs the watcher task as Celery does (its lock, its client) until `done`; the
    seconds it took and the number of runs."""
    from chain.tasks import deposits_watch

    started, runs = time.perf_counter(), 0
    while not done():
        if time.perf_counter() - started > WATCH_TIMEOUT_SECONDS:
            raise RuntimeError(f"the watcher did not finish in {WATCH_TIMEOUT_SECONDS} s")
        deposits_watch(network.id)
        runs += 1
    return time.perf_counter() - started, runs


def _start_cursor_at_head(network: Network, client: ExchangeClient) -> int:
    head = client.head()
    block = client.block(head)
    if block is None:
        raise RuntimeError(f"the node has no block {head}, its own head")
    WatcherCursor.objects.update_or_create(
        network=network,
        defaults={"start_block": head, "block_number": head, "block_hash": block.hash},
    )
    return head


# deposits_credited -------------------------------------------------------------------


def land_deposits(run: WorkerRun, count: int) -> int:
    """`count` Ether deposits from as many fresh accounts, mined together (automine off
    while they are sent); returns the total deposited in wei."""
    node, exchange = run.node, run.deployment.exchange
    client = run.deployment.client
    senders = ["0x" + os.urandom(20).hex() for _ in range(count)]
    amounts = [10**15 * (1 + i % 97) for i in range(count)]
    batch(client, [("anvil_setBalance", [s, hex(10**18)]) for s in senders])
    node.rpc("evm_setAutomine", [False])
    try:
        batch(
            client,
            [
                (
                    "eth_sendTransaction",
                    [
                        {
                            "from": sender,
                            "to": exchange,
                            "value": hex(amount),
                            "data": DEPOSIT,
                            "gas": hex(DEPOSIT_GAS),
                        }
                    ],
                )
                for sender, amount in zip(senders, amounts, strict=True)
            ],
        )
        while int(node.rpc("txpool_status")["pending"], 16):
            node.mine(1)
    finally:
        node.rpc("evm_setAutomine", [True])
    return sum(amounts)


def deposits_credited(run: WorkerRun) -> dict:
    count = run.count(FULL_DEPOSITS, 50)
    network, client = run.network, run.deployment.client
    start = _start_cursor_at_head(network, client)
    prepared = time.perf_counter()
    total = land_deposits(run, count)
    blocks = client.head() - start
    run.log(
        f"  deposits_credited: {count} deposits landed in {blocks} blocks"
        f" ({time.perf_counter() - prepared:.1f} s)"
    )
    deposits = Transfer.objects.filter(network=network, kind=TransferKind.DEPOSIT)

    def all_credited() -> bool:
        return deposits.filter(status=TransferStatus.COMPLETE).count() == count

    seconds, runs = watch_until(network, all_credited)
    entries = LedgerEntry.objects.filter(balance__network=network, kind=LedgerKind.DEPOSIT)
    credited = sum(int(t) for t in entries.values_list("total_delta", flat=True))
    if entries.count() != count or credited != total:
        raise RuntimeError(f"{entries.count()} entries for {count} deposits, {credited} != {total}")
    return {
        "deposits": count,
        "blocks": blocks,
        "watcher_runs": runs,
        "seconds": round(seconds, 3),
        "throughput": round(count / seconds, 1),
        "unit": "deposits/s",
    }


# blocks_scanned ----------------------------------------------------------------------


def blocks_scanned(run: WorkerRun) -> dict:
    wanted = run.count(FULL_BLOCKS, 2_000)
    node = start_anvil(accounts=10, extra_args=BLOCKS_NODE_ARGS)
    try:
        # A fresh anvil would deploy at the deposits network's address, which a network
        # may not share (PROTOCOL.md: signatures cover the contract address).
        node.rpc("anvil_setNonce", [node.accounts[0].address, hex(1_000)])
        deployment = deploy(node)
        network = chain_network(BLOCKS_NETWORK_ID, node, deployment)
        client = deployment.client
        start = _start_cursor_at_head(network, client)
        mining = time.perf_counter()
        mine_empty_blocks(node, wanted)
        head = client.head()
        mined_in = time.perf_counter() - mining
        run.log(f"  blocks_scanned: mined {head - start} of {wanted} blocks in {mined_in:.1f} s")

        def at_head() -> bool:
            scanned = WatcherCursor.objects.get(network=network).block_number
            return scanned is not None and scanned >= head

        seconds, runs = watch_until(network, at_head)
    finally:
        stop_anvil(node)
        Network.objects.filter(id=BLOCKS_NETWORK_ID).update(enabled=False)
    return {
        "blocks": head - start,
        "blocks_wanted": wanted,
        "mining_seconds": round(mined_in, 1),
        "watcher_runs": runs,
        "max_block_range": settings.WATCHER_MAX_BLOCK_RANGE,
        "max_ranges_per_run": settings.WATCHER_MAX_RANGES_PER_RUN,
        "seconds": round(seconds, 3),
        "throughput": round((head - start) / seconds, 1),
        "unit": "blocks/s",
    }


def mine_empty_blocks(node: AnvilNode, wanted: int) -> None:
    left = wanted
    while left:
        chunk = min(MINE_CHUNK, left)
        started = time.perf_counter()
        node.mine(chunk, timeout=MINE_CHUNK_TIMEOUT)
        left -= chunk
        if time.perf_counter() - started > MINE_CHUNK_SLOW_SECONDS:
            return


# credit_delay ------------------------------------------------------------------------


@contextmanager
def celery_workers(run: WorkerRun) -> Iterator[None]:
    """A Celery worker and beat as deployed (README, Running the workers), on the
    benchmark database and this machine's Redis."""
    env = {
        **run.server_env(run.database_url, "relayer.settings"),
        "OPERATOR_PRIVATE_KEY": run.deployment.operator.key,
        "CHAIN_TICK_SECONDS": str(settings.CHAIN_TICK_SECONDS),
        "DEPOSITS_WATCH_SECONDS": str(settings.DEPOSITS_WATCH_SECONDS),
        "PYTHONUNBUFFERED": "1",
    }
    celery = [sys.executable, "-m", "celery", "-A", "relayer"]
    schedule = run.work_dir / "celerybeat-schedule"
    schedule.unlink(missing_ok=True)
    commands = {
        "worker": [
            *celery,
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            "2",
            "--without-mingle",
            "--without-gossip",
            "--hostname",
            f"bench-{os.getpid()}@%h",
        ],
        "beat": [*celery, "beat", "--loglevel", "INFO", "--schedule", str(schedule)],
    }
    children = []
    try:
        for name, argv in commands.items():
            log_file = (run.work_dir / f"celery-{name}.log").open("w")
            children.append(
                subprocess.Popen(
                    argv,
                    cwd=settings.BASE_DIR,
                    env=env,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        yield
    finally:
        for child in children:
            child.terminate()
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def _one_credit_delay(run: WorkerRun, sender: DevAccount, tick: float) -> float:
    node, network = run.node, run.network
    tx = node.rpc(
        "eth_sendTransaction",
        [
            {
                "from": sender.address,
                "to": run.deployment.exchange,
                "value": hex(10**15),
                "data": DEPOSIT,
                "gas": hex(DEPOSIT_GAS),
            }
        ],
    )
    deposits = Transfer.objects.filter(network=network, transaction_hash=tx.lower())
    _wait(lambda: deposits.exists(), 30, "the deposit to be recorded")
    node.mine(CREDIT_DELAY_CONFIRMATIONS - 2)
    time.sleep(random.uniform(0, tick))  # the last confirmation lands anywhere in a tick
    node.mine(1)
    confirmed_at = time.time()
    deposit_id = deposits.get().id
    entry = LedgerEntry.objects.filter(kind=LedgerKind.DEPOSIT, reference=f"deposit:{deposit_id}")
    _wait(lambda: entry.exists(), 60, "the deposit to be credited")
    return entry.get().created_at.timestamp() - confirmed_at


def _wait(done: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.02)


def credit_delay(run: WorkerRun) -> dict:
    samples = 8 if run.scale >= 0.1 else 2
    network = run.network
    network.confirmations = CREDIT_DELAY_CONFIRMATIONS
    network.save()
    _start_cursor_at_head(network, run.deployment.client)
    tick = float(settings.DEPOSITS_WATCH_SECONDS)
    delays = []
    with celery_workers(run):
        sender = run.deployment.users[0]
        for _ in range(samples):
            delays.append(_one_credit_delay(run, sender, tick))
            run.log(f"  credit_delay: sample {len(delays)}: {delays[-1]:.3f} s")
    return {
        "samples": len(delays),
        "confirmations": CREDIT_DELAY_CONFIRMATIONS,
        "tick_s": tick,
        "delays_s": [round(d, 3) for d in delays],
        "p50_s": round(statistics.median(delays), 3),
        "max_s": round(max(delays), 3),
    }


# trades_settled ----------------------------------------------------------------------


def trades_settled(run: WorkerRun) -> dict:
    client = ExchangeClient(
        rpc_url=run.node.rpc_url,
        exchange_address=run.deployment.exchange,
        operator_key=run.deployment.operator.key,
    )
    accounts = [(a.address, a.key) for a in run.node.accounts[1:9]]
    figures = measure_trades_settled(
        network=run.network,
        client=client,
        accounts=accounts,
        count=run.count(1_000, 20),
        log=run.log,
    )
    return {**figures, "unit": "trades/s"}
