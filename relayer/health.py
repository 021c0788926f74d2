"""Health of what the relayer depends on: database, cache/broker, each network's node.

A node's check is cheap under failure (docs/edge.md): its answer is kept in the shared cache
for HEALTH_CACHE_SECONDS, one web process at a time asks the node (the others answer with
the last result meanwhile), and the question is bounded by HEALTH_NODE_TIMEOUT in all, so
probes looping on /healthz during a node outage cannot occupy the web workers.

The node is asked through the relayer's one node client (chain.client.node_head, web3's
provider), given to health_get by its caller.
"""

import hashlib
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TypedDict

from django.conf import settings
from django.core.cache import cache
from django.db import connection

from chain.client import ChainError, ChainUnavailable
from chain.models import WatcherCursor
from exchange.models import Network
from exchange.records import Record


def _check_database() -> Record:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:
        return {"ok": False, "error": type(error).__name__}
    return {"ok": True}


def _check_cache() -> Record:
    probe = f"healthz:{uuid.uuid4().hex}"
    try:
        cache.set(probe, "1", 10)
        ok = cache.get(probe) == "1"
        cache.delete(probe)
    except Exception as error:
        return {"ok": False, "error": type(error).__name__}
    return {"ok": ok} if ok else {"ok": False, "error": "value not read back"}


def _check_broker() -> Record:
    url = settings.CELERY_BROKER_URL
    if url.startswith("memory://"):
        return {"ok": False, "error": "no broker: REDIS_URL is not set"}
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=settings.HEALTH_NODE_TIMEOUT) as broker:
            broker.ensure_connection(
                max_retries=1, interval_start=0, timeout=settings.HEALTH_NODE_TIMEOUT
            )
    except Exception as error:
        return {"ok": False, "error": type(error).__name__}
    return {"ok": True}


# A node's latest block number: (rpc_url, timeout=seconds) -> int; raises ChainError.
NodeHead = Callable[..., int]
# What /healthz has always called a node it cannot reach (the name of urllib's error, its
# first transport): monitors match on it.
UNREACHABLE = "URLError"

# Node questions run here so that a whole question (connect, send, a trickled answer) is
# bounded, not each socket operation; a question past its time finishes in the background.
_node_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="healthz-node")
# How long a node's last answer is kept at all: a process that finds another one asking
# the node answers with it, however old, rather than wait.
_KEEP_SECONDS = 300


def now() -> float:
    """The clock node answers are aged by; tests replace it."""
    return time.time()


def _ask_node(rpc_url: str, node_head: NodeHead) -> Record:
    timeout = settings.HEALTH_NODE_TIMEOUT
    # The client's own timeout (each socket operation) is longer than the question's
    # bound, so a silent node is always this bound's TimeoutError.
    question = _node_pool.submit(node_head, rpc_url, timeout=timeout + 1)
    try:
        block = question.result(timeout=timeout)
    except FutureTimeout:
        return {"ok": False, "error": "TimeoutError"}
    except ChainUnavailable:
        return {"ok": False, "error": UNREACHABLE}
    except (ChainError, ValueError) as error:  # answered, with nonsense
        return {"ok": False, "error": type(error).__name__}
    return {"ok": True, "blockNumber": block}


class _KeptCheck(TypedDict):
    at: float  # now() when the node answered
    check: Record


def _check_node(network: Network, node_head: NodeHead) -> Record:
    if not network.rpc_url:
        return {"ok": False, "error": "no RPC URL configured"}
    key = "healthz:node:" + hashlib.sha256(network.rpc_url.encode()).hexdigest()[:32]
    kept: _KeptCheck | None
    try:
        kept = cache.get(key)
    except Exception:
        kept = None
    if kept is not None and now() - kept["at"] < settings.HEALTH_CACHE_SECONDS:
        return kept["check"]
    try:
        asking = cache.add(f"{key}:asking", 1, timeout=settings.HEALTH_NODE_TIMEOUT + 1)
    except Exception:
        asking = True
    if not asking and kept is not None:
        return kept["check"]  # another process is asking the node right now
    check = _ask_node(network.rpc_url, node_head)
    try:
        cache.set(key, {"at": now(), "check": check}, timeout=_KEEP_SECONDS)
        if asking:
            cache.delete(f"{key}:asking")
    except Exception:
        pass
    return check


def _check_watcher(cursor: WatcherCursor) -> Record:
    """The deposit watcher of a network: stuck on a node error (chain/watcher_backoff.py)?"""
    if not cursor.failures:
        return {"ok": True, "scannedBlock": cursor.block_number}
    return {
        "ok": False,
        "error": f"stuck at block {cursor.next_block} after {cursor.failures} failed scans",
        "lastError": cursor.last_error,
        "retryAt": cursor.retry_at.isoformat() if cursor.retry_at else None,
    }


def health_get(*, node_head: NodeHead) -> Record:
    """{"ok": bool, "checks": {name: {"ok": bool, ...}}}; never carries an RPC URL,
    which may embed a provider's credentials. `node_head` asks a node its latest block."""
    checks: dict[str, Record] = {
        "database": _check_database(),
        "cache": _check_cache(),
        "broker": _check_broker(),
    }
    if checks["database"]["ok"]:
        for network in Network.objects.filter(enabled=True).order_by("id"):
            checks[f"node:{network.id}"] = _check_node(network, node_head)
        for cursor in WatcherCursor.objects.filter(network__enabled=True).order_by("network_id"):
            checks[f"watcher:{cursor.network_id}"] = _check_watcher(cursor)
    return {"ok": all(check["ok"] for check in checks.values()), "checks": checks}
