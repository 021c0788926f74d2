"""uvicorn's sans-I/O websockets protocol with a way to write ready-made frames straight
to the socket (docs/streams.md, Serving).

The streams' hub (exchange/api/streams/consumer.py) encodes each event's frame once
(exchange/streams/frames.py): an unmasked server text frame without extensions is the
same bytes for every client. Through the ASGI send path each subscriber's event would
still go through its own queue, task, `websocket.send` message and frame encoding; this
protocol offers the ASGI scope extension "relayer.frames" instead, whose `write(frame)`
is one transport.write(). The consumer finds it in the scope (exchange does not import
relayer) and falls back to the ASGI send path under any other server.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

EXTENSION = "relayer.frames"


class Frames:
    """The "relayer.frames" extension of one connection."""

    __slots__ = ("protocol",)

    def __init__(self, protocol: StreamSocketProtocol):
        self.protocol = protocol

    def write(self, frame: bytes) -> None:
        """Writes whole, encoded WebSocket frames; nothing once the connection closes."""
        protocol = self.protocol
        if protocol.close_sent or protocol.disconnected or protocol.transport.is_closing():
            return
        protocol.transport.write(frame)

    def buffered(self) -> int:
        """Bytes written and not yet taken by the kernel."""
        return self.protocol.transport.get_write_buffer_size()

    def close(self, code: int, reason: str = "") -> None:
        """Sends a close frame now (never waiting for the write buffer to drain), tells
        the application (websocket.disconnect), and drops the connection if the client
        has not answered within uvicorn's close timeout."""
        protocol = self.protocol
        if protocol.close_sent or protocol.transport.is_closing():
            return
        protocol.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
        protocol.conn.send_close(code, reason)
        protocol.transport.write(b"".join(protocol.conn.data_to_send()))
        protocol.close_sent = True
        if protocol.read_paused:
            protocol.read_paused = False
            protocol.transport.resume_reading()
        protocol.close_timer = protocol.loop.call_later(
            protocol.close_timeout, protocol.transport.close
        )


class StreamSocketProtocol(WebSocketsSansIOProtocol):
    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        # Only an accepted upgrade has a scope; frames written raw must not need an
        # extension's per-connection state (per-message deflate is off in relayer/serve.py).
        scope = getattr(self, "scope", None)
        if scope is not None and not self.conn.extensions:
            scope["extensions"][EXTENSION] = Frames(self)
