"""The outbox's write at the end of a transaction (exchange/streams/outbox.py): the
events of several channels, interleaved, keep their order (ids), each channel's
sequences go on from its counter without a gap, and the data is stored as given, in
one statement on PostgreSQL whatever the number of events."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from exchange.models import StreamCounter, StreamEvent
from exchange.streams.outbox import emit

pytestmark = pytest.mark.django_db

AWKWARD = {
    "quote": 'say "hi" \\ back\\slash {braces}, commas',
    "unicode": "é ✓ \u2028 𝄞",
    "big": 2**256 - 1,
    "negative": -7,
    "decimal": "0.000000000000000001",
    "nested": {"list": [1, None, True, False, {"x": ""}], "empty": []},
    "null": None,
}


def test_interleaved_events_keep_their_order_sequences_and_data(network):
    a, b, c = "book:ETH_TST", 'account:0x"odd" channel', "trades:ÉTH"
    with transaction.atomic():
        emit(network.id, a, "one", {"n": 1})
    written = [(b, "two", AWKWARD), (a, "three", {"n": 3}), (c, "four", {}), (a, "five", [])]
    with CaptureQueriesContext(connection) as captured, transaction.atomic():
        for channel, type_, data in written:
            emit(network.id, channel, type_, data)

    if connection.vendor == "postgresql":
        writes = [q["sql"] for q in captured.captured_queries if "exchange_stream" in q["sql"]]
        assert len(writes) == 1
    rows = list(
        StreamEvent.objects.order_by("id").values_list("channel", "sequence", "type", "data")
    )
    key = f"{network.id}/"
    assert rows == [
        (key + a, 1, "one", {"n": 1}),
        (key + b, 1, "two", AWKWARD),
        (key + a, 2, "three", {"n": 3}),
        (key + c, 1, "four", {}),
        (key + a, 3, "five", []),
    ]
    assert dict(StreamCounter.objects.values_list("channel", "sequence")) == {
        key + a: 3,
        key + b: 1,
        key + c: 1,
    }


def test_many_events_in_one_transaction_are_numbered_without_a_gap(network):
    with transaction.atomic():
        for index in range(120):
            emit(network.id, f"channel:{index % 7}", "n", {"index": index})
    with transaction.atomic():
        emit(network.id, f"channel:{120 % 7}", "n", {"index": 120})

    for channel in range(7):
        rows = StreamEvent.objects.filter(channel=f"{network.id}/channel:{channel}")
        indexes = [
            data["index"] for data in rows.order_by("sequence").values_list("data", flat=True)
        ]
        sequences = list(rows.order_by("sequence").values_list("sequence", flat=True))
        expected = [i for i in range(121) if i % 7 == channel]
        assert indexes == expected
        assert sequences == list(range(1, len(expected) + 1))
    assert list(StreamEvent.objects.order_by("id").values_list("data", flat=True)) == [
        {"index": index} for index in range(121)
    ]
