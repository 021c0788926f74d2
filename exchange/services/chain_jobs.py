"""Nudges for the chain workers, sent after a commit.

By task name, so that a web process never imports the chain workers (web3, the
contract ABI) to enqueue one, and services keep pointing away from chain/. Each
row the nudge is about (an UNSETTLED trade, a PENDING withdrawal) is itself the
outbox entry: if a nudge is lost, beat's next tick picks the row up anyway.

Through Celery's current app (the project's, relayer/celery.py, set when Django loads its
settings package), so that the domain does not import the project above it.
"""

from celery import current_app
from django.core.cache import cache

from exchange.commit_marks import Mark

# A nudge already on its way covers what is committed before its run starts (trades for
# the settler, withdrawal requests for the dispatcher): the run clears its mark (the
# *_nudge_taken functions) before it reads, so a commit after that sends a nudge of its
# own. The mark expires by itself in case its nudge is lost or finds another run holding
# the lock (beat's tick, the operator lane's every CHAIN_TICK_SECONDS, is the floor
# either way).
SETTLEMENT_NUDGE_SECONDS = 1
DISPATCH_NUDGE_SECONDS = 1
_SETTLE_TASK = "chain.tasks.trades_settle"
_DISPATCH_TASK = "chain.tasks.withdrawals_dispatch"


def _run_key(job: str, network_id: int) -> str:
    return f"chain:{job}-nudged:{network_id}"


def _run_mark(job: str, task: str, network_id: int, seconds: int) -> Mark:
    """The mark that sends `task` for the commit that sets it, unless a nudge sent
    earlier has not started its run yet: one Celery message per run rather than one per
    commit (set with exchange/commit_marks.py, once the commit is done)."""
    return Mark(
        key=_run_key(job, network_id),
        seconds=seconds,
        then=lambda: current_app.send_task(task, args=[network_id]),
    )


def settlement_mark(network_id: int) -> Mark:
    """A trade's nudge of the settler."""
    return _run_mark("settlement", _SETTLE_TASK, network_id, SETTLEMENT_NUDGE_SECONDS)


def settlement_nudge_taken(network_id: int) -> None:
    """Called by a settler run before it reads the booked trades: later trades nudge again."""
    cache.delete(_run_key("settlement", network_id))


def withdrawal_dispatch_mark(network_id: int) -> Mark:
    """A withdrawal request's nudge of the dispatcher."""
    return _run_mark("dispatch", _DISPATCH_TASK, network_id, DISPATCH_NUDGE_SECONDS)


def withdrawal_dispatch_nudge_taken(network_id: int) -> None:
    """Called by a dispatcher run before it reads the PENDING withdrawals."""
    cache.delete(_run_key("dispatch", network_id))


def withdrawal_dispatch_nudge(network_id: int) -> None:
    """Asks the dispatcher to run now (an operator's retry: always sent)."""
    current_app.send_task(_DISPATCH_TASK, args=[network_id])
