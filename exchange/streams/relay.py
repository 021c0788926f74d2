"""From a commit to the streams' hubs (docs/streams.md).

`publish` runs right after a COMMIT that wrote events (outbox.OutboxConnection) with
the committed rows. They go two ways:

- to this process's hub (exchange/api/streams/consumer.py), when this process serves
  WebSockets (uvicorn: the web app and /ws in one process), at once;
- to every other process's hub through the Channels layer (channels-redis when
  REDIS_URL is set), as one group_send of all the commit's rows to the group
  "streams", from one relay thread per process with its own event loop (the request
  or task that committed only appends to a queue).

Nothing here is needed for correctness, only for speed: each hub also sweeps the
outbox (the counters of the channels it serves, then the rows it has not seen) every
STREAMS_SWEEP_MS, and repairs any gap in a channel's sequence from the outbox, so
a lost publish (a crash between COMMIT and publish, a Redis outage, a full channel)
delays events but never loses them. Without Redis (the embedded `make run`) the sweep
is how the Celery worker's events reach the web process.
"""

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)

GROUP = "streams"
_queue: queue.SimpleQueue = queue.SimpleQueue()
_thread: threading.Thread | None = None
_lock = threading.Lock()

# Set by the hub of a process that serves WebSockets: a callable taking the rows,
# safe to call from any thread.
local_hub: Callable[[list[tuple[Any, ...]]], None] | None = None


def publish(rows: list[tuple]) -> None:
    """Hands committed rows (id, channel key, sequence, type, data JSON) on."""
    hub = local_hub
    if hub is not None:
        hub(rows)
    if settings.STREAMS_LAYER_PUBLISH:
        _ensure_thread()
        _queue.put(rows)


def _ensure_thread() -> None:
    global _thread
    if _thread is not None and _thread.is_alive():
        return
    with _lock:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_run, name="streams-relay", daemon=True)
            _thread.start()


def _run() -> None:
    """Blocks on the queue in this daemon thread itself, never in an executor's worker:
    the interpreter joins executor threads at exit, and one parked on an empty queue
    kept every process that had published (test runs, workers, commands) from exiting."""
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is None:  # no CHANNEL_LAYERS configured: nowhere to publish
        logger.error("event=stream_relay_without_layer")
        return
    loop = asyncio.new_event_loop()  # one loop for the thread: the layer's connections stay
    while True:
        rows = _queue.get()
        while True:  # every commit waiting, in one message
            try:
                rows = rows + _queue.get_nowait()
            except queue.Empty:
                break
        try:
            loop.run_until_complete(layer.group_send(GROUP, {"type": "stream.rows", "rows": rows}))
        except Exception:
            logger.exception("event=stream_relay_failed rows=%s", len(rows))
