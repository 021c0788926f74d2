"""Reference rows a web process keeps for NETWORK_CACHE_SECONDS at most (networks by
id, markets by name): a change saved in this process clears them at once, one saved
elsewhere is seen within that time. What must be fresh (a market's status, the kill
switch) the services read again with the rows they lock.

Rows found are as many as the table has. Keys found missing (made-up networkIds) are
kept, when kept at all, only in a small LRU of MISSING_KEPT entries: random keys cannot
grow a process's memory."""

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from django.conf import settings

Row = TypeVar("Row")

MISSING_KEPT = 256


class KeptRows(Generic[Row]):
    def __init__(self, *, keep_missing: bool):
        # keep_missing False: only rows found are kept, so made-up keys cannot grow it.
        self._missing_limit = MISSING_KEPT if keep_missing else 0
        self._rows: dict[Hashable, tuple[float, Row]] = {}
        self._missing: OrderedDict[Hashable, float] = OrderedDict()

    def get(self, key: Hashable, load: Callable[[], Row | None]) -> Row | None:
        now = time.monotonic()
        cached = self._rows.get(key)
        if cached is not None and now - cached[0] < settings.NETWORK_CACHE_SECONDS:
            return cached[1]
        missing_since = self._missing.get(key)
        if missing_since is not None and now - missing_since < settings.NETWORK_CACHE_SECONDS:
            self._missing.move_to_end(key)
            return None
        row = load()
        if row is not None:
            self._rows[key] = (now, row)
            self._missing.pop(key, None)
        elif self._missing_limit:
            self._missing[key] = now
            self._missing.move_to_end(key)
            while len(self._missing) > self._missing_limit:
                self._missing.popitem(last=False)
        return row

    def __len__(self) -> int:
        return len(self._rows) + len(self._missing)

    def forget(self) -> None:
        self._rows.clear()
        self._missing.clear()
