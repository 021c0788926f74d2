"""A free TCP port on the loopback interface, for the processes the demo, the tests and
the benchmark start (anvil, gunicorn, redis-server)."""

import socket


def free_port() -> int:
    """A port nothing listens on now (the OS picks it; another process may take it
    before the caller binds it, so callers that can retry do)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
