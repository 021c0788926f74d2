"""The consumer's two ways to a socket: SocketClient (the relayer.frames extension of
relayer/serve.py) and QueueClient (the ASGI send path under any other server). Both
close a client with 1008 (on_overflow, once) past the limit and write nothing after."""

import asyncio

from exchange.api.streams.consumer import QueueClient, SocketClient
from exchange.streams.frames import Frame, event_text


class FakeSocket:
    def __init__(self):
        self.written: list[bytes] = []
        self.stuck = 0  # bytes the "kernel" will not take

    def write(self, frame: bytes) -> None:
        self.written.append(frame)

    def buffered(self) -> int:
        return self.stuck

    def close(self, code: int) -> None:
        raise AssertionError("the consumer's on_overflow closes")


def frame(sequence: int) -> Frame:
    return Frame(event_text("trades:ETH_TST", sequence, "trade", f'{{"i":{sequence}}}'))


def test_socket_client_writes_the_shared_bytes_in_order_and_overflows_once():
    socket, overflows = FakeSocket(), []
    client = SocketClient(socket, 1000, lambda: overflows.append(1))
    frames = [frame(s) for s in (1, 2, 2, 1, 3)]  # repeats dropped
    for f in frames:
        client.push("1/trades:ETH_TST", int(f.text.split('"sequence":')[1].split(",")[0]), f)
    assert socket.written == [frames[0].wire, frames[1].wire, frames[4].wire]
    assert socket.written[0] is frames[0].wire  # the frame's bytes, not a copy
    socket.stuck = 1001
    client.push("1/trades:ETH_TST", 4, frame(4))
    client.push("1/trades:ETH_TST", 5, frame(5))
    client.send('{"op":"pong","id":1}')
    assert overflows == [1] and len(socket.written) == 4


def test_queue_client_overflows_past_the_limit_in_characters():
    async def run():
        overflows = []
        client = QueueClient(100, lambda: overflows.append(1))
        client.send("x" * 60)
        client.send("y" * 30)
        assert client.queue.qsize() == 2 and not overflows
        client.send("z" * 20)
        client.send("w")
        assert client.queue.qsize() == 2 and overflows == [1]

    asyncio.run(run())
