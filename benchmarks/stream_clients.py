"""WebSocket subscribers for the streams benchmark (benchmarks/streams.py), one process
of many: `python -m benchmarks.stream_clients HOST PORT PATH COUNT OUT CHANNEL...`.

Connects COUNT clients (at most CONNECT_AT_ONCE upgrades in flight), subscribes each to
the CHANNELs, prints `ready <connected> <failed> <first error>` and records every
event's channel, sequence and arrival time (time.time()). On `stop <last>...` from
stdin (the last sequence of each channel) it waits until every client has them (or
nothing arrived for IDLE_SECONDS), writes [(channels, sequences, arrivals)] per client
to OUT (pickle) and exits.

A minimal RFC 6455 client on asyncio's Protocol (no library): a frame costs a header
parse and a search for its sequence, so one process takes far more messages per second
than a full client library would, and the figures measure the server, not the
clients. Like a browser it offers permessage-deflate (and inflates the frames the
server compressed); it answers pings (the server's keepalive).
"""

import asyncio
import base64
import json
import os
import pickle
import struct
import sys
import time
import zlib
from array import array

CONNECT_AT_ONCE = 50
IDLE_SECONDS = 20.0


def _masked(opcode: int, payload: bytes) -> bytes:
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    else:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    return header + mask + body


class Subscriber(asyncio.Protocol):
    def __init__(self, host: str, path: str, subscribe: bytes, names: list[str]):
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            # As browsers do: the server decides whether frames are compressed.
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n\r\n"
        ).encode()
        self.subscribe, self.names = subscribe, names
        self.buffer = b""
        self.upgraded = False
        self.subscribed = asyncio.get_running_loop().create_future()
        self.channels, self.sequences, self.arrivals = array("b"), array("q"), array("d")
        self.last_at = time.time()
        self.inflater = zlib.decompressobj(-zlib.MAX_WBITS)

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc) -> None:
        if not self.subscribed.done():
            self.subscribed.set_exception(ConnectionError(f"closed: {exc}"))

    def data_received(self, data: bytes) -> None:
        at = time.time()
        buffer = self.buffer + data
        if not self.upgraded:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                self.buffer = buffer
                return
            if not buffer.startswith(b"HTTP/1.1 101"):
                self.subscribed.set_exception(ConnectionError(buffer[:80].decode("latin-1")))
                self.transport.close()
                return
            self.upgraded = True
            buffer = buffer[end + 4 :]
            self.transport.write(_masked(0x1, self.subscribe))
        self.buffer = self._frames(buffer, at)

    def _frames(self, buffer: bytes, at: float) -> bytes:
        offset, size = 0, len(buffer)
        while size - offset >= 2:
            compressed = buffer[offset] & 0x40
            opcode, length = buffer[offset] & 0x0F, buffer[offset + 1] & 0x7F
            start = offset + 2
            if length == 126:
                if size - start < 2:
                    break
                (length,) = struct.unpack_from("!H", buffer, start)
                start += 2
            elif length == 127:
                if size - start < 8:
                    break
                (length,) = struct.unpack_from("!Q", buffer, start)
                start += 8
            if size - start < length:
                break
            payload = buffer[start : start + length]
            if compressed:
                payload = self.inflater.decompress(payload + b"\x00\x00\xff\xff")
            offset = start + length
            if opcode == 0x1:
                self._text(payload, at)
            elif opcode == 0x9:
                self.transport.write(_masked(0xA, payload))
            elif opcode == 0x8:
                self.transport.close()
        return buffer[offset:]

    def _text(self, payload: bytes, at: float) -> None:
        if not self.subscribed.done():
            reply = json.loads(payload)
            if reply.get("op") == "subscribed":
                self.subscribed.set_result(True)
            else:
                self.subscribed.set_exception(ConnectionError(payload[:200].decode()))
            return
        channel_at = payload.find(b'"channel":"') + 11
        channel = payload[channel_at : payload.find(b'"', channel_at)].decode()
        sequence_at = payload.find(b'"sequence":', channel_at) + 11
        self.channels.append(self.names.index(channel))
        self.sequences.append(int(payload[sequence_at : payload.find(b",", sequence_at)]))
        self.arrivals.append(at)
        self.last_at = at


async def main(host: str, port: int, path: str, count: int, out: str, names: list[str]):
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(CONNECT_AT_ONCE)
    subscribe = json.dumps({"op": "subscribe", "id": 1, "channels": names}).encode()
    clients: list[Subscriber] = []
    failures: list[str] = []

    async def connect() -> None:
        async with gate:
            try:
                _transport, client = await loop.create_connection(
                    lambda: Subscriber(f"{host}:{port}", path, subscribe, names), host, port
                )
                await asyncio.wait_for(client.subscribed, 120)
                clients.append(client)
            except Exception as error:
                failures.append(repr(error)[:200])

    await asyncio.gather(*(connect() for _ in range(count)))
    print(f"ready {len(clients)} {len(failures)} {failures[0] if failures else '-'}", flush=True)
    line = await loop.run_in_executor(None, sys.stdin.readline)
    last = [int(value) for value in line.split()[1:]]
    while not _complete(clients, last):
        if time.time() - max((c.last_at for c in clients), default=0) > IDLE_SECONDS:
            break
        await asyncio.sleep(0.2)
    with open(out, "wb") as handle:
        pickle.dump(
            [(list(c.channels), list(c.sequences), list(c.arrivals)) for c in clients], handle
        )


def _complete(clients: list[Subscriber], last: list[int]) -> bool:
    """Every client has the last sequence of every channel (events arrive in order)."""
    for client in clients:
        seen: dict[int, int] = {}
        for index in range(len(client.sequences) - 1, -1, -1):
            seen.setdefault(client.channels[index], client.sequences[index])
            if len(seen) == len(last):
                break
        if any(seen.get(i, 0) < value for i, value in enumerate(last)):
            return False
    return True


if __name__ == "__main__":
    host, port, path, count, out, *names = sys.argv[1:]
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main(host, int(port), path, int(count), out, names))
