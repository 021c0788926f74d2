"""The outbox kept bounded (docs/streams.md, Pruning).

Every hub delivers an event within milliseconds of its commit (at worst its sweep,
STREAMS_SWEEP_MS, later), and reads the outbox after that only to repair a gap or to
catch a new subscriber up from its snapshot. So an event older than
STREAMS_OUTBOX_KEEP_SECONDS has been delivered by every running hub and is deleted.
The channels' counters (StreamCounter) are never deleted: sequences keep rising across
prunes and restarts, and a hub asked for pruned rows sends what remains, so its clients
see the gap and resync.

Safe with several workers and replicas at once: each batch locks the rows it deletes
with SKIP LOCKED (PostgreSQL), so two pruners take different rows and never wait for
each other; each batch is its own short transaction, and a run stops after
STREAMS_PRUNE_BATCHES batches (the next run goes on).
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from exchange.models import StreamEvent

logger = logging.getLogger(__name__)


def outbox_prune(
    *,
    now: datetime | None = None,
    keep_seconds: int | None = None,
    batch_size: int | None = None,
    batches: int | None = None,
) -> int:
    """Deletes events older than `keep_seconds`, at most `batches` batches of
    `batch_size` rows; returns how many it deleted."""
    keep = settings.STREAMS_OUTBOX_KEEP_SECONDS if keep_seconds is None else keep_seconds
    cutoff = (now or timezone.now()) - timedelta(seconds=keep)
    size = batch_size or settings.STREAMS_PRUNE_BATCH_SIZE
    deleted = 0
    for _ in range(batches or settings.STREAMS_PRUNE_BATCHES):
        count = _prune_batch(cutoff, size)
        deleted += count
        if count < size:
            break
    if deleted:
        logger.info("event=stream_outbox_pruned rows=%s before=%s", deleted, cutoff.isoformat())
    return deleted


def _prune_batch(cutoff: datetime, size: int) -> int:
    with transaction.atomic():
        ids = list(
            StreamEvent.objects.filter(created_at__lt=cutoff)
            .order_by("created_at", "id")
            .select_for_update(skip_locked=True)
            .values_list("id", flat=True)[:size]
        )
        if not ids:
            return 0
        return StreamEvent.objects.filter(id__in=ids).delete()[0]
