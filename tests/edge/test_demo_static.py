"""Finding 9 (issue 13): under `make run`, `GET /static/%2e%2e/manage.py` is the API's JSON
404, not an HTML 500, while the admin's static files are still served."""

import os
import subprocess
import sys
import time

import pytest
import requests

from relayer.demo import web_command
from relayer.ports import free_port
from tests.reliability.servers import ROOT, server_env

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def demo_web(tmp_path):
    port = free_port()
    env = server_env(DEBUG="1", ALLOWED_HOSTS="127.0.0.1")
    log = open(tmp_path / "runserver.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        web_command(sys.executable, port),
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (tmp_path / "runserver.log").read_text()
            try:
                requests.get(url + "/admin/login/", timeout=10)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        yield url
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=15)
        log.close()


def test_a_dot_dot_static_path_is_a_json_404(demo_web):
    for path in ("/static/%2e%2e/manage.py", "/static/..%2fmanage.py", "/static/nope.css"):
        answer = requests.get(demo_web + path, timeout=15)
        assert answer.status_code == 404, (path, answer.status_code)
        assert answer.headers["Content-Type"] == "application/json"
        assert answer.json()["code"] == 404
    css = requests.get(demo_web + "/static/admin/css/base.css", timeout=15)
    assert css.status_code == 200 and "text/css" in css.headers["Content-Type"]
