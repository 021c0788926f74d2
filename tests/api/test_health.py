"""/healthz: database, cache, broker and each enabled network's node."""

import os
import subprocess
import time
from pathlib import Path

import pytest

from chain.client import ChainError, node_head
from relayer.ports import free_port
from tests.factories import NetworkFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def node_url():
    """A real local node (anvil from node_modules, or ANVIL_BIN) on a free port."""
    binary = Path(os.environ.get("ANVIL_BIN", ROOT / "node_modules" / ".bin" / "anvil"))
    if not binary.exists():
        pytest.skip("anvil is not installed (node_modules/.bin/anvil or ANVIL_BIN)")
    port = free_port()
    process = subprocess.Popen(
        [str(binary), "--host", "127.0.0.1", "--port", str(port), "--silent"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                node_head(url, timeout=1)
                break
            except ChainError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail("anvil did not start")
                time.sleep(0.05)
        yield url
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=10)


def test_it_is_200_when_everything_is_up(api, node_url):
    network = NetworkFactory(id=31337, rpc_url=node_url)
    response = api.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True,
        "cache": True,
        "broker": True,
        f"node:{network.id}": True,
    }
    assert isinstance(body["checks"]["node:31337"]["blockNumber"], int)


def test_it_is_503_with_details_when_a_node_is_down(api, node_url):
    NetworkFactory(id=31337, rpc_url=node_url)
    down = NetworkFactory(id=5, rpc_url=f"http://user:secret@127.0.0.1:{free_port()}")
    response = api.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["ok"] is False
    assert body["checks"]["node:31337"]["ok"] is True
    assert body["checks"][f"node:{down.id}"] == {"ok": False, "error": "URLError"}
    assert b"secret" not in response.content


def test_a_network_without_an_rpc_url_is_reported(api):
    NetworkFactory(id=7, rpc_url="")
    response = api.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["node:7"] == {"ok": False, "error": "no RPC URL configured"}


def test_disabled_networks_are_not_checked(api):
    NetworkFactory(id=8, rpc_url="", enabled=False)
    response = api.get("/healthz")
    assert response.status_code == 200
    assert "node:8" not in response.json()["checks"]


def test_it_is_503_when_the_cache_and_broker_are_down(api, settings):
    dead = f"redis://127.0.0.1:{free_port()}/0"
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": dead}
    }
    settings.CELERY_BROKER_URL = dead
    response = api.get("/healthz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"] == {"ok": True}
    assert checks["cache"]["ok"] is False and checks["broker"]["ok"] is False


def test_it_is_not_rate_limited(api):
    response = api.get("/healthz")
    assert "X-RateLimit-Limit" not in response.headers
