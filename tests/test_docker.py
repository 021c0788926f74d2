"""The production shape in docker/: checked structurally, as no Docker engine runs here."""

import re
import runpy
from pathlib import Path

import pytest
import yaml

DOCKER = Path(__file__).resolve().parent.parent / "docker"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def _command(service: dict) -> str:
    command = service["command"]
    return command if isinstance(command, str) else " ".join(command)


def test_compose_runs_every_piece_of_the_production_shape(compose):
    assert {"postgres", "redis", "anvil", "web", "worker", "beat"} <= set(compose["services"])


@pytest.mark.parametrize("name", ["postgres", "redis", "anvil", "web", "worker", "beat"])
def test_every_long_running_service_has_a_health_check(compose, name):
    check = compose["services"][name]["healthcheck"]
    assert check["test"] and check["interval"]


def test_the_web_runs_gunicorn_with_two_workers_and_checks_healthz(compose):
    web = compose["services"]["web"]
    assert "gunicorn relayer.wsgi:application --config docker/gunicorn.conf.py" in _command(web)
    assert "/healthz" in " ".join(web["healthcheck"]["test"])
    assert web["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_the_worker_and_beat_run_celery_on_the_same_broker(compose):
    services = compose["services"]
    assert "celery -A relayer worker" in _command(services["worker"])
    assert "celery -A relayer beat" in _command(services["beat"])
    brokers = {services[name]["environment"]["REDIS_URL"] for name in ("web", "worker", "beat")}
    assert brokers == {"redis://redis:6379/0"}


def test_the_app_services_use_the_databases_in_compose(compose):
    for name in ("web", "worker", "beat", "migrate"):
        environment = compose["services"][name]["environment"]
        assert environment["DATABASE_URL"].startswith("postgres://relayer:relayer@postgres:5432/")
        assert environment["SECRET_KEY"].startswith("${SECRET_KEY:?")


def test_the_image_is_python_311_slim_and_runs_as_a_non_root_user():
    dockerfile = (DOCKER / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.MULTILINE)
    users = re.findall(r"^USER (\S+)$", dockerfile, re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    assert '"--config", "docker/gunicorn.conf.py"' in dockerfile


def test_the_deployed_gunicorn_config_runs_two_workers_with_an_access_log():
    config = runpy.run_path(str(DOCKER / "gunicorn.conf.py"))
    assert (config["workers"], config["accesslog"], config["bind"]) == (2, "-", "0.0.0.0:8000")


def test_every_path_the_image_copies_exists():
    root = DOCKER.parent
    dockerfile = (DOCKER / "Dockerfile").read_text()
    for line in re.findall(r"^COPY (.+)$", dockerfile, re.MULTILINE):
        for source in line.split()[:-1]:
            assert (root / source).exists(), source


def test_anvil_is_installed_pinned_at_build_mines_every_second_and_publishes_its_port(compose):
    anvil = compose["services"]["anvil"]
    assert "npx" not in _command(anvil)
    assert anvil["build"]["dockerfile"] == "docker/anvil.Dockerfile"
    dockerfile = (DOCKER / "anvil.Dockerfile").read_text()
    assert re.search(r"npm install .*@foundry-rs/anvil@\d+\.\d+\.\d+", dockerfile)
    assert "--block-time 1" in _command(anvil)
    assert "8545:8545" in anvil["ports"]


def test_bootstrap_runs_once_after_migrate_and_the_app_waits_for_it(compose):
    services = compose["services"]
    bootstrap = services["bootstrap"]
    assert _command(bootstrap) == "python manage.py bootstrap"
    assert bootstrap["restart"] == "no"
    assert bootstrap["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert bootstrap["depends_on"]["anvil"]["condition"] == "service_healthy"
    assert bootstrap["environment"]["OPERATOR_PASSWORD"].startswith("${OPERATOR_PASSWORD:?")
    for name in ("web", "worker", "beat"):
        condition = services[name]["depends_on"]["bootstrap"]["condition"]
        assert condition == "service_completed_successfully"
