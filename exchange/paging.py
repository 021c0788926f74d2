from dataclasses import dataclass
from typing import Protocol, Self, TypeVar

from exchange.records import Record

# SQL's OFFSET and LIMIT are 64-bit: a page beyond them is past the end of any table.
_MAX_ROW = 2**63 - 1


class Sliceable(Protocol):
    """A query set or a list: what a page is cut from."""

    def __getitem__(self, key: slice, /) -> Self: ...


_Rows = TypeVar("_Rows", bound=Sliceable)


@dataclass(frozen=True)
class PageRequest:
    """A 1-based page of per_page records, as validated by the API."""

    page: int
    per_page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    @property
    def past_any_table(self) -> bool:
        """True when the page ends beyond SQL's 64-bit OFFSET and LIMIT."""
        return self.offset + self.per_page > _MAX_ROW

    def slice(self, rows: _Rows) -> _Rows:
        end = self.offset + self.per_page
        if end > _MAX_ROW:
            return rows[:0]
        return rows[self.offset : end]

    def envelope(self, total: int, records: list[Record]) -> Record:
        return {"total": total, "page": self.page, "per_page": self.per_page, "records": records}

    def envelope_json(self, total: int, records_json: bytes) -> bytes:
        """envelope() as the API renders it (compact JSON), around records already
        rendered: their JSON texts joined with commas."""
        return b'{"total":%d,"page":%d,"per_page":%d,"records":[%b]}' % (
            total,
            self.page,
            self.per_page,
            records_json,
        )
