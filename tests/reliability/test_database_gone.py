"""A database that does not answer (a failover under way, a restart) is a 503 to retry
wherever the request meets it: in a view (exchange/api/errors.py) and before any view,
in the rate limiter's first query (handler500), never a 500."""

import pytest
import requests

from relayer.ports import free_port
from tests.reliability.servers import gunicorn_server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres_only]


def test_with_the_database_gone_every_api_request_is_a_503_to_retry(tmp_path):
    gone = f"postgres://postgres@127.0.0.1:{free_port()}/nothing"
    with gunicorn_server(tmp_path, DATABASE_URL=gone) as server:
        for path in ("/tokens", "/get_fee_info"):
            answer = requests.get(server.url + path, timeout=30)
            assert answer.status_code == 503, (path, answer.text)
            assert answer.json()["code"] == 503
            assert answer.headers["Retry-After"] == "1"
