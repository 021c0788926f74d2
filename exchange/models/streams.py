"""The streams' outbox (docs/streams.md): each event written in the transaction of its change.

StreamCounter holds each channel's last sequence; StreamEvent the events, one row each,
with the sequence the counter gave it. Both are written at the end of the transaction,
just before its COMMIT (exchange/streams/outbox.py), so an event exists if and only if
its change committed, and a channel's sequences rise by exactly 1 in commit order.
"""

from django.db import models


class StreamCounter(models.Model):
    """A channel's last sequence ("<networkId>/<channel>", e.g. "1/book:ETH_TST")."""

    channel = models.CharField(max_length=120, primary_key=True)
    sequence = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.channel} #{self.sequence}"


class StreamEvent(models.Model):
    """One event of one channel: {"op": "event", "channel", "sequence", "type", "data"}."""

    id = models.BigAutoField(primary_key=True)
    channel = models.CharField(max_length=120)
    sequence = models.BigIntegerField()
    type = models.CharField(max_length=16)
    data = models.JSONField()
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel", "sequence"], name="stream_event_sequence")
        ]
        indexes = [models.Index(fields=["created_at"], name="stream_event_created")]

    def __str__(self) -> str:
        return f"{self.channel} #{self.sequence} {self.type}"
