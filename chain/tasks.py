"""Celery tasks of the chain workers: thin wrappers that take the network's lock and
run one bounded pass. Beat (settings.CELERY_BEAT_SCHEDULE) fans out every few seconds
to each network with an RPC URL and an exchange contract; the next tick is the retry
after a node error, so a down node costs a log line per tick and nothing else."""

import logging
from typing import Protocol, TypedDict, TypeVar

from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db.models import QuerySet

from chain.client import ChainUnavailable, ExchangeClient, exchange_client
from chain.escape_hatch import escape_exposure_refresh
from chain.locks import network_lock
from chain.reconciliation import reconciliation_run
from chain.settler import SettleResult, trades_settle_run
from chain.watcher import deposits_watch_run
from chain.withdrawals import DispatchResult, withdrawals_confirm_run, withdrawals_dispatch_run
from exchange.models import Network
from exchange.services.chain_jobs import settlement_nudge_taken, withdrawal_dispatch_nudge_taken

logger = logging.getLogger(__name__)

# The embedded mode's cache lock: longer than any bounded run, it frees the lock if a
# worker dies holding it (PostgreSQL's advisory lock needs no TTL: chain/locks.py).
LOCK_TTL_SECONDS = 300

_Result = TypeVar("_Result", covariant=True)


class TimeLimits(TypedDict):
    soft_time_limit: int
    time_limit: int


class NetworkRun(Protocol[_Result]):
    """One bounded pass over a network: watcher, dispatcher, settler, reconciler."""

    def __call__(self, *, network: Network, client: ExchangeClient) -> _Result: ...


def time_limits(soft: int) -> TimeLimits:
    """Celery's soft and hard time limits for a bounded run of at most about `soft`
    seconds on a slow but answering node (a silent one fails each call within
    CHAIN_RPC_TIMEOUT). Never above settings.CELERY_TASK_SOFT_TIME_LIMIT, the default of
    every other task; the hard limit stays below LOCK_TTL_SECONDS."""
    soft = min(soft, settings.CELERY_TASK_SOFT_TIME_LIMIT)
    return {"soft_time_limit": soft, "time_limit": min(soft + 30, LOCK_TTL_SECONDS - 10)}


FAN_OUT_LIMITS = time_limits(10)  # one query, one message per network


def _chain_networks() -> QuerySet[Network]:
    return Network.objects.filter(enabled=True).exclude(rpc_url="").exclude(exchange_address="")


def _network(network_id: int) -> Network | None:
    return _chain_networks().filter(pk=network_id).first()


class QueueOption(TypedDict, total=False):
    queue: str


def network_queue(network_id: int) -> QueueOption:
    """apply_async's routing for a network's job: with CELERY_NETWORK_QUEUES, the queue
    `chain-<network id>` (a worker serves a network by listening on it: `-Q
    celery,chain-1`); else the default queue. Beat's fan-outs stay on the default."""
    if settings.CELERY_NETWORK_QUEUES:
        return {"queue": f"chain-{network_id}"}
    return {}


def _fan_out(task: Task[[int], None]) -> None:
    for network_id in _chain_networks().values_list("id", flat=True):
        task.apply_async((network_id,), **network_queue(network_id))


def _locked_run(lock: str, job: str, network_id: int, run: NetworkRun[_Result]) -> _Result | None:
    """Runs `run(network=, client=)` under the network's `lock`; None when the network
    is gone, another runner holds the lock, or the node is unreachable (logged)."""
    network = _network(network_id)
    if network is None:
        return None
    with network_lock(lock, network_id, ttl=LOCK_TTL_SECONDS) as held:
        if not held:
            return None
        try:
            return run(network=network, client=exchange_client(network))
        except ChainUnavailable as error:
            logger.warning(
                "event=node_unavailable job=%s network=%s error=%s", job, network_id, error
            )
            return None
        except SoftTimeLimitExceeded:
            logger.error("event=run_time_limit job=%s network=%s", job, network_id)
            raise


@shared_task(ignore_result=True, **FAN_OUT_LIMITS)
def deposits_watch_all() -> None:
    _fan_out(deposits_watch)


@shared_task(ignore_result=True, **FAN_OUT_LIMITS)
def withdrawals_dispatch_all() -> None:
    _fan_out(withdrawals_dispatch)


@shared_task(ignore_result=True, **FAN_OUT_LIMITS)
def withdrawals_confirm_all() -> None:
    _fan_out(withdrawals_confirm)


@shared_task(ignore_result=True, **FAN_OUT_LIMITS)
def trades_settle_all() -> None:
    _fan_out(trades_settle)


@shared_task(ignore_result=True, **FAN_OUT_LIMITS)
def escape_exposure_refresh_all() -> None:
    _fan_out(escape_exposure_refresh_task)


@shared_task(ignore_result=True, name="chain.tasks.escape_exposure_refresh", **time_limits(60))
def escape_exposure_refresh_task(network_id: int) -> None:
    """Which accounts can use the escape hatch soon (chain/escape_hatch.py)."""
    _locked_run("escape-hatch", "escape-hatch", network_id, escape_exposure_refresh)


@shared_task(ignore_result=True, **FAN_OUT_LIMITS)
def reconcile_all() -> None:
    _fan_out(reconcile)


@shared_task(ignore_result=True, **time_limits(60))
def deposits_watch(network_id: int) -> None:
    result = _locked_run("deposits", "deposits", network_id, deposits_watch_run)
    if result is None:
        return
    logger.info(
        "event=deposits_watched network=%s head=%s scanned_to=%s credited=%s failed=%s "
        "debited=%s left_chain=%s",
        network_id,
        result.head,
        result.scanned_to,
        len(result.credited),
        len(result.failed),
        len(result.debited),
        len(result.left_chain),
    )


# Dispatch and confirm share one lock per network: one of them touches the operator's
# transactions at a time.
@shared_task(ignore_result=True, **time_limits(120))
def withdrawals_dispatch(network_id: int) -> None:
    _locked_run("withdrawals", "dispatch", network_id, _dispatch)


@shared_task(ignore_result=True, **time_limits(120))
def withdrawals_confirm(network_id: int) -> None:
    _locked_run("withdrawals", "confirm", network_id, withdrawals_confirm_run)


def _dispatch(*, network: Network, client: ExchangeClient) -> DispatchResult:
    withdrawal_dispatch_nudge_taken(network.id)
    return withdrawals_dispatch_run(network=network, client=client)


def _settle(*, network: Network, client: ExchangeClient) -> SettleResult:
    settlement_nudge_taken(network.id)
    return trades_settle_run(network=network, client=client)


@shared_task(ignore_result=True, **time_limits(180))
def trades_settle(network_id: int) -> None:
    """Settles the network's booked trades on chain in id order (chain/settler.py). A
    halted network still has its in-flight trades confirmed; nothing new is sent."""
    result = _locked_run("settlement", "settlement", network_id, _settle)
    if result is None:
        return
    if result.halted:
        logger.error("event=settlement_halted_run network=%s", network_id)
    logger.info(
        "event=trades_settle network=%s settled=%s mined=%s waiting=%s unknown=%s failed=%s",
        network_id,
        len(result.settled),
        len(result.mined),
        len(result.waiting) + len(result.resent),
        len(result.unknown),
        len(result.failed),
    )


@shared_task(ignore_result=True, **time_limits(240))
def reconcile(network_id: int) -> None:
    """Compares the ledger with the contract and stores a ReconciliationRun (admin).
    A node that does not answer is itself a recorded failed run, not a skipped one."""
    network = _network(network_id)
    if network is None:
        return
    with network_lock("reconcile", network_id, ttl=LOCK_TTL_SECONDS) as held:
        if not held:
            return
        run = reconciliation_run(network=network, client=exchange_client(network))
    level = logging.INFO if run.ok else logging.ERROR
    logger.log(
        level,
        "event=reconciled network=%s ok=%s block=%s differences=%s error=%s",
        network_id,
        run.ok,
        run.block_number,
        len(run.difference_list),
        run.error or "-",
    )
