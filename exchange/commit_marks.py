"""Short-lived marks in the shared cache, set once a transaction commits, each with what
to do when this commit is the one that set it.

A mark is `cache.add`'s rule (set the key for `seconds` unless it is set) used to send
one message for many commits: the trade that sets the settlement mark nudges the
settler and the trades committed while it waits do not (exchange/services/chain_jobs.py);
the trade that sets a market's ticker mark schedules its ticker event
(exchange/streams/events.py). A fill sets both. With the Redis cache every mark of a
commit is set in ONE round trip (a pipeline of `SET key NX EX`, with the cache's own
keys, so `cache.delete` clears one; MULTI … EXEC); with another cache, one `cache.add` each.

If the cache cannot be reached the marks count as free: every `then` runs (a lost
mark costs a duplicate message, a lost nudge would cost a delay), and the error is logged.
"""

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache, RedisSerializer
from django.db import transaction

from exchange.cache_redis import cache_redis

logger = logging.getLogger(__name__)

_serializer = RedisSerializer()


@dataclass(frozen=True)
class Mark:
    key: str
    seconds: int
    # Run after the commit when this commit set the mark.
    then: Callable[[], object]


def marks_set_on_commit(marks: Sequence[Mark]) -> None:
    """Sets `marks` once the current transaction commits (at once outside one) and runs
    the `then` of each one this commit set."""
    marks = list(marks)
    transaction.on_commit(lambda: marks_set(marks), robust=True)


def marks_set(marks: Sequence[Mark]) -> None:
    """Sets `marks` now (one round trip) and runs the `then` of each one that was free."""
    try:
        taken = _add_all(marks)
    except Exception:
        logger.warning("event=commit_marks_cache_error marks=%s", len(marks), exc_info=True)
        taken = [True] * len(marks)
    for mark, was_free in zip(marks, taken, strict=True):
        if was_free:
            try:
                mark.then()
            except Exception:
                logger.exception("event=commit_mark_action_failed key=%s", mark.key)


def _add_all(marks: Sequence[Mark]) -> list[bool]:
    cache = caches["default"]
    if not isinstance(cache, RedisCache):
        return [cache.add(mark.key, 1, timeout=mark.seconds) for mark in marks]
    pipeline = cache_redis("default").pipeline()
    value = _serializer.dumps(1)
    for mark in marks:
        pipeline.set(cache.make_and_validate_key(mark.key), value, nx=True, ex=mark.seconds)
    return [bool(answer) for answer in pipeline.execute()]
