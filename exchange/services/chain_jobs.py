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

# A settlement nudge already on its way covers the trades committed before its run
# starts: the run clears the mark (settlement_nudge_taken) before it reads the trades,
# so a trade committed after that sends a nudge of its own. The mark expires by itself
# in case its nudge is lost or finds another run holding the lock (beat's tick is the
# floor either way).
SETTLEMENT_NUDGE_SECONDS = 1


def _settlement_mark(network_id: int) -> str:
    return f"chain:settlement-nudged:{network_id}"


def settlement_mark(network_id: int) -> Mark:
    """The mark that asks the settler to run for the commit that sets it, unless a nudge
    sent earlier has not started its run yet: one Celery message per settler run rather
    than one per trade (set with exchange/commit_marks.py, once the trade commits)."""
    return Mark(
        key=_settlement_mark(network_id),
        seconds=SETTLEMENT_NUDGE_SECONDS,
        then=lambda: current_app.send_task("chain.tasks.trades_settle", args=[network_id]),
    )


def settlement_nudge_taken(network_id: int) -> None:
    """Called by a settler run before it reads the booked trades: later trades nudge again."""
    cache.delete(_settlement_mark(network_id))


def withdrawal_dispatch_nudge(network_id: int) -> None:
    """Asks the dispatcher to run now (an operator's retry: always sent)."""
    current_app.send_task("chain.tasks.withdrawals_dispatch", args=[network_id])


# The same for withdrawal requests: a nudge already on its way covers the withdrawals
# committed before its run starts (the run clears the mark, withdrawal_dispatch_nudge_taken,
# before it reads the PENDING ones). The operator lane's tick (CHAIN_TICK_SECONDS) is the
# floor, as for settlement.
DISPATCH_NUDGE_SECONDS = 1


def _dispatch_mark(network_id: int) -> str:
    return f"chain:dispatch-nudged:{network_id}"


def withdrawal_dispatch_mark(network_id: int) -> Mark:
    """The mark that asks the dispatcher to run for the commit that sets it, unless a
    nudge sent earlier has not started its run yet: one Celery message per dispatcher
    run rather than one per withdrawal request (set with exchange/commit_marks.py)."""
    return Mark(
        key=_dispatch_mark(network_id),
        seconds=DISPATCH_NUDGE_SECONDS,
        then=lambda: withdrawal_dispatch_nudge(network_id),
    )


def withdrawal_dispatch_nudge_taken(network_id: int) -> None:
    """Called by a dispatcher run before it reads the PENDING withdrawals."""
    cache.delete(_dispatch_mark(network_id))
