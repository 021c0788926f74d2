"""Events written in the transaction of their change, numbered at its end (docs/streams.md).

A change calls `emit` (or `emit_later`, whose records are read at the end of the
transaction) inside its transaction.atomic(). The events wait on the database
connection; the backends (relayer/postgres, relayer/sqlite_exact, through
OutboxConnection) write them just before COMMIT: each channel's counter row is bumped
(locked) in channel order, after every lock the change itself took, so the fixed lock
order of the services is kept and two writers never deadlock on counters; the events
get the sequences the counters gave. A rolled-back transaction or savepoint drops its
events with it. After the COMMIT the rows are handed to the relay (relay.publish).

Channel keys are "<networkId>/<channel>" (e.g. "1/book:ETH_TST").
"""

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from django.db import connections, transaction
from django.utils import timezone

from exchange.prepared_statements import prepared_fetchall

logger = logging.getLogger(__name__)

# (channel key, type, data) or a callable returning an iterable of those.
Pending = tuple[str, str, Any] | Callable[[], Iterable[tuple[str, str, Any]]]


def channel_key(network_id: int, channel: str) -> str:
    return f"{network_id}/{channel}"


def _connection():
    return connections["default"]


def emit(network_id: int, channel: str, type_: str, data: dict) -> None:
    """Queues one event of `channel` for the current transaction's COMMIT."""
    _queue(_connection(), (channel_key(network_id, channel), type_, data))


def emit_later(load: Callable[[], Iterable[tuple[str, str, Any]]]) -> None:
    """Queues a loader, run just before COMMIT (so it reads the final rows), returning
    (channel key, type, data) triples."""
    _queue(_connection(), load)


def _queue(connection, item: Pending) -> None:
    if connection.in_atomic_block:
        connection.__dict__.setdefault("stream_pending", []).append(item)
        return
    # Autocommit: the change is already committed; its event in a transaction of its own.
    with transaction.atomic():
        connection.__dict__.setdefault("stream_pending", []).append(item)


def _resolved(pending: list[Pending]) -> list[tuple[str, str, Any]]:
    events: list[tuple[str, str, Any]] = []
    for item in pending:
        if callable(item):
            events.extend(item())
        else:
            events.append(item)
    return events


def flush(connection) -> list[tuple[int, str, int, str, str]]:
    """Writes the connection's queued events (inside its transaction) and returns them
    as (id, channel key, sequence, type, data JSON)."""
    pending = connection.__dict__.pop("stream_pending", None)
    connection.__dict__.pop("stream_marks", None)
    if not pending:
        return []
    events = _resolved(pending)
    if not events:
        return []
    counts: dict[str, int] = {}
    for key, _type, _data in events:
        counts[key] = counts.get(key, 0) + 1
    order = sorted(counts)
    moment = timezone.now()
    seen: dict[str, int] = {}
    rows = []
    for key, type_, data in events:
        seen[key] = seen.get(key, 0) + 1
        rows.append((key, seen[key], type_, json.dumps(data, separators=(",", ":"))))
    if connection.vendor == "postgresql":
        written = _write_postgresql(connection, order, counts, rows, moment)
    else:
        with connection.cursor() as cursor:
            written = _write(connection, cursor, order, counts, rows, moment)
    return [
        (id_, key, sequence, type_, data)
        for (id_, key, sequence), (_k, _i, type_, data) in zip(written, rows, strict=True)
    ]


def _counter_values(order: list[str], counts: dict[str, int]) -> tuple[str, list]:
    return ", ".join(["(%s, %s)"] * len(order)), [p for key in order for p in (key, counts[key])]


_BUMP = (
    "INSERT INTO exchange_streamcounter AS c (channel, sequence) VALUES {values} "
    "ON CONFLICT (channel) DO UPDATE SET sequence = c.sequence + EXCLUDED.sequence "
    "RETURNING channel, sequence"
)


# The outbox statement on PostgreSQL: one fixed text whatever the number of events and
# channels, so that it is prepared once per connection (prepared_fetchall) rather than
# parsed by psycopg and planned by PostgreSQL at every commit. Its two parameters are
# JSON arrays (one string each: psycopg dumps a string in C, a list item by item): the
# counters, raised in channel order (their rows are locked so), and the events,
# inserted in the order of their queueing with the sequences the counters give.
_WRITE = (
    "WITH c AS (INSERT INTO exchange_streamcounter AS c (channel, sequence)"
    " SELECT k.v->>0, (k.v->>1)::bigint"
    " FROM jsonb_array_elements(%(counters)s::jsonb) WITH ORDINALITY AS k(v, ord)"
    " ORDER BY k.ord"
    " ON CONFLICT (channel) DO UPDATE SET sequence = c.sequence + EXCLUDED.sequence"
    " RETURNING channel, sequence)"
    " INSERT INTO exchange_streamevent (channel, sequence, type, data, created_at)"
    " SELECT c.channel, c.sequence - (e.v->>2)::bigint + (e.v->>1)::bigint, e.v->>3, e.v->4,"
    " %(at)s"
    " FROM jsonb_array_elements(%(events)s::jsonb) WITH ORDINALITY AS e(v, ord)"
    " JOIN c ON c.channel = e.v->>0 ORDER BY e.ord RETURNING id, channel, sequence"
)


def _write_postgresql(connection, order, counts, rows, moment) -> list[tuple[int, str, int]]:
    """One statement: the counters raised by their counts (rows locked in channel
    order), the events inserted with the sequences they give. Returns (id, key,
    sequence) in the events' order."""
    dumps = json.dumps
    # Each event [key, its number in its channel, its channel's count, type, data]; the
    # data is already JSON.
    events = ",".join(
        f"[{dumps(key)},{number},{counts[key]},{dumps(type_)},{data}]"
        for key, number, type_, data in rows
    )
    written = prepared_fetchall(
        _WRITE,
        {
            "counters": dumps([[key, counts[key]] for key in order]),
            "at": moment,
            "events": f"[{events}]",
        },
        connection,
    )
    by_event = {(key, sequence): id_ for id_, key, sequence in written}
    return _numbered(rows, counts, {key: seq for (key, seq) in _lasts(by_event)}, by_event)


def _lasts(by_event: dict) -> list[tuple[str, int]]:
    last: dict[str, int] = {}
    for key, sequence in by_event:
        last[key] = max(last.get(key, 0), sequence)
    return list(last.items())


def _numbered(rows, counts, last, by_event) -> list[tuple[int, str, int]]:
    out = []
    for key, number, _type, _data in rows:
        sequence = last[key] - counts[key] + number
        out.append((by_event[(key, sequence)], key, sequence))
    return out


def _write(connection, cursor, order, counts, rows, moment) -> list[tuple[int, str, int]]:
    """The same in two statements (SQLite: no INSERT inside WITH)."""
    values, params = _counter_values(order, counts)
    cursor.execute(_BUMP.format(values=values), params)
    last = dict(cursor.fetchall())
    numbered = [(key, last[key] - counts[key] + number, t, d) for key, number, t, d in rows]
    at = connection.ops.adapt_datetimefield_value(moment)
    cursor.execute(
        "INSERT INTO exchange_streamevent (channel, sequence, type, data, created_at) VALUES "
        + ", ".join(["(%s, %s, %s, %s, %s)"] * len(numbered))
        + " RETURNING id, channel, sequence",
        [p for key, seq, t, d in numbered for p in (key, seq, t, d, at)],
    )
    by_event = {(key, sequence): id_ for id_, key, sequence in cursor.fetchall()}
    return [(by_event[(key, seq)], key, seq) for key, seq, _t, _d in numbered]


class OutboxConnection:
    """Mixed into the database backends' DatabaseWrapper: writes the queued events just
    before COMMIT, drops them on ROLLBACK (of the transaction or of their savepoint), and
    hands the written rows to the relay after the COMMIT."""

    def _savepoint(self, sid):
        marks = self.__dict__.setdefault("stream_marks", {})
        marks[sid] = len(self.__dict__.get("stream_pending", ()))
        return super()._savepoint(sid)

    def _savepoint_rollback(self, sid):
        mark = self.__dict__.get("stream_marks", {}).get(sid)
        pending = self.__dict__.get("stream_pending")
        if mark is not None and pending is not None:
            del pending[mark:]
        return super()._savepoint_rollback(sid)

    def _savepoint_commit(self, sid):
        result = super()._savepoint_commit(sid)
        # Under a test case's transaction (which never commits) the outermost block of
        # the code under test ends here: write its events now, as a COMMIT would (so the
        # queries are counted); nothing is published, as nothing commits.
        if self.__dict__.get("stream_pending") and all(
            getattr(block, "_from_testcase", False) for block in self.atomic_blocks
        ):
            flush(self)
        return result

    def _commit(self):
        rows = flush(self) if self.__dict__.get("stream_pending") else []
        result = super()._commit()
        if rows:
            _publish(rows)
        return result

    def _rollback(self):
        self.__dict__.pop("stream_pending", None)
        self.__dict__.pop("stream_marks", None)
        return super()._rollback()


def _publish(rows) -> None:
    from exchange.streams.relay import publish

    try:
        publish(rows)
    except Exception:  # the rows are committed: the relay's sweep delivers them
        logger.exception("event=stream_publish_failed rows=%s", len(rows))
