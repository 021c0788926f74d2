"""The production edge for tests: gunicorn with docker/gunicorn.conf.py behind a real nginx
with docker/nginx.conf (Debian's package, installed by .ci/ensure-nginx)."""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from relayer.ports import free_port
from tests.reliability.servers import BIN, ROOT, Server, server_env, started

NGINX = os.environ.get("NGINX_PATH", "/usr/sbin/nginx")


def nginx_or_skip() -> str:
    if os.path.exists(NGINX):
        return NGINX
    if os.environ.get("REQUIRE_NGINX") == "1":
        pytest.fail(f"nginx is required (REQUIRE_NGINX=1) but {NGINX} is missing")
    pytest.skip(f"nginx is not installed ({NGINX}; .ci/ensure-nginx installs Debian's)")


@contextmanager
def production_gunicorn(tmp_path: Path, **env: str) -> Iterator[Server]:
    """gunicorn as deployed (docker/gunicorn.conf.py: two sync workers), on a free port."""
    port = free_port()
    command = [
        str(BIN / "gunicorn"),
        "relayer.wsgi:application",
        *("--config", str(ROOT / "docker" / "gunicorn.conf.py"), "--bind", f"127.0.0.1:{port}"),
    ]
    with started(
        command,
        name="gunicorn",
        port=port,
        tmp_path=tmp_path,
        env=server_env(**env),
        ready_requests=2,
    ) as server:
        yield server


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
    command = [
        *(binary, "-p", str(tmp_path), "-c", str(conf), "-e", "stderr"),
        *("-g", f"daemon off; pid {tmp_path / 'nginx.pid'};"),
    ]
    with started(command, name="nginx", port=port, tmp_path=tmp_path) as server:
        yield server
