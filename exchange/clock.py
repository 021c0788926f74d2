import time


def now_ms() -> int:
    """The current Unix time in milliseconds, the unit of nonces and order expiries."""
    return int(time.time() * 1000)
