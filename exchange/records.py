"""The shape of what the API answers: JSON values, and a record (one JSON object).

Amounts and prices are decimal strings in the spec, so a Decimal is no Json: mypy then
flags one that would reach a response unconverted. Sequence and Mapping (read-only, so
covariant) let a list of records be a Json value."""

from collections.abc import Mapping, Sequence

Json = str | int | float | bool | None | Sequence["Json"] | Mapping[str, "Json"]
Record = dict[str, Json]
