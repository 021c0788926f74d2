"""The deposit watcher's answer to a node error that is not "unavailable": a JSON-RPC
error for a too-large log range (providers cap eth_getLogs), a log that does not decode.
Retrying the same range every tick would hammer the node for ever, and skipping it
would lose deposits. Instead each failure halves the range (down to one block) and
waits before the same block is tried again (2, 4, 8 ... up to BACKOFF_MAX_SECONDS); the
state is kept on the cursor, where /healthz, /metrics and the dashboard show it. A
block is never skipped: at one block the watcher stays there, visibly, until the node
answers or an operator acts (docs/chain-workers.md). The smaller range is kept after a
success (a provider's cap does not go away); clearing `range_limit` restores the full one.
"""

import logging
from datetime import timedelta

from django.utils import timezone

from chain.models import WatcherCursor

logger = logging.getLogger(__name__)

BACKOFF_MAX_SECONDS = 300


def scan_span(cursor: WatcherCursor, max_block_range: int) -> int:
    """Blocks per eth_getLogs: the configured range, or less after node errors."""
    return min(cursor.range_limit or max_block_range, max_block_range)


def scan_waiting(cursor: WatcherCursor) -> bool:
    """Whether the watcher is backing off after a failed scan."""
    return cursor.retry_at is not None and timezone.now() < cursor.retry_at


def scan_failed(cursor: WatcherCursor, *, start: int, end: int, error: Exception) -> None:
    cursor.failures += 1
    cursor.range_limit = max(1, (end - start + 1) // 2)
    pause = min(2**cursor.failures, BACKOFF_MAX_SECONDS)
    cursor.retry_at = timezone.now() + timedelta(seconds=pause)
    cursor.last_error = f"blocks {start}-{end}: {error}"[:1000]
    cursor.save(update_fields=["failures", "range_limit", "retry_at", "last_error", "updated_at"])
    logger.error(
        "event=watcher_stuck network=%s block=%s range=%s failures=%s retry_in=%s error=%s",
        cursor.network_id,
        start,
        end - start + 1,
        cursor.failures,
        pause,
        error,
    )


def scan_succeeded(cursor: WatcherCursor) -> None:
    """Clears the stuck state (the smaller range stays)."""
    if cursor.failures == 0 and cursor.retry_at is None:
        return
    logger.info(
        "event=watcher_unstuck network=%s block=%s failures=%s",
        cursor.network_id,
        cursor.block_number,
        cursor.failures,
    )
    cursor.failures, cursor.retry_at, cursor.last_error = 0, None, ""
    cursor.save(update_fields=["failures", "retry_at", "last_error", "updated_at"])
