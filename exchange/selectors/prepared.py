"""Reads by a prepared statement of the request's connection (PostgreSQL).

The read side of exchange/services/rows.py's prepared_fetchone (selectors may not import
services): Django's cursors bind parameters client-side, so PostgreSQL parses and plans
a statement again on every call; a psycopg cursor with server-side binding and
prepare=True has it planned once per connection. Placeholders are named
(`%(name)s`), the statement's text must be fixed (one text per shape, not per value).
Errors are Django's, and the statement is logged in connection.queries like any other.
It needs a direct connection or a pooler in session mode (docs/hot-path.md).
"""

import time
from typing import Any

import psycopg
from django.db import DEFAULT_DB_ALIAS, connection, connections


def prepared_fetchall(sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Runs `sql` as a prepared statement of this connection and returns its rows."""
    wrapper = connections[DEFAULT_DB_ALIAS]  # `connection`, looked up once
    wrapper.ensure_connection()
    started = time.monotonic()
    with wrapper.wrap_database_errors, psycopg.Cursor(wrapper.connection) as cursor:
        cursor.execute(sql, params, prepare=True)
        rows = cursor.fetchall()
    if wrapper.queries_logged:
        query_logged(sql, params, started)
    return rows


def query_logged(sql: str, params: dict[str, Any], started: float) -> None:
    """Adds a statement run outside Django's cursors to connection.queries (when Django
    logs queries: DEBUG, the test suite's query counts)."""
    if connection.queries_logged:
        shown = sql % {name: repr(value) for name, value in params.items()}
        connection.queries_log.append({"sql": shown, "time": f"{time.monotonic() - started:.3f}"})
