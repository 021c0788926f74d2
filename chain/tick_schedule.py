"""The chain tick: beat sends `chain.tick` every DEPOSITS_WATCH_SECONDS (1 s); it enqueues
at most one waiting `chain.network_tick` per (network, lane), the deposits lane at every
tick and the operator lane every CHAIN_TICK_SECONDS, and a network tick runs its lane's
jobs in turn, each under its existing per-network lock (chain/tasks.py).

Why (docs/runtime.md): no periodic message carries `expires`, so a busy worker delays a
tick but never drops it; a tick that waits is not sent again (the `waiting` key, set
with `cache.add` by the tick, cleared when the network tick starts), so a slow worker
cannot pile them up either. Two lanes per network: deposits alone, so that a settlement
waiting for its receipts never holds back a deposit's credit, and the operator's
transactions (withdrawals dispatched and confirmed, trades settled) in turn.

Each network tick records when it was sent and when it started, read by /metrics
(relayer_chain_tick_delay_seconds, relayer_chain_tick_age_seconds) and the dashboard.
"""

import logging
import time
from typing import TypedDict

from celery import Task, shared_task
from django.conf import settings
from django.core.cache import cache

from chain import tasks

logger = logging.getLogger(__name__)

# A network tick waiting longer than this is assumed lost (its message gone with a
# broker restart): the next tick sends another. Longer than any queue wait seen.
WAITING_TTL_SECONDS = 60
# The last run of a lane is kept this long for /metrics and the dashboard.
STATE_TTL_SECONDS = 24 * 3600

LANES: dict[str, tuple[Task[[int], None], ...]] = {
    "deposits": (tasks.deposits_watch,),
    "operator": (tasks.withdrawals_dispatch, tasks.withdrawals_confirm, tasks.trades_settle),
}


def _waiting_key(network_id: int, lane: str) -> str:
    return f"relayer:tick:waiting:{network_id}:{lane}"


def _state_key(network_id: int, lane: str) -> str:
    return f"relayer:tick:state:{network_id}:{lane}"


def _sent_key(network_id: int, lane: str) -> str:
    return f"relayer:tick:sent:{network_id}:{lane}"


def lane_seconds(lane: str) -> float:
    if lane == "deposits":
        return float(settings.DEPOSITS_WATCH_SECONDS)
    return float(settings.CHAIN_TICK_SECONDS)


def tick_send(*, now: float | None = None) -> list[tuple[int, str]]:
    """Enqueues a network tick for every (network, lane) that is due and has none
    waiting; returns those sent. Only beat calls it, so the read of the last send needs
    no lock; the waiting key is atomic (a second beat would not double a tick)."""
    now = time.time() if now is None else now
    sent = []
    for network_id in tasks._chain_networks().values_list("id", flat=True):
        for lane in LANES:
            last = cache.get(_sent_key(network_id, lane))
            # Half a second early: beat's 1 s cadence jitters by a few milliseconds.
            if last is not None and now - last < lane_seconds(lane) - 0.5:
                continue
            if cache.add(_waiting_key(network_id, lane), now, timeout=WAITING_TTL_SECONDS):
                cache.set(_sent_key(network_id, lane), now, STATE_TTL_SECONDS)
                network_tick.apply_async((network_id, lane, now), **tasks.network_queue(network_id))
                sent.append((network_id, lane))
    return sent


class TickState(TypedDict):
    network: int
    lane: str
    delay: float
    started: float
    ended: float | None
    age: float


def tick_states() -> list[TickState]:
    """Per (network, lane): the last network tick's delay (sent to started, seconds),
    when it started and ended (epoch seconds), and its age now."""
    now = time.time()
    rows: list[TickState] = []
    for network_id in tasks._chain_networks().values_list("id", flat=True).order_by("id"):
        for lane in LANES:
            state = cache.get(_state_key(network_id, lane))
            if state is None:
                continue
            rows.append(
                {
                    "network": network_id,
                    "lane": lane,
                    "delay": state["delay"],
                    "started": state["started"],
                    "ended": state.get("ended"),
                    "age": max(0.0, now - state["started"]),
                }
            )
    return rows


@shared_task(ignore_result=True, name="chain.tick", **tasks.FAN_OUT_LIMITS)
def tick() -> None:
    tick_send()


@shared_task(ignore_result=True, name="chain.network_tick", **tasks.time_limits(240))
def network_tick(network_id: int, lane: str, sent_at: float) -> None:
    started = time.time()
    cache.delete(_waiting_key(network_id, lane))
    state = {"delay": max(0.0, started - sent_at), "started": started, "ended": None}
    cache.set(_state_key(network_id, lane), state, STATE_TTL_SECONDS)
    for job in LANES.get(lane, ()):
        job.run(network_id)  # in this process, under the job's own lock
    ended = state["ended"] = time.time()
    cache.set(_state_key(network_id, lane), state, STATE_TTL_SECONDS)
    logger.debug(
        "event=network_tick network=%s lane=%s delay=%.3f took=%.3f",
        network_id,
        lane,
        state["delay"],
        ended - started,
    )
