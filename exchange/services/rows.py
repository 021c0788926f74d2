"""Row updates in one statement, cheap to build (for the write hot paths)."""

import re
import time
from collections.abc import Sequence

import psycopg
from django.db import connection
from django.db.models import Field, Model

_MODIFIERS = re.compile(r"\(.*?\)")


def rows_update(objs: Sequence[Model], fields: Sequence[str]) -> None:
    """Writes `fields` of each saved object, like QuerySet.bulk_update.

    On PostgreSQL one `UPDATE ... FROM (VALUES ...)`: bulk_update's CASE WHEN
    expressions cost more CPU to build than the statement takes to run. Values go
    through each field's get_db_prep_save, as in a save(); auto_now is not applied.
    """
    if not objs:
        return
    if connection.vendor != "postgresql":
        type(objs[0]).objects.bulk_update(objs, fields)
        return
    with connection.cursor() as cursor:
        cursor.execute(*_update_sql(objs, fields))


def rows_update_and_insert(
    objs: Sequence[Model], fields: Sequence[str], new: Sequence[Model]
) -> None:
    """rows_update(objs, fields), then the `new` objects inserted (their pks set), like
    bulk_create: on PostgreSQL in one statement, the UPDATE a data-modifying CTE of the
    INSERT (one round trip; a constraint either violates fails the whole statement)."""
    if not objs or not new or connection.vendor != "postgresql":
        rows_update(objs, fields)
        if new:
            type(new[0]).objects.bulk_create(new)
        return
    update, update_params = _update_sql(objs, fields)
    insert, insert_params = _insert_sql(new)
    with connection.cursor() as cursor:
        cursor.execute(f"WITH updated AS ({update}) {insert}", update_params + insert_params)
        pks = [row[0] for row in cursor.fetchall()]
    for obj, pk in zip(new, pks, strict=True):
        obj.pk = pk
        obj._state.adding, obj._state.db = False, connection.alias


def _cast_row(fields: Sequence[Field]) -> str:
    """A VALUES row typed as the columns, without their modifiers: a cast to varchar(n)
    would cut a long string silently, where the column's own check refuses it."""
    types = [_MODIFIERS.sub("", field.db_type(connection)) for field in fields]
    return "(" + ", ".join(f"%s::{db_type}" for db_type in types) + ")"


def _update_sql(objs: Sequence[Model], fields: Sequence[str]) -> tuple[str, list]:
    meta, quote = objs[0]._meta, connection.ops.quote_name
    columns = [meta.pk] + [meta.get_field(name) for name in fields]
    names = [quote(field.column) for field in columns]
    pk = names[0]
    sql = (
        f"UPDATE {quote(meta.db_table)} AS t SET "
        + ", ".join(f"{name} = v.{name}" for name in names[1:])
        + f" FROM (VALUES {', '.join([_cast_row(columns)] * len(objs))}) AS v({', '.join(names)})"
        + f" WHERE t.{pk} = v.{pk}"
    )
    params = [
        field.get_db_prep_save(getattr(obj, field.attname), connection)
        for obj in objs
        for field in columns
    ]
    return sql, params


def _insert_sql(objs: Sequence[Model]) -> tuple[str, list]:
    """INSERT ... VALUES ... RETURNING pk of new objects (auto_now_add applied)."""
    meta, quote = objs[0]._meta, connection.ops.quote_name
    columns = [field for field in meta.concrete_fields if field is not meta.pk]
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in columns)})"
        f" VALUES {', '.join([_cast_row(columns)] * len(objs))}"
        f" RETURNING {quote(meta.pk.column)}"
    )
    params = [
        field.get_db_prep_save(field.pre_save(obj, True), connection)
        for obj in objs
        for field in columns
    ]
    return sql, params


def prepared_fetchone(sql: str, params: dict) -> tuple | None:
    """Runs one of the write hot paths' fixed statements (PostgreSQL) as a prepared
    statement of this connection and returns its first row.

    Django's cursors bind parameters client-side, so PostgreSQL plans the statement again
    on every call (for these statements, about as long as running them). A psycopg
    cursor with server-side binding and prepare=True has it planned once per connection.
    Errors are Django's (IntegrityError, OperationalError), as from connection.cursor();
    the statement is logged in connection.queries like any other.
    """
    connection.ensure_connection()
    started = time.monotonic()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, prepare=True)
        row = cursor.fetchone()
    if connection.queries_logged:
        shown = sql % {name: repr(value) for name, value in params.items()}
        connection.queries_log.append({"sql": shown, "time": f"{time.monotonic() - started:.3f}"})
    return row
