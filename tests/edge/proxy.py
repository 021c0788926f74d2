"""The production edge for tests: gunicorn with docker/gunicorn.conf.py behind a real nginx
with docker/nginx.conf (Debian's package, installed by .ci/ensure-nginx)."""

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from relayer.ports import free_port
from tests.reliability.servers import BIN, ROOT, Server, server_env

NGINX = os.environ.get("NGINX_PATH", "/usr/sbin/nginx")


def nginx_or_skip() -> str:
    if os.path.exists(NGINX):
        return NGINX
    if os.environ.get("REQUIRE_NGINX") == "1":
        pytest.fail(f"nginx is required (REQUIRE_NGINX=1) but {NGINX} is missing")
    pytest.skip(f"nginx is not installed ({NGINX}; .ci/ensure-nginx installs Debian's)")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_for(url: str, process: subprocess.Popen, log: Path, tries: int = 1) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            for _ in range(tries):
                requests.get(url + "/helpers/return_contract_address", timeout=30)
            return
        except (requests.ConnectionError, requests.Timeout):
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.1)


@contextmanager
def production_gunicorn(tmp_path: Path, **env: str) -> Iterator[Server]:
    """gunicorn as deployed (docker/gunicorn.conf.py: two sync workers), on a free port."""
    port = free_port()
    log_path = tmp_path / f"gunicorn-{port}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "relayer.wsgi:application",
                "--config",
                str(ROOT / "docker" / "gunicorn.conf.py"),
                "--bind",
                f"127.0.0.1:{port}",
            ],
            cwd=ROOT,
            env=server_env(**env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(f"http://127.0.0.1:{port}", process, log_path)
    try:
        _wait_for(server.url, process, log_path, tries=2)
        yield server
    finally:
        _stop(process)


def nginx_conf(
    tmp_path: Path, *, listen: int, upstream: str | list[str], bind: str | None = None
) -> Path:
    """docker/nginx.conf with the test's ports (one upstream, or several web replicas),
    and its temporary files under tmp_path; with `bind`, nginx connects to the upstreams
    from that address (proxy_bind: the app's trusted proxy)."""
    upstreams = [upstream] if isinstance(upstream, str) else upstream
    servers = " ".join(f"server {address};" for address in upstreams)
    text = (ROOT / "docker" / "nginx.conf").read_text()
    text = text.replace("server web:8000;", servers)
    text = text.replace("server streams:8001;", servers)
    if bind is not None:
        text = text.replace("http {\n", f"http {{\n    proxy_bind {bind};\n", 1)
    text = text.replace("listen 8000 default_server;", f"listen 127.0.0.1:{listen} default_server;")
    temp = tmp_path / "nginx-temp"
    temp.mkdir(exist_ok=True)
    os.chmod(temp, 0o777)
    paths = "".join(
        f"    {name}_temp_path {temp / name};\n"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    text = text.replace("http {\n", "http {\n" + paths, 1)
    conf = tmp_path / "nginx.conf"
    conf.write_text(text)
    return conf


@contextmanager
def nginx_proxy(
    tmp_path: Path, upstream: str | list[str], *, bind: str | None = None
) -> Iterator[Server]:
    binary = nginx_or_skip()
    port = free_port()
    conf = nginx_conf(tmp_path, listen=port, upstream=upstream, bind=bind)
    log_path = tmp_path / f"nginx-{port}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                binary,
                "-p",
                str(tmp_path),
                "-c",
                str(conf),
                "-e",
                "stderr",
                "-g",
                f"daemon off; pid {tmp_path / 'nginx.pid'};",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(f"http://127.0.0.1:{port}", process, log_path)
    try:
        _wait_for(server.url, process, log_path)
        yield server
    finally:
        _stop(process)
