"""Request ids, structured logs without secrets, Prometheus metrics."""

import logging
import socket
import urllib.request

import pytest
from celery import shared_task
from django.conf import settings
from prometheus_client import REGISTRY

from exchange.api.observability import RequestIdFilter
from exchange.metrics import serve_worker_metrics
from exchange.services.api_keys import api_key_issue
from relayer.celery import app as celery_app

pytestmark = pytest.mark.django_db


@pytest.fixture
def log_lines(caplog):
    """The log lines as the configured key=value formatter writes them."""
    caplog.set_level(logging.INFO)
    formatter = logging.Formatter(settings.LOGGING["formatters"]["keyvalue"]["format"])
    request_ids = RequestIdFilter()
    caplog.handler.addFilter(request_ids)

    def lines() -> list[str]:
        return [formatter.format(record) for record in caplog.records]

    yield lines
    caplog.handler.removeFilter(request_ids)


def test_every_response_carries_a_request_id(api, network):
    first, second = api.get("/tokens"), api.get("/nope")
    assert len(first["X-Request-ID"]) == 32
    assert first["X-Request-ID"] != second["X-Request-ID"]


def test_a_clients_request_id_is_kept_when_sane(api, network):
    assert api.get("/tokens", HTTP_X_REQUEST_ID="abc-123")["X-Request-ID"] == "abc-123"
    assert api.get("/tokens", HTTP_X_REQUEST_ID="a b\nc")["X-Request-ID"] != "a b\nc"


def test_the_request_log_line_is_key_value_with_the_request_id(api, network, log_lines):
    response = api.get("/tokens", HTTP_X_REQUEST_ID="req-42")
    line = next(line for line in log_lines() if "event=request" in line)
    assert "request_id=req-42" in line
    assert "method=GET path=/tokens status=200" in line
    assert response["X-Request-ID"] == "req-42"


def test_djangos_own_error_lines_carry_the_request_id(api, network, log_lines):
    api.get("/tokens", {"networkId": "x"}, HTTP_X_REQUEST_ID="req-400")
    line = next(line for line in log_lines() if "logger=django.request" in line)
    assert "request_id=req-400" in line


def test_logs_never_carry_the_api_key(api, network, log_lines, settings):
    settings.RATELIMIT_BAN_AFTER = 1
    _, raw_key = api_key_issue(name="secret holder")
    api.get("/tokens", HTTP_X_API_KEY=raw_key)
    api.get(f"/tokens?apiKey={raw_key}", HTTP_X_API_KEY="wrong-" + raw_key)
    lines = log_lines()
    assert any("event=request" in line for line in lines)
    assert not any(raw_key in line for line in lines)


def test_metrics_are_exported_for_prometheus(api, network):
    api.get("/tokens")
    response = api.get("/metrics")
    assert response.status_code == 200
    text = response.content.decode()
    assert "django_http_requests_total_by_method_total" in text
    assert "relayer_celery_tasks_total" in text


@shared_task(name="tests.flaky")
def _flaky(fail: bool) -> str:
    if fail:
        raise ValueError("boom")
    return "ok"


def _task_count(outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "relayer_celery_tasks_total", {"task": "tests.flaky", "outcome": outcome}
    )
    return value or 0.0


def test_celery_task_outcomes_are_counted():
    assert celery_app.conf.broker_url  # the project's app, with the signals connected
    before_success, before_failure = _task_count("success"), _task_count("failure")
    _flaky.apply(args=(False,))
    _flaky.apply(args=(True,))
    assert _task_count("success") == before_success + 1
    assert _task_count("failure") == before_failure + 1


def test_a_worker_serves_its_metrics_on_its_port(monkeypatch):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("CELERY_METRICS_PORT", str(port))
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    server = serve_worker_metrics()
    try:
        _flaky.apply(args=(False,))
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
        assert 'relayer_celery_tasks_total{outcome="success",task="tests.flaky"}' in text
    finally:
        server.shutdown()
        server.server_close()
