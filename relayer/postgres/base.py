"""PostgreSQL with a health check that costs no round trip while the connection is sound.

ENGINE "relayer.postgres" (settings.py selects it for postgres:// URLs). Django's
conn_health_checks runs `SELECT 1` before each request's first query on a kept
connection: a round trip on every request. A connection the server closed (a restart,
pg_terminate_backend, an idle timeout, a failover) has something to read: the server's
FATAL message and the end of the stream. So an idle connection with nothing to read is
taken as usable without asking; one with pending input, or not idle (a failed
transaction, a lost connection), is asked with `SELECT 1`, as
before (a NOTICE or a parameter change passes it), and replaced if that fails.
"""

import select

from django.db.backends.postgresql import base
from psycopg.pq import TransactionStatus

from exchange.streams.outbox import OutboxConnection


class DatabaseWrapper(OutboxConnection, base.DatabaseWrapper):
    def is_usable(self) -> bool:
        if self.connection is None or self.connection.closed:
            return False
        idle = self.connection.info.transaction_status == TransactionStatus.IDLE
        if idle and not _has_pending_input(self.connection.fileno()):
            return True
        return super().is_usable()


def _has_pending_input(fd: int) -> bool:
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLPRI)
    return bool(poller.poll(0))
