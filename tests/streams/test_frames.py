"""exchange/streams/frames.py: the bytes written to every subscriber are those the
`websockets` library would send for the same text, and the event JSON is unchanged."""

import json

import pytest
from websockets.frames import OP_TEXT
from websockets.frames import Frame as WsFrame

from exchange.streams.frames import Frame, event_text, text_frame


def library_bytes(payload: bytes) -> bytes:
    return WsFrame(OP_TEXT, payload).serialize(mask=False, extensions=[])


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 70000])
def test_text_frame_is_the_libraries_frame(size):
    payload = ("é" * (size // 2) + "x" * (size % 2)).encode()
    assert text_frame(payload) == library_bytes(payload)


def test_event_text_is_the_old_encoding():
    data = {"price": "1.5", "amount": "2", "nested": {"a": [1, None, True]}, "s": 'q"\\é'}
    data_json = json.dumps(data, separators=(",", ":"))
    text = event_text('trades:ETH_"TST', 18, "trade", data_json)
    # The consumer's encoding before frames.py, written out.
    old = '{"op":"event","channel":"trades:ETH_\\"TST","sequence":18,"type":"trade","data":'
    old += data_json + "}"
    assert text == old
    assert json.loads(text) == {
        "op": "event",
        "channel": 'trades:ETH_"TST',
        "sequence": 18,
        "type": "trade",
        "data": data,
    }


def test_a_frame_is_encoded_once():
    frame = Frame(event_text("trades:ETH_TST", 1, "trade", "{}"))
    assert frame.wire is frame.wire
    assert frame.wire == library_bytes(frame.text.encode())
