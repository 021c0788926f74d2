"""relayer/postgres: the per-request health check needs no round trip while the
connection is sound, and still replaces one the server has closed."""

import time

import psycopg
import pytest
from django.db import connection

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres_only]


def _other_connection() -> psycopg.Connection:
    return psycopg.connect(**connection.get_connection_params(), autocommit=True)


def _last_query_of(pid: int) -> str:
    with _other_connection() as other:
        row = other.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()
        assert row is not None
        return row[0]


def test_a_sound_connection_passes_the_health_check_without_a_query():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 'the last query before the check'")
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    assert connection.is_usable()
    assert _last_query_of(pid) == "SELECT pg_backend_pid()"


def test_a_connection_the_server_closed_fails_the_check_and_is_replaced(settings):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    with _other_connection() as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
        # The backend has sent its FATAL message and closed the socket once it is gone.
        deadline = time.monotonic() + 10
        while other.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone():
            assert time.monotonic() < deadline, "the backend did not exit"
            time.sleep(0.01)
    assert not connection.is_usable()
    connection.health_check_enabled, connection.health_check_done = True, False
    connection.close_if_health_check_failed()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid
