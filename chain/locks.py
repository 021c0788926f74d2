"""One runner at a time per (job, network).

On PostgreSQL: a session-level advisory lock on the runner's database connection. The
server releases it the moment that connection ends, so a worker killed with SIGKILL
mid-run frees the network at once (its redelivered task runs right away), and a Redis
restart, which empties the cache, cannot let a second runner in beside the first.

On SQLite (the embedded mode, one machine): a key in the Django cache with a TTL.
`cache.add` is atomic on the database cache (an insert that fails on a live key); the
TTL frees the lock if its holder dies, and runs are bounded to finish well within it.
"""

import hashlib
import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.cache import cache
from django.db import DatabaseError, connection

logger = logging.getLogger(__name__)

# Advisory locks are re-entrant within one database session; what this process holds is
# remembered so that a second acquisition on the same connection is refused too.
_held_here: set[tuple[int, int]] = set()
_held_here_guard = threading.Lock()


@contextmanager
def network_lock(job: str, network_id: int, *, ttl: int = 120) -> Iterator[bool]:
    """Yields whether this caller holds the lock; releases only its own lock. `ttl` bounds
    the cache lock of the embedded mode; an advisory lock lasts as long as its holder."""
    lock = advisory_lock if connection.vendor == "postgresql" else cache_lock
    with lock(job, network_id, ttl=ttl) as held:
        if not held:
            logger.debug("event=lock_busy job=%s network=%s", job, network_id)
        yield held


def _advisory_key(job: str, network_id: int) -> int:
    digest = hashlib.blake2b(f"relayer:{job}:{network_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def advisory_lock(job: str, network_id: int, *, ttl: int = 0) -> Iterator[bool]:
    key = _advisory_key(job, network_id)
    connection.ensure_connection()
    session = (id(connection.connection), key)
    with _held_here_guard:
        if session in _held_here:
            acquired = False
        else:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
                acquired = cursor.fetchone()[0]
            if acquired:
                _held_here.add(session)
    try:
        yield acquired
    finally:
        if acquired:
            with _held_here_guard:
                _held_here.discard(session)
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
            except DatabaseError:
                pass  # the connection is gone, and the server released the lock with it


@contextmanager
def cache_lock(job: str, network_id: int, *, ttl: int = 120) -> Iterator[bool]:
    key = f"relayer:lock:{job}:{network_id}"
    token = uuid.uuid4().hex
    acquired = cache.add(key, token, timeout=ttl)
    try:
        yield acquired
    finally:
        if acquired and cache.get(key) == token:
            cache.delete(key)
