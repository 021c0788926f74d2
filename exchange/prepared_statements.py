"""Statements run as prepared statements of a connection (PostgreSQL).

Django's cursors bind parameters client-side, so PostgreSQL parses and plans a statement
again on every call; a psycopg cursor with server-side binding and prepare=True has it
planned once per connection. Placeholders are named (`%(name)s`), the statement's text
must be fixed (one text per shape, not per value). Errors are Django's, and the
statement is logged in connection.queries like any other. A helper below the selectors,
the services and the stream outbox, which all use it. It needs a direct connection or a
pooler in session mode (docs/hot-path.md).
"""

import time
from typing import Any

import psycopg
from django.db import DEFAULT_DB_ALIAS, connections


def prepared_fetchall(
    sql: str, params: dict[str, Any], connection: Any = None
) -> list[tuple[Any, ...]]:
    """Runs `sql` as a prepared statement of `connection` (the default database's,
    looked up once, when not given) and returns its rows."""
    wrapper = connection if connection is not None else connections[DEFAULT_DB_ALIAS]
    wrapper.ensure_connection()
    started = time.monotonic()
    with wrapper.wrap_database_errors, psycopg.Cursor(wrapper.connection) as cursor:
        cursor.execute(sql, params, prepare=True)
        rows = cursor.fetchall()
    if wrapper.queries_logged:
        # Added to connection.queries, as Django's cursors do (DEBUG, the test suite's
        # query counts).
        shown = sql % {name: repr(value) for name, value in params.items()}
        wrapper.queries_log.append({"sql": shown, "time": f"{time.monotonic() - started:.3f}"})
    return rows
