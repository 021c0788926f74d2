"""The WebSocket API at /ws (shared/STREAMS.md, docs/streams.md): one hub per process,
one StreamConsumer per connection.

The hub (one per ASGI process, on its event loop) keeps, for every channel that a
connection of this process subscribes to, the set of subscribers and the last sequence
it delivered. Rows reach it three ways, all idempotent:

- from this process's own commits, at once (relay.local_hub);
- from other processes' commits through the Channels layer (Redis), one message per
  commit batch on the group "streams";
- from its sweep, every STREAMS_SWEEP_MS: the counters of its channels read in one
  query, and the rows past what it delivered read from the outbox. Without Redis this
  is how the Celery worker's events reach the web process: a cost of one small query
  per sweep per process, whatever the number of connections.

A row at or below the channel's last delivered sequence is dropped (seen already); a
row past the next one means rows are missing in between: they are committed (a
channel's sequences commit in order under its counter's lock), so the hub reads them
from the outbox and delivers everything in order. Each event's frame is encoded once
(exchange/streams/frames.py) and, under relayer/serve.py, its WebSocket frame bytes
written by the hub straight to each subscriber's socket (the "relayer.frames" ASGI
extension, relayer/stream_socket.py); under another server it goes on each
subscriber's queue, drained by the connection's writer task. A client whose unsent
frames pass STREAMS_SEND_BUFFER_BYTES is closed with 1008; it only fills its own buffer. The database is read in worker threads (sync_to_async), never on the loop.
"""

import asyncio
import json
import logging
import re
from collections import defaultdict
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import close_old_connections

from exchange.api.errors import Code, FieldCode
from exchange.models import CANDLE_PERIODS, Market
from exchange.streams import relay
from exchange.streams.frames import Frame, event_text
from exchange.streams.outbox import channel_key

logger = logging.getLogger(__name__)

MAX_CHANNELS = 50
MAX_FRAME_BYTES = 64 * 1024
BOOK_SNAPSHOT_ORDERS = 100
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


def _frame(channel: str, sequence: int, type_: str, data_json: str) -> Frame:
    return Frame(event_text(channel, sequence, type_, data_json))


def _db(function):
    """A database read in a worker thread, with Django's connection hygiene."""

    def run(*args, **kwargs):
        close_old_connections()
        try:
            return function(*args, **kwargs)
        finally:
            close_old_connections()

    return sync_to_async(run, thread_sensitive=False)


def _rows_between(key: str, after: int, before: int | None) -> list[tuple]:
    from exchange.models import StreamEvent

    events = StreamEvent.objects.filter(channel=key, sequence__gt=after)
    if before is not None:
        events = events.filter(sequence__lt=before)
    rows = events.order_by("sequence").values_list("id", "channel", "sequence", "type", "data")
    return [(id_, k, seq, t, json.dumps(d, separators=(",", ":"))) for id_, k, seq, t, d in rows]


def _counters(keys: list[str]) -> dict[str, int]:
    from exchange.streams.snapshots import channel_sequences

    return channel_sequences(keys)


class Hub:
    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.subscribers: dict[str, set[Client]] = {}
        self.last: dict[str, int] = {}
        self.repairing: dict[str, list[tuple]] = {}
        self.tasks: list[asyncio.Task] = []

    # Rows in -----------------------------------------------------------------

    def rows_from_thread(self, rows: list[tuple]) -> None:
        self.loop.call_soon_threadsafe(self.receive, rows)

    def receive(self, rows) -> None:
        by_key: dict[str, list[tuple]] = defaultdict(list)
        for row in rows:
            if row[1] in self.subscribers:
                by_key[row[1]].append(tuple(row))
        for key, key_rows in by_key.items():
            self._offer(key, key_rows)

    def _offer(self, key: str, rows: list[tuple]) -> None:
        subscribers = self.subscribers.get(key)
        if subscribers is None:
            return
        if key in self.repairing:
            self.repairing[key].extend(rows)
            return
        last = self.last[key]
        fresh = sorted({row[2]: row for row in rows if row[2] > last}.items())
        for index, (sequence, row) in enumerate(fresh):
            if sequence != last + 1:
                # A gap: the rows before `sequence` are committed; read them, then go on.
                self.repairing[key] = [r for _s, r in fresh[index:]]
                self._spawn(self._repair(key, last, sequence))
                break
            frame = _frame(key.split("/", 1)[1], sequence, row[3], row[4])
            for client in tuple(subscribers):
                client.push(key, sequence, frame)
            last = sequence
        self.last[key] = last

    async def _repair(self, key: str, after: int, before: int | None) -> None:
        try:
            rows = await _db(_rows_between)(key, after, before)
        except Exception:
            logger.exception("event=stream_repair_failed channel=%s", key)
            rows = []
        buffered = self.repairing.pop(key, [])
        if key not in self.subscribers:
            return
        if before is not None and (not rows or rows[-1][2] != before - 1):
            # Not in the outbox (pruned): the clients see the gap and resync.
            logger.warning("event=stream_rows_missing channel=%s after=%s", key, after)
            self.last[key] = max(self.last[key], before - 1)
        self._offer(key, rows + buffered)

    def _spawn(self, coroutine) -> None:
        task = self.loop.create_task(coroutine)
        self.tasks.append(task)
        task.add_done_callback(self.tasks.remove)

    # Subscribers ---------------------------------------------------------------

    async def subscribe(self, client: "Client", key: str, sequence: int) -> None:
        """Adds `client` to `key` from `sequence` on: the events after it reach it."""
        client.last[key] = sequence
        if key not in self.subscribers:
            self.subscribers[key] = set()
            self.last[key] = sequence
        # The hub is ahead of the client's snapshot: read what it missed, until caught up.
        while self.last[key] > client.last[key]:
            target = self.last[key]
            rows = await _db(_rows_between)(key, client.last[key], target + 1)
            for _id, _key, seq, type_, data in rows:
                client.push(key, seq, _frame(key.split("/", 1)[1], seq, type_, data))
            if not rows or rows[-1][2] < target:
                client.last[key] = target  # pruned: the client sees a gap
            if key not in self.subscribers:
                self.subscribers[key] = set()
                self.last[key] = client.last[key]
        self.subscribers[key].add(client)

    def unsubscribe(self, client: "Client", key: str) -> None:
        client.last.pop(key, None)
        subscribers = self.subscribers.get(key)
        if subscribers is None:
            return
        subscribers.discard(client)
        if not subscribers:
            del self.subscribers[key]
            self.last.pop(key, None)
            self.repairing.pop(key, None)

    # Background ------------------------------------------------------------------

    def start(self) -> None:
        relay.local_hub = self.rows_from_thread
        self._spawn(self._sweep())
        if settings.STREAMS_LAYER_PUBLISH:
            self._spawn(self._listen())

    async def _sweep(self) -> None:
        interval = settings.STREAMS_SWEEP_MS / 1000
        while True:
            await asyncio.sleep(interval)
            keys = [key for key in self.subscribers if key not in self.repairing]
            if not keys:
                continue
            try:
                counters = await _db(_counters)(keys)
            except Exception:
                logger.exception("event=stream_sweep_failed")
                continue
            for key, sequence in counters.items():
                last = self.last.get(key)
                if last is not None and sequence > last and key not in self.repairing:
                    self.repairing[key] = []
                    self._spawn(self._repair(key, last, sequence + 1))

    async def _listen(self) -> None:
        from channels.layers import get_channel_layer

        layer = get_channel_layer()
        if layer is None:  # no CHANNEL_LAYERS configured: nothing to listen to
            logger.error("event=stream_listen_without_layer")
            return
        while True:
            try:
                # Both layers used here (Redis, in-memory) take a prefix; types-channels'
                # BaseChannelLayer.new_channel does not declare it.
                name = await layer.new_channel("streams-hub.")  # type: ignore[call-arg]
                await layer.group_add(relay.GROUP, name)
                joined = self.loop.time()
                while True:
                    message = await layer.receive(name)
                    self.receive(message["rows"])
                    if self.loop.time() - joined > 60:  # the group's membership expires
                        await layer.group_add(relay.GROUP, name)
                        joined = self.loop.time()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("event=stream_layer_failed")
                await asyncio.sleep(1)


_hub: Hub | None = None


def hub() -> Hub:
    global _hub
    loop = asyncio.get_running_loop()
    if _hub is None or _hub.loop is not loop:
        _hub = Hub(loop)
        _hub.start()
    return _hub


class Client:
    """One connection's side of the hub: its channels' sequences and how its frames reach
    its socket (SocketClient or QueueClient). A connection whose unsent frames exceed
    `limit` bytes is a client that stopped reading: `on_overflow` closes it with 1008."""

    def __init__(self, limit: int, on_overflow):
        self.last: dict[str, int] = {}
        self.limit = limit
        self.on_overflow = on_overflow
        self.overflowed = False

    def push(self, key: str, sequence: int, frame: Frame) -> None:
        if self.overflowed or sequence <= self.last.get(key, sequence - 1):
            return
        self.last[key] = sequence
        self.put(frame)

    def send(self, text: str) -> None:
        self.put(Frame(text))

    def put(self, frame: Frame) -> None:
        raise NotImplementedError

    def overflow(self) -> None:
        self.overflowed = True
        self.on_overflow()


class SocketClient(Client):
    """Frames written straight to the connection's socket by whoever has them (the hub,
    for events: no queue, no task), through the server's "relayer.frames" ASGI extension
    (relayer/stream_socket.py): write(bytes), buffered() -> int, close(code)."""

    def __init__(self, socket, limit: int, on_overflow):
        super().__init__(limit, on_overflow)
        self.socket = socket

    def put(self, frame: Frame) -> None:
        if self.overflowed:
            return
        socket = self.socket
        socket.write(frame.wire)
        if socket.buffered() > self.limit:
            self.overflow()


class QueueClient(Client):
    """The ASGI send path, under a server without the extension: a queue drained by the
    connection's writer task (StreamConsumer._write)."""

    def __init__(self, limit: int, on_overflow):
        super().__init__(limit, on_overflow)
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.queued = 0  # characters in the queue

    def put(self, frame: Frame) -> None:
        if self.overflowed:
            return
        self.queued += len(frame.text)
        if self.queued > self.limit:
            self.overflow()
            return
        self.queue.put_nowait(frame.text)


class BadChannels(Exception):
    def __init__(
        self, reason: str, field: str = "channels", code: int = FieldCode.INCORRECT_FORMAT
    ):
        super().__init__(reason)
        self.field, self.code, self.reason = field, code, reason


def _error(id_, code: int, reason: str, errors: list | None = None) -> str:
    body = {"op": "error", "id": id_, "code": int(code), "reason": reason}
    if errors is not None:
        body["validationErrors"] = errors
    return json.dumps(body)


def _validation(id_, field: str, code: int, reason: str) -> str:
    return _error(
        id_,
        Code.VALIDATION_FAILED,
        "Validation failed",
        [{"field": field, "code": int(code), "reason": reason}],
    )


# Channel parsing and the first frames -----------------------------------------------


def _parse_channels(network, names, scope: dict) -> list[tuple[str, str, Market | None]]:
    """(channel as named in frames, kind, argument) for each name, or BadChannels.
    `operator` exists only for a staff member's connection (exchange/streams/operator.py)."""
    from exchange.api.errors import FieldError
    from exchange.api.markets import market_from_name
    from exchange.streams import operator

    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise BadChannels(
            "channels must be a non-empty array of strings", code=FieldCode.INCORRECT_FORMAT
        )
    parsed: list[tuple[str, str, Market | None]] = []
    for name in names:
        kind, _sep, rest = name.partition(":")
        if name == operator.CHANNEL and operator.staff_connection(scope):
            parsed.append((name, kind, None))
            continue
        if kind == "account":
            if not _ADDRESS.match(rest):
                raise BadChannels(f"{name}: not an address", code=FieldCode.INVALID_ADDRESS)
            parsed.append((f"account:{rest.lower()}", kind, None))
            continue
        if kind not in ("book", "trades", "ticker", "candles") or not rest:
            raise BadChannels(f"unknown channel {name}", code=FieldCode.UNSUPPORTED_OPTION)
        market_name, _sep, period = rest.partition(":")
        try:
            market = market_from_name(network, market_name)
        except FieldError:
            raise BadChannels(
                f"unknown market {market_name}", code=FieldCode.UNSUPPORTED_OPTION
            ) from None
        if kind == "candles":
            if not period.isdigit() or int(period) not in CANDLE_PERIODS:
                raise BadChannels(
                    f"{name}: the period must be one of {', '.join(map(str, CANDLE_PERIODS))}",
                    code=FieldCode.UNSUPPORTED_OPTION,
                )
            parsed.append((f"candles:{market.name}:{int(period)}", kind, market))
        elif period:
            raise BadChannels(f"unknown channel {name}", code=FieldCode.UNSUPPORTED_OPTION)
        else:
            parsed.append((f"{kind}:{market.name}", kind, market))
    return parsed


def _starts(network_id: int, parsed: list) -> list[tuple[str, int, str | None]]:
    """Each channel's key, its current sequence and, for a book, its snapshot frame
    (read with the sequence it shows)."""
    from exchange.paging import PageRequest
    from exchange.selectors.orders import orderbook_read
    from exchange.streams.snapshots import channel_sequence, channel_sequences, consistent_read

    out: list[tuple[str, int, str | None]] = []
    plain = [channel for channel, kind, _arg in parsed if kind != "book"]
    sequences = channel_sequences([channel_key(network_id, c) for c in plain]) if plain else {}
    for channel, kind, argument in parsed:
        key = channel_key(network_id, channel)
        if kind != "book":
            out.append((key, sequences.get(key, 0), None))
            continue
        with consistent_read():
            sequence = channel_sequence(network_id, channel)
            book, _expiry = orderbook_read(
                market=argument, page=PageRequest(1, BOOK_SNAPSHOT_ORDERS)
            )
        data = {"bids": book["bids"]["records"], "asks": book["asks"]["records"]}
        frame = (
            f'{{"op":"event","channel":{json.dumps(channel)},"sequence":{sequence},'
            f'"type":"snapshot","data":{json.dumps(data, separators=(",", ":"))}}}'
        )
        out.append((key, sequence, frame))
    return out


def _network(query_string: bytes):
    from exchange.api.errors import FieldError
    from exchange.api.networks import network_from_params

    params = {k: v[-1] for k, v in parse_qs(query_string.decode("latin-1")).items()}
    try:
        return network_from_params(params), None
    except FieldError as error:
        return None, (int(error.code), error.reason)


class StreamConsumer(AsyncWebsocketConsumer):
    # No per-connection channel in the layer: the hub listens once per process.
    channel_layer_alias = "streams-none"

    async def connect(self):
        self.keys: set[str] = set()
        self.writer = None
        self.ready = False
        network, problem = await _db(_network)(self.scope.get("query_string", b""))
        await self.accept()
        if network is None:
            code, reason = problem
            await self.send(text_data=_validation(None, "networkId", code, reason))
            await self.close(code=4400)
            return
        self.network = network
        self.hub = hub()
        limit = settings.STREAMS_SEND_BUFFER_BYTES
        socket = self.scope.get("extensions", {}).get("relayer.frames")
        self.client: Client
        if socket is not None:
            self.client = SocketClient(socket, limit, self._overflow)
        else:
            self.client = QueueClient(limit, self._overflow)
            self.writer = asyncio.get_running_loop().create_task(self._write(self.client))
        self.ready = True

    async def _write(self, client: QueueClient):
        queue = client.queue
        while True:
            text = await queue.get()
            await self.send(text_data=text)
            client.queued -= len(text)

    def _overflow(self):
        # A client that stops reading: closed with 1008 (its unsent frames are over the limit).
        logger.warning("event=stream_client_slow path=/ws")
        if isinstance(self.client, SocketClient):
            self.client.socket.close(1008)
            return
        self.writer.cancel() if self.writer else None
        asyncio.get_running_loop().create_task(self.close(code=1008))

    async def disconnect(self, code):
        if self.writer is not None:
            self.writer.cancel()
        if getattr(self, "ready", False):
            self.client.overflowed = True  # nothing more to write
        for key in list(getattr(self, "keys", ())):
            self.hub.unsubscribe(self.client, key)
        self.keys = set()

    async def receive(self, text_data=None, bytes_data=None):
        if not self.ready:
            return
        if text_data is None:
            self.client.send(_error(None, Code.MALFORMED_JSON, "Frames are JSON text"))
            return
        try:
            message = json.loads(text_data)
        except ValueError:
            self.client.send(_error(None, Code.MALFORMED_JSON, "The frame is not JSON"))
            return
        if not isinstance(message, dict):
            self.client.send(
                _validation(None, "op", FieldCode.INCORRECT_FORMAT, "A frame is a JSON object")
            )
            return
        id_ = message.get("id")
        if id_ is not None and (isinstance(id_, bool) or not isinstance(id_, int | str)):
            self.client.send(
                _validation(None, "id", FieldCode.INCORRECT_FORMAT, "id is a string or an integer")
            )
            return
        op = message.get("op")
        if op == "ping":
            self.client.send(json.dumps({"op": "pong", "id": id_}))
        elif op == "subscribe":
            await self._subscribe(id_, message.get("channels"))
        elif op == "unsubscribe":
            await self._unsubscribe(id_, message.get("channels"))
        else:
            self.client.send(
                _validation(
                    id_, "op", FieldCode.UNSUPPORTED_OPTION, "op is subscribe, unsubscribe or ping"
                )
            )

    async def _subscribe(self, id_, names):
        try:
            parsed = await _db(_parse_channels)(self.network, names, self.scope)
        except BadChannels as bad:
            self.client.send(_validation(id_, bad.field, bad.code, bad.reason))
            return
        new = [
            p for p in dict.fromkeys(parsed) if channel_key(self.network.id, p[0]) not in self.keys
        ]
        if len(self.keys) + len(new) > MAX_CHANNELS:
            self.client.send(
                _validation(
                    id_,
                    "channels",
                    FieldCode.OUT_OF_RANGE,
                    f"At most {MAX_CHANNELS} channels per connection",
                )
            )
            return
        starts = await _db(_starts)(self.network.id, new)
        self.client.send(
            json.dumps({"op": "subscribed", "id": id_, "channels": [p[0] for p in parsed]})
        )
        for key, sequence, snapshot in starts:
            self.keys.add(key)
            if snapshot is not None:
                self.client.send(snapshot)
            await self.hub.subscribe(self.client, key, sequence)

    async def _unsubscribe(self, id_, names):
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            self.client.send(
                _validation(
                    id_,
                    "channels",
                    FieldCode.INCORRECT_FORMAT,
                    "channels must be an array of strings",
                )
            )
            return
        for name in names:
            kind, _sep, rest = name.partition(":")
            name = f"account:{rest.lower()}" if kind == "account" else name
            key = channel_key(self.network.id, name)
            if key in self.keys:
                self.keys.discard(key)
                self.hub.unsubscribe(self.client, key)
        self.client.send(json.dumps({"op": "unsubscribed", "id": id_, "channels": names}))
