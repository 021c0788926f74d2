"""Nudges for the chain workers, sent after a commit.

By task name, so that a web process never imports the chain workers (web3, the
contract ABI) to enqueue one, and services keep pointing away from chain/. Each
row the nudge is about (an UNSETTLED trade, a PENDING withdrawal) is itself the
outbox entry: if a nudge is lost, beat's next tick picks the row up anyway.

Through Celery's current app (the project's, relayer/celery.py, set when Django loads its
settings package), so that the domain does not import the project above it.
"""

from celery import current_app


def settlement_nudge(network_id: int) -> None:
    current_app.send_task("chain.tasks.trades_settle", args=[network_id])


def withdrawal_dispatch_nudge(network_id: int) -> None:
    current_app.send_task("chain.tasks.withdrawals_dispatch", args=[network_id])
