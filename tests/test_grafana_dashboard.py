"""docker/grafana/relayer-dashboard.json (docs/operating.md): valid JSON for Grafana's
import, a Prometheus datasource variable, and every metric its queries name is one the
app's /metrics serves (read from the real view, with the database and cache behind it)."""

import json
import re
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

DASHBOARD = Path(__file__).resolve().parent.parent / "docker" / "grafana" / "relayer-dashboard.json"
# The namespaces of the metrics the app exports: its own, django-prometheus's, the client's.
METRIC = re.compile(r"\b((?:relayer|django|process|python)_[a-zA-Z0-9_]+)\b")
SUFFIXES = ("", "_total", "_bucket", "_sum", "_count", "_created")


def _queries(dashboard: dict) -> list[str]:
    queries = [
        target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])
    ]
    for variable in dashboard["templating"]["list"]:
        query = variable.get("query")
        if isinstance(query, dict):
            queries.append(query["query"])
    return queries


def _served(client) -> set[str]:
    client.get("/healthz")  # a request, so django-prometheus's labelled series exist
    response = client.get("/metrics")
    assert response.status_code == 200
    names: set[str] = set()
    for family in text_string_to_metric_families(response.content.decode()):
        names.update(family.name + suffix for suffix in SUFFIXES)
        names.update(sample.name for sample in family.samples)
    return names


@pytest.fixture
def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def test_the_dashboard_has_a_prometheus_datasource_variable_used_by_every_panel(dashboard):
    [datasource] = [v for v in dashboard["templating"]["list"] if v["type"] == "datasource"]
    assert datasource["query"] == "prometheus"
    panels = [panel for panel in dashboard["panels"] if panel["type"] != "row"]
    assert len(panels) >= 10
    for panel in panels:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"] and panel["description"], panel["title"]
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])


@pytest.mark.django_db
def test_every_metric_the_dashboard_queries_is_served_by_metrics(client, dashboard, network):
    served = _served(client)
    used = {name for query in _queries(dashboard) for name in METRIC.findall(query)}
    assert {
        "relayer_deposit_watcher_scanned_block",
        "relayer_deposit_watcher_failures",
        "relayer_chain_tick_delay_seconds",
        "relayer_chain_tick_age_seconds",
        "relayer_settlement_backlog",
        "relayer_quarantined_trades",
        "relayer_frozen_accounts",
        "relayer_celery_tasks_total",
        "django_http_requests_latency_seconds_by_view_method_bucket",
    } <= used
    assert sorted(used - served) == []
    # Every query names at least one served metric (no query reads only constants).
    for query in _queries(dashboard):
        assert METRIC.search(query), query


@pytest.mark.django_db
def test_the_settlement_backlog_gauge_counts_trades_not_settled(
    client, network, market, fees, maker, taker
):
    from tests.trading import execute, fill, place

    order = place(
        maker,
        give_token=market.base,
        give_amount=10**16,
        take_token=market.quote,
        take_amount=20 * 10**18,
    )
    execute(network, [fill(taker, order, 5 * 10**18)])
    execute(network, [fill(taker, order, 5 * 10**18)])
    text = client.get("/metrics").content.decode()
    [backlog] = [
        family
        for family in text_string_to_metric_families(text)
        if family.name == "relayer_settlement_backlog"
    ]
    assert {s.labels["network"]: s.value for s in backlog.samples} == {str(network.id): 2.0}
