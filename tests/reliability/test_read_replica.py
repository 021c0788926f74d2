"""The standby router (relayer/replica.py) in a real gunicorn: public market reads come
from DATABASE_REPLICA_URL, an account's own state and every write from the primary, and
with the standby silent the public reads fall back to the primary.

The "standby" here is a schema of the test database whose token and order tables differ
from the primary's (its search_path puts it first): what a response shows says which
database answered. A real streaming standby, held back and promoted, is `make scale-test`
(tests/scale/run.py)."""

from urllib.parse import quote

import pytest
import requests
from django.db import connection

from exchange.models import Order, Token
from tests.reliability.servers import closed_port_url, database_url_for_tests, gunicorn_server
from tests.signing import address_of
from tests.trading import place

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres_only]

SCHEMA = "standby_probe"
ANSWER_WITHIN = 15


@pytest.fixture
def standby_schema(market):
    tokens, orders = Token._meta.db_table, Order._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        cursor.execute(f"CREATE SCHEMA {SCHEMA}")
        cursor.execute(f"CREATE TABLE {SCHEMA}.{tokens} AS SELECT * FROM public.{tokens}")
        cursor.execute(f"UPDATE {SCHEMA}.{tokens} SET name = 'On the standby' WHERE symbol = 'TST'")
        cursor.execute(f"CREATE TABLE {SCHEMA}.{orders} (LIKE public.{orders} INCLUDING ALL)")
    options = quote(f"-c search_path={SCHEMA},public")
    yield f"{database_url_for_tests()}?options={options}"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")


def _token_names(url: str) -> set[str]:
    answer = requests.get(url + "/tokens", timeout=ANSWER_WITHIN)
    assert answer.status_code == 200, answer.text
    return {token["name"] for token in answer.json()["records"]}


def _post(url: str, path: str, body: dict) -> dict:
    answer = requests.post(url + path, json=body, timeout=ANSWER_WITHIN)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_public_reads_come_from_the_standby_and_own_state_from_the_primary(
    api, tmp_path, market, maker, standby_schema
):
    order = place(
        maker, give_token=market.quote, give_amount=10**18, take_token=market.base, take_amount=1
    )
    on_primary = api.post("/get_orderbook", {"market": market.name}, format="json").json()
    assert len(on_primary["asks"]["records"] + on_primary["bids"]["records"]) == 1
    with gunicorn_server(
        tmp_path, DATABASE_REPLICA_URL=standby_schema, MARKET_DATA_CACHE_SECONDS="0"
    ) as server:
        assert "On the standby" in _token_names(server.url)
        book = _post(server.url, "/get_orderbook", {"market": market.name})
        assert book["bids"]["records"] == book["asks"]["records"] == []  # not on the standby
        own = _post(server.url, "/get_orders", {"account": address_of(maker)})
        assert [record["hash"] for record in own["records"]] == [order.hash]
        metrics = requests.get(server.url + "/metrics", timeout=ANSWER_WITHIN).text
        assert "relayer_database_replica_serving 1.0" in metrics
        assert "relayer_database_replica_lag_seconds 0.0" in metrics


def test_with_the_standby_silent_public_reads_fall_back_to_the_primary(tmp_path, market):
    silent = closed_port_url().replace("redis://", "postgres://postgres@").rsplit("/", 1)[0]
    with gunicorn_server(
        tmp_path, DATABASE_REPLICA_URL=f"{silent}/nothing", MARKET_DATA_CACHE_SECONDS="0"
    ) as server:
        assert "Test Token" in _token_names(server.url)
        book = _post(server.url, "/get_orderbook", {"market": market.name})
        assert book["bids"]["records"] == []
        metrics = requests.get(server.url + "/metrics", timeout=ANSWER_WITHIN).text
        assert "relayer_database_replica_serving 0.0" in metrics
        lines = metrics.splitlines()
        assert not [line for line in lines if line.startswith("relayer_database_replica_lag")]
