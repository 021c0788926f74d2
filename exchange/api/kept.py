"""Reference rows a web process keeps for NETWORK_CACHE_SECONDS at most (networks by
id, markets by name): a change saved in this process clears them at once, one saved
elsewhere is seen within that time. What must be fresh (a market's status, the kill
switch) the services read again with the rows they lock."""

import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from django.conf import settings

Row = TypeVar("Row")


class KeptRows(Generic[Row]):
    def __init__(self, *, keep_missing: bool):
        # keep_missing False: only rows found are kept, so made-up keys cannot grow it.
        self._keep_missing = keep_missing
        self._rows: dict[Hashable, tuple[float, Row | None]] = {}

    def get(self, key: Hashable, load: Callable[[], Row | None]) -> Row | None:
        cached = self._rows.get(key)
        if cached is not None and time.monotonic() - cached[0] < settings.NETWORK_CACHE_SECONDS:
            return cached[1]
        row = load()
        if row is not None or self._keep_missing:
            self._rows[key] = (time.monotonic(), row)
        return row

    def forget(self) -> None:
        self._rows.clear()
