from dataclasses import dataclass


@dataclass(frozen=True)
class PageRequest:
    """A 1-based page of per_page records, as validated by the API."""

    page: int
    per_page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    def slice(self, rows):
        return rows[self.offset : self.offset + self.per_page]

    def envelope(self, total: int, records: list) -> dict:
        return {"total": total, "page": self.page, "per_page": self.per_page, "records": records}
