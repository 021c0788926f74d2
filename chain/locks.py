"""One runner at a time per (job, network): a lock in the Django cache with a TTL.

`cache.add` is atomic on Redis (SET NX) and on the database cache (an insert that
fails on a live key), so this works in production and in the embedded mode. The
TTL frees the lock if its holder dies; runs are bounded to finish well within it.
"""

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.cache import cache

logger = logging.getLogger(__name__)


@contextmanager
def network_lock(job: str, network_id: int, *, ttl: int = 120) -> Iterator[bool]:
    """Yields whether this caller holds the lock; releases only its own lock."""
    key = f"relayer:lock:{job}:{network_id}"
    token = uuid.uuid4().hex
    acquired = cache.add(key, token, timeout=ttl)
    if not acquired:
        logger.debug("event=lock_busy job=%s network=%s", job, network_id)
    try:
        yield acquired
    finally:
        if acquired and cache.get(key) == token:
            cache.delete(key)
