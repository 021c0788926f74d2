"""A channel's state read together with its sequence (the book's snapshot).

On PostgreSQL the counter and the rows are read in one REPEATABLE READ transaction:
the rows are exactly those of the changes numbered up to the sequence. (Inside a
transaction already begun, e.g. a test's, the reads share that transaction.) On
SQLite the counter is read first: the rows then show at least the changes up to
it, and an event after the sequence may repeat a change the rows show already; the
book's events are whole order records, so applying one again changes nothing.
"""

from contextlib import contextmanager

from django.db import connection, transaction

from exchange.models import StreamCounter
from exchange.streams.outbox import channel_key


@contextmanager
def consistent_read():
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def channel_sequence(network_id: int, channel: str) -> int:
    """The channel's last sequence (0 before its first event)."""
    value = (
        StreamCounter.objects.filter(channel=channel_key(network_id, channel))
        .values_list("sequence", flat=True)
        .first()
    )
    return value or 0


def channel_sequences(keys: list[str]) -> dict[str, int]:
    return dict(StreamCounter.objects.filter(channel__in=keys).values_list("channel", "sequence"))
