"""The web app under uvicorn: REST and the streams' WebSockets (/ws) on one port.

    python -m relayer.serve [--host 0.0.0.0] [--port 8000] [--workers N]

uvicorn rather than daphne: one process serves HTTP/1.1 and WebSockets with the
`websockets` library (relayer/stream_socket.py: uvicorn's sans-I/O protocol, through
which the hub writes encoded frames straight to the sockets), its ping/pong keepalive
and its frame-size limit built in (the 64 KiB limit of shared/STREAMS.md closes with 1009, the ping answers idle
connections), it runs several worker processes itself (--workers), and its event loop
is uvloop's; daphne is Twisted's, one process, and slower per HTTP request
(docs/streams.md). Each worker process has its own streams hub.
"""

import argparse
import os

import uvicorn

from relayer.stream_socket import StreamSocketProtocol

# shared/STREAMS.md, Limits: frames over 64 KiB close with 1009; a connection that does
# not answer a ping (every 30 s) within 30 s more is closed (within 60 s of silence).
WS_MAX_SIZE = 64 * 1024
WS_PING_INTERVAL = 30.0
WS_PING_TIMEOUT = 30.0
# No permessage-deflate: each connection keeps its own compressor, so every event was
# compressed once per subscriber (60% of the fan-out's CPU at 1,000 subscribers, and
# ~120 KiB of zlib state per connection); the frames are small JSON (docs/streams.md).
WS_PER_MESSAGE_DEFLATE = False


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "relayer.settings")
    # Django's ASGI handler runs each request in a thread of its own (ThreadSensitiveContext):
    # a connection kept past the request would never be used again nor closed, and under
    # load the database refuses new ones ("too many clients"): one per request instead.
    os.environ.setdefault("DATABASE_CONN_MAX_AGE", "0")
    uvicorn.run(
        "relayer.asgi:application",
        host=args.host,
        port=args.port,
        workers=args.workers,
        # uvicorn's sans-I/O websockets protocol with the "relayer.frames" extension: the
        # streams' hub writes each event's frame, encoded once, straight to every socket.
        ws=StreamSocketProtocol,
        ws_max_size=WS_MAX_SIZE,
        ws_ping_interval=WS_PING_INTERVAL,
        ws_ping_timeout=WS_PING_TIMEOUT,
        ws_per_message_deflate=WS_PER_MESSAGE_DEFLATE,
        lifespan="off",
        log_level=args.log_level,
        access_log=False,
    )


if __name__ == "__main__":
    main()
