"""Frames encoded once per event, shared by every subscriber (docs/streams.md, Serving).

An event's JSON text (shared/STREAMS.md) is built once per event and channel, and, for
connections written straight to their socket (relayer/stream_socket.py), so is the
WebSocket frame: an unmasked server text frame without extensions (per-message deflate
is off, relayer/serve.py) is the same bytes for every client.
"""

import json


def event_text(channel: str, sequence: int, type_: str, data_json: str) -> str:
    """The event frame's JSON text, `data_json` being the data's compact JSON."""
    return (
        f'{{"op":"event","channel":{json.dumps(channel)},"sequence":{sequence},'
        f'"type":"{type_}","data":{data_json}}}'
    )


def text_frame(payload: bytes) -> bytes:
    """RFC 6455 text frame, FIN set, unmasked (server to client), `payload` UTF-8."""
    length = len(payload)
    if length < 126:
        header = bytes((0x81, length))
    elif length < 1 << 16:
        header = bytes((0x81, 126)) + length.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + length.to_bytes(8, "big")
    return header + payload


class Frame:
    """One outgoing message: its text (the ASGI send path) and, built on first use, its
    WebSocket frame bytes (the direct socket path)."""

    __slots__ = ("_wire", "text")

    def __init__(self, text: str):
        self.text = text
        self._wire: bytes | None = None

    @property
    def wire(self) -> bytes:
        wire = self._wire
        if wire is None:
            wire = self._wire = text_frame(self.text.encode())
        return wire
