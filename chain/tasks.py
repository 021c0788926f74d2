"""Celery tasks of the chain workers: thin wrappers that take the network's lock and
run one bounded pass. Beat (settings.CELERY_BEAT_SCHEDULE) fans out every few seconds
to each network with an RPC URL and an exchange contract; the next tick is the retry
after a node error, so a down node costs a log line per tick and nothing else."""

import logging

from celery import shared_task

from chain.client import ChainUnavailable, exchange_client
from chain.locks import network_lock
from chain.reconciliation import reconciliation_run
from chain.settler import trades_settle_run
from chain.watcher import deposits_watch_run
from chain.withdrawals import withdrawals_confirm_run, withdrawals_dispatch_run
from exchange.models import Network

logger = logging.getLogger(__name__)

# Longer than any bounded run; frees the lock if a worker dies holding it.
LOCK_TTL_SECONDS = 300


def _chain_networks():
    return Network.objects.filter(enabled=True).exclude(rpc_url="").exclude(exchange_address="")


def _network(network_id: int) -> Network | None:
    return _chain_networks().filter(pk=network_id).first()


@shared_task(ignore_result=True)
def deposits_watch_all() -> None:
    for network_id in _chain_networks().values_list("id", flat=True):
        deposits_watch.delay(network_id)


@shared_task(ignore_result=True)
def withdrawals_dispatch_all() -> None:
    for network_id in _chain_networks().values_list("id", flat=True):
        withdrawals_dispatch.delay(network_id)


@shared_task(ignore_result=True)
def withdrawals_confirm_all() -> None:
    for network_id in _chain_networks().values_list("id", flat=True):
        withdrawals_confirm.delay(network_id)


@shared_task(ignore_result=True)
def deposits_watch(network_id: int) -> None:
    network = _network(network_id)
    if network is None:
        return
    with network_lock("deposits", network_id, ttl=LOCK_TTL_SECONDS) as held:
        if not held:
            return
        try:
            result = deposits_watch_run(network=network, client=exchange_client(network))
        except ChainUnavailable as error:
            logger.warning(
                "event=node_unavailable job=deposits network=%s error=%s", network_id, error
            )
            return
    logger.info(
        "event=deposits_watched network=%s head=%s scanned_to=%s credited=%s failed=%s",
        network_id,
        result.head,
        result.scanned_to,
        len(result.credited),
        len(result.failed),
    )


# Dispatch and confirm share one lock per network: one of them touches the operator's
# transactions at a time.
@shared_task(ignore_result=True)
def withdrawals_dispatch(network_id: int) -> None:
    network = _network(network_id)
    if network is None:
        return
    with network_lock("withdrawals", network_id, ttl=LOCK_TTL_SECONDS) as held:
        if not held:
            return
        try:
            withdrawals_dispatch_run(network=network, client=exchange_client(network))
        except ChainUnavailable as error:
            logger.warning(
                "event=node_unavailable job=dispatch network=%s error=%s", network_id, error
            )


@shared_task(ignore_result=True)
def withdrawals_confirm(network_id: int) -> None:
    network = _network(network_id)
    if network is None:
        return
    with network_lock("withdrawals", network_id, ttl=LOCK_TTL_SECONDS) as held:
        if not held:
            return
        try:
            withdrawals_confirm_run(network=network, client=exchange_client(network))
        except ChainUnavailable as error:
            logger.warning(
                "event=node_unavailable job=confirm network=%s error=%s", network_id, error
            )


@shared_task(ignore_result=True)
def trades_settle_all() -> None:
    for network_id in _chain_networks().values_list("id", flat=True):
        trades_settle.delay(network_id)


@shared_task(ignore_result=True)
def trades_settle(network_id: int) -> None:
    """Settles the network's booked trades on chain in id order (chain/settler.py). A
    halted network still has its in-flight trades confirmed; nothing new is sent."""
    network = _network(network_id)
    if network is None:
        return
    with network_lock("settlement", network_id, ttl=LOCK_TTL_SECONDS) as held:
        if not held:
            return
        try:
            result = trades_settle_run(network=network, client=exchange_client(network))
        except ChainUnavailable as error:
            logger.warning(
                "event=node_unavailable job=settlement network=%s error=%s", network_id, error
            )
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


@shared_task(ignore_result=True)
def reconcile_all() -> None:
    for network_id in _chain_networks().values_list("id", flat=True):
        reconcile.delay(network_id)


@shared_task(ignore_result=True)
def reconcile(network_id: int) -> None:
    """Compares the ledger with the contract and stores a ReconciliationRun (admin)."""
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
