"""Row updates in one statement, cheap to build (for the write hot paths)."""

import dataclasses
import re
import time
import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

import psycopg
from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.db.models import Field, Model
from django.db.models.expressions import Col, DatabaseDefault
from django.db.models.options import Options

from exchange.models.fields import AddressField, AmountField, HashField
from exchange.models.market_data import VolumeField
from exchange.prepared_statements import prepared_fetchall

_MODIFIERS = re.compile(r"\(.*?\)")
_M = TypeVar("_M", bound=Model)


def rows_update(objs: Sequence[Model], fields: Sequence[str]) -> None:
    """Writes `fields` of each saved object, like QuerySet.bulk_update.

    On PostgreSQL one `UPDATE ... FROM (VALUES ...)`: bulk_update's CASE WHEN
    expressions cost more CPU to build than the statement takes to run. Values go
    through each field's get_db_prep_save, as in a save(); auto_now is not applied.
    """
    if not objs:
        return
    if connection.vendor != "postgresql":
        type(objs[0])._default_manager.bulk_update(objs, fields)
        return
    with connection.cursor() as cursor:
        cursor.execute(*_update_sql(objs, fields))


@dataclasses.dataclass
class Returning:
    """A data-modifying statement for rows_write whose RETURNING rows (`columns` of
    them) the caller wants: rows_write puts them in `rows` (no read of its own). They
    come back through one UNION ALL, so several Returning statements of one call must
    return compatible types column by column."""

    sql: str
    params: list[Any]
    columns: int
    rows: list[tuple[Any, ...]] = dataclasses.field(default_factory=list)


Statement = tuple[str, list[Any]] | Returning


def _statement(statement: Statement) -> tuple[str, list[Any]]:
    if isinstance(statement, Returning):
        return statement.sql, statement.params
    return statement


def rows_write(
    *,
    updates: Sequence[tuple[Sequence[Model], Sequence[str]]] = (),
    inserts: Sequence[Sequence[Model]] = (),
    statements: Sequence[Statement] = (),
) -> None:
    """Several rows_update (objects, fields), bulk inserts (their pks set, or kept if
    every object has one) and other data-modifying statements (sql, params, or a
    Returning; PostgreSQL only) in one statement on PostgreSQL: every part a
    data-modifying CTE (one round trip; a constraint any part violates fails them all).
    The parts see the same snapshot, so no two may touch the same row. Elsewhere one
    statement each, in order."""
    updates = [(objs, fields) for objs, fields in updates if objs]
    inserts = [objs for objs in inserts if objs]
    if connection.vendor != "postgresql":
        assert not statements, "raw statements are for PostgreSQL"
        for objs, fields in updates:
            rows_update(objs, fields)
        for objs in inserts:
            type(objs[0])._default_manager.bulk_create(objs)
        return
    if not inserts:
        for objs, fields in updates:
            rows_update(objs, fields)
        for statement in statements:
            with connection.cursor() as cursor:
                cursor.execute(*_statement(statement))
                if isinstance(statement, Returning):
                    statement.rows = [tuple(row) for row in cursor.fetchall()]
        return
    parts, params = [], []
    for index, statement in enumerate(statements):
        sql, part_params = _statement(statement)
        parts.append(f"s{index} AS ({sql})")
        params += part_params
    for index, (objs, fields) in enumerate(updates):
        sql, part_params = _update_sql(objs, fields)
        parts.append(f"u{index} AS ({sql})")
        params += part_params
    for index, objs in enumerate(inserts):
        sql, part_params = _insert_sql(objs)
        parts.append(f"i{index} AS ({sql})")
        params += part_params
    # Each row: (part, pk of an insert, the columns a Returning statement returned),
    # padded with NULLs to one width; a Returning statement's part is -1 - its index.
    # The widest Returning comes first, so that its columns (and the first insert's pk,
    # cast) type the UNION's: a NULL beside a typed column takes its type.
    returning = sorted(
        (
            (statement.columns, index)
            for index, statement in enumerate(statements)
            if isinstance(statement, Returning)
        ),
        reverse=True,
    )
    width = returning[0][0] if returning else 0
    wrapper = connections[DEFAULT_DB_ALIAS]
    pk_type = _pk(inserts[0][0]).cast_db_type(wrapper)
    selects = [
        f"SELECT {-1 - index}, NULL::{pk_type}, s{index}.*{', NULL' * (width - columns)}"
        f" FROM s{index}"
        for columns, index in returning
    ]
    selects += [
        f"SELECT {index}, {wrapper.ops.quote_name(_column_name(_pk(objs[0])))}"
        f"{', NULL' * width} FROM i{index}"
        for index, objs in enumerate(inserts)
    ]
    rows = _raw_fetchall(f"WITH {', '.join(parts)} {' UNION ALL '.join(selects)}", params)
    for index, statement in enumerate(statements):
        if isinstance(statement, Returning):
            statement.rows = [
                tuple(row[2 : 2 + statement.columns]) for row in rows if row[0] == -1 - index
            ]
    for index, objs in enumerate(inserts):
        pks = [row[1] for row in rows if row[0] == index]
        for obj, pk in zip(objs, pks, strict=True):
            obj.pk = pk
            as_saved(obj)


# _raw_fetchall's numbered texts (and their placeholder counts) by their %s text: a
# request of the same shape (as many fills, fees, candles) sends the same text again.
# Bounded: cleared when full (the texts of one shape are at most a few kilobytes per fill).
_numbered_sql: dict[str, tuple[str, int]] = {}
_NUMBERED_KEPT = 64


def _raw_fetchall(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    """Runs a statement of %s placeholders (no other %) with server-side binding,
    its placeholders numbered here ($1, $2, ...) by one split: a Django cursor binds
    client-side, and psycopg parses such a long statement (more than 50 parameters:
    past its cache) again on every call, which cost more than building it. Every
    placeholder of rows_write's statements is cast or typed by its column, as
    server-side binding needs. The numbered text is kept per %s text (_numbered_sql).
    Errors and connection.queries as prepared_fetchone's."""
    cached = _numbered_sql.get(sql)
    if cached is None:
        pieces = sql.split("%s")
        numbered = (
            "".join(piece + f"${index}" for index, piece in enumerate(pieces[:-1], start=1))
            + pieces[-1]
        )
        if len(_numbered_sql) >= _NUMBERED_KEPT:
            _numbered_sql.clear()
        cached = _numbered_sql[sql] = (numbered, len(pieces) - 1)
    numbered, placeholders = cached
    if placeholders != len(params):
        raise ValueError(f"{placeholders} placeholders for {len(params)} parameters")
    wrapper = connections[DEFAULT_DB_ALIAS]
    wrapper.ensure_connection()
    started = time.monotonic()
    with wrapper.wrap_database_errors, psycopg.RawCursor(wrapper.connection) as cursor:
        cursor.execute(numbered, params)
        rows = cursor.fetchall()
    if wrapper.queries_logged:
        shown = sql % tuple(repr(value) for value in params)
        wrapper.queries_log.append({"sql": shown, "time": f"{time.monotonic() - started:.3f}"})
    return rows


def as_saved(obj: _M) -> _M:
    """Marks an instance built from a row a statement has just written as a saved one
    (the ORM then updates it rather than inserting it again)."""
    obj._state.adding, obj._state.db = False, DEFAULT_DB_ALIAS  # connection.alias
    return obj


def _pk(obj: Model) -> Field[Any, Any]:
    return _pk_of(obj._meta)


def _pk_of(meta: Options[Any]) -> Field[Any, Any]:
    pk = meta.pk
    if not isinstance(pk, Field):
        raise ValueError(f"{meta.db_table} has no primary key column")
    return pk


def _column(meta: Options[Model], name: str) -> Field[Any, Any]:
    field = meta.get_field(name)
    if not isinstance(field, Field):
        raise ValueError(f"{name} is not a column of {meta.db_table}")
    return field


def _column_name(field: Field[Any, Any]) -> str:
    if field.column is None:
        raise ValueError(f"{field} has no column")
    return field.column


def _db_type(field: Field[Any, Any]) -> str:
    db_type = field.db_type(connection)
    if db_type is None:
        raise ValueError(f"{field} has no column type")
    return db_type


_cast_rows: dict[tuple[Field[Any, Any], ...], str] = {}


def _cast_row(fields: Sequence[Field[Any, Any]]) -> str:
    """A VALUES row typed as the columns, without their modifiers: a cast to varchar(n)
    would cut a long string silently, where the column's own check refuses it. Kept
    per process for each list of columns (column types do not change while it runs)."""
    key = tuple(fields)
    row = _cast_rows.get(key)
    if row is None:
        types = [_MODIFIERS.sub("", _db_type(field)) for field in fields]
        row = _cast_rows[key] = "(" + ", ".join(f"%s::{db_type}" for db_type in types) + ")"
    return row


@dataclasses.dataclass(frozen=True)
class _Shape:
    """The fixed parts of an UPDATE or INSERT of one model's rows (kept per process for
    each model and column list): the statement around its VALUES rows, one row, and each
    column's field with its _Prep."""

    head: str
    row: str
    tail: str
    columns: list[tuple[Field[Any, Any], "_Prep"]]

    def sql(self, count: int) -> str:
        return self.head + ", ".join([self.row] * count) + self.tail


_update_shapes: dict[tuple[type[Model], tuple[str, ...]], _Shape] = {}
_insert_shapes: dict[tuple[type[Model], bool], _Shape] = {}


def _update_shape(model: type[Model], fields: Sequence[str]) -> _Shape:
    key = (model, tuple(fields))
    shape = _update_shapes.get(key)
    if shape is None:
        meta, quote = model._meta, connection.ops.quote_name
        columns = [_pk_of(meta)] + [_column(meta, name) for name in fields]
        names = [quote(_column_name(field)) for field in columns]
        pk = names[0]
        shape = _update_shapes[key] = _Shape(
            head=f"UPDATE {quote(meta.db_table)} AS t SET "
            + ", ".join(f"{name} = v.{name}" for name in names[1:])
            + " FROM (VALUES ",
            row=_cast_row(columns),
            tail=f") AS v({', '.join(names)}) WHERE t.{pk} = v.{pk}",
            columns=list(zip(columns, _preps(columns), strict=True)),
        )
    return shape


def _insert_shape(model: type[Model], with_pk: bool) -> _Shape:
    key = (model, with_pk)
    shape = _insert_shapes.get(key)
    if shape is None:
        meta, quote = model._meta, connection.ops.quote_name
        pk = _pk_of(meta)
        columns = [field for field in meta.concrete_fields if with_pk or field is not pk]
        shape = _insert_shapes[key] = _Shape(
            head=f"INSERT INTO {quote(meta.db_table)}"
            f" ({', '.join(quote(_column_name(f)) for f in columns)}) VALUES ",
            row=_cast_row(columns),
            tail=f" RETURNING {quote(_column_name(pk))}",
            columns=list(zip(columns, _preps(columns), strict=True)),
        )
    return shape


def _update_sql(objs: Sequence[Model], fields: Sequence[str]) -> tuple[str, list[Any]]:
    shape = _update_shape(type(objs[0]), fields)
    wrapper = connections[DEFAULT_DB_ALIAS]
    params = []
    for obj in objs:
        for field, prep in shape.columns:
            params.append(prep.value(getattr(obj, field.attname), wrapper))
    return shape.sql(len(objs)), params


def _insert_sql(objs: Sequence[Model]) -> tuple[str, list[Any]]:
    """INSERT ... VALUES ... RETURNING pk of new objects (auto_now_add applied); their
    pks too if every one has one. What bulk_create would insert: a field left to its
    db_default gets that value."""
    shape = _insert_shape(type(objs[0]), all(obj.pk is not None for obj in objs))
    wrapper = connections[DEFAULT_DB_ALIAS]
    params = []
    for obj in objs:
        for field, prep in shape.columns:
            value = field.pre_save(obj, True) if prep.pre_save else getattr(obj, field.attname)
            params.append(prep.value(value, wrapper, insert=True))
    return shape.sql(len(objs)), params


def prepared_fetchone(sql: str, params: dict[str, Any]) -> tuple[Any, ...] | None:
    """Runs one of the write hot paths' fixed statements (PostgreSQL) as a prepared
    statement of this connection and returns its first row (exchange/prepared_statements.py
    says why and how: planned once per connection, Django's errors, connection.queries)."""
    rows = prepared_fetchall(sql, params)
    return rows[0] if rows else None


def prepared_row(model: type[_M], where: str, params: dict[str, Any]) -> _M | None:
    """The one row of `model` matching `where` (SQL over its columns, named parameters),
    read by a prepared statement (prepared_fetchone), as a model instance; or None."""
    meta = model._meta
    fields = meta.concrete_fields
    columns = ", ".join(connection.ops.quote_name(_column_name(field)) for field in fields)
    sql = f"SELECT {columns} FROM {connection.ops.quote_name(meta.db_table)} WHERE {where}"
    row = prepared_fetchone(sql, params)
    if row is None:
        return None
    return model_of_row(model, row)


def model_columns(model: type[Model], alias: str) -> str:
    """The concrete columns of `model` as `alias`."column", in field order (what
    model_of_row reads), for a hot path's fixed statement."""
    quote = connection.ops.quote_name
    return ", ".join(
        f"{alias}.{quote(_column_name(field))}" for field in model._meta.concrete_fields
    )


def model_of_row(model: type[_M], row: Sequence[Any]) -> _M:
    """A saved instance of `model` from a row of its concrete columns in field order (or
    their first columns: model_columns'), converted as the ORM converts them."""
    fields = model._meta.concrete_fields
    values = list(row[: len(fields)])
    wrapper = connections[DEFAULT_DB_ALIAS]
    for index, column, converters in _converters(model):
        for converter in converters:
            values[index] = converter(values[index], column, wrapper)
    return model.from_db(DEFAULT_DB_ALIAS, [field.attname for field in fields], values)


_model_converters: dict[type[Model], list[tuple[int, Col, list[Any]]]] = {}


def _converters(model: type[Model]) -> list[tuple[int, Col, list[Any]]]:
    """(column index, column, converters) as the ORM applies them to the driver's values
    (the backend's, then the field's from_db_value), for the columns that have any."""
    if model not in _model_converters:
        found = []
        for index, field in enumerate(model._meta.concrete_fields):
            column = field.get_col(model._meta.db_table)
            chain = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
            if chain:
                found.append((index, column, chain))
        _model_converters[model] = found
    return _model_converters[model]


_NO_CHANGE = object()  # a _Prep rule: the value is its own database value


def _as_is(value: Any) -> Any:
    return value


def _decimal(value: Any) -> Any:
    # DecimalField.to_python: Decimal(value), refused when not finite (left to it).
    return value if value.is_finite() else _NO_CHANGE


def _aware(value: Any) -> Any:
    # DateTimeField.get_prep_value warns about a naive datetime and makes it aware.
    return value if value.utcoffset() is not None else _NO_CHANGE


class _Prep:
    """What field.get_db_prep_save(value, connection) gives (on PostgreSQL), without its
    calls, for the values whose answer is known from their type alone: one rule per
    (column, exact type), found on the column's first value of that type. Only the
    field classes listed in _rule are known (their methods are Django's own, or
    AddressField's lower-casing): any other field, value type or value (a NaN Decimal,
    a naive datetime, an expression) goes through get_db_prep_save itself."""

    __slots__ = ("field", "pre_save", "rules")

    def __init__(self, field: Field[Any, Any]) -> None:
        self.field = field
        # Field.pre_save reads the attribute; DateTimeField's may set it (auto_now).
        self.pre_save = type(field).pre_save is not Field.pre_save
        self.rules: dict[type, Any] = {}

    def value(self, value: Any, wrapper: Any, insert: bool = False) -> Any:
        """The database value of `value`; of an insert: a DatabaseDefault value (the
        field left to its db_default) is that default, as bulk_create inserts it."""
        kind = type(value)
        rule = self.rules.get(kind)
        if rule is None:
            rule = self.rules[kind] = _rule(self.field, kind, wrapper)
        if rule is not _NO_CHANGE:
            prepared = rule(value)
            if prepared is not _NO_CHANGE:
                return prepared
        if insert and isinstance(value, DatabaseDefault):
            value = getattr(self.field.db_default, "value", self.field.db_default)
        return self.field.get_db_prep_save(value, wrapper)


def _rule(field: Field[Any, Any], kind: type, wrapper: Any) -> Any:
    """The conversion get_db_prep_save applies to a `kind` value of `field` (a callable
    returning the database value, or _NO_CHANGE from it for "ask get_db_prep_save"),
    or _NO_CHANGE: not known, always ask get_db_prep_save."""
    cls = type(field)
    if cls is models.ForeignKey:
        target = field.target_field  # type: ignore[attr-defined]
        return _rule(target, kind, wrapper) if kind is not type(None) else _as_is
    if cls not in _KNOWN or wrapper.vendor != "postgresql":
        return _NO_CHANGE
    if kind is type(None):
        return _as_is  # every known class stores None as NULL
    if issubclass(cls, models.DecimalField):
        if kind is Decimal:
            return _decimal
        if kind is int:
            return Decimal
        return _NO_CHANGE
    if issubclass(cls, (models.IntegerField, models.AutoField, models.BigAutoField)):
        if kind is not int:
            return _NO_CHANGE
        # psycopg 3: the backend wraps an int in the column's psycopg type (Int4, Int8).
        wrapped = type(field.get_db_prep_save(1, wrapper))
        return _as_is if wrapped is int else wrapped
    if cls is AddressField:
        return str.lower if kind is str else _NO_CHANGE
    if issubclass(cls, (models.CharField, models.TextField)):
        # CharField.to_python returns a str (or a str enum: TextChoices) as it is.
        return _as_is if issubclass(kind, str) else _NO_CHANGE
    if cls is models.DateTimeField:
        return _aware if kind is datetime else _NO_CHANGE
    if cls is models.UUIDField:
        return (
            _as_is if kind is uuid.UUID and wrapper.features.has_native_uuid_field else _NO_CHANGE
        )
    if cls is models.BooleanField:
        return _as_is if kind is bool else _NO_CHANGE
    return _NO_CHANGE


_KNOWN = frozenset(
    {
        models.AutoField,
        models.BigAutoField,
        models.SmallIntegerField,
        models.IntegerField,
        models.BigIntegerField,
        models.PositiveSmallIntegerField,
        models.PositiveIntegerField,
        models.PositiveBigIntegerField,
        models.DecimalField,
        AmountField,
        VolumeField,
        models.CharField,
        models.TextField,
        HashField,
        AddressField,
        models.DateTimeField,
        models.UUIDField,
        models.BooleanField,
    }
)

_column_preps: dict[tuple[Field[Any, Any], ...], list[_Prep]] = {}


def _preps(fields: Sequence[Field[Any, Any]]) -> list[_Prep]:
    """The _Prep of each column of a list (kept per process, as _cast_row's)."""
    key = tuple(fields)
    preps = _column_preps.get(key)
    if preps is None:
        preps = _column_preps[key] = [_Prep(field) for field in fields]
    return preps
