"""`/` is a landing page that says what this is and links to everything (the admin's
"View site" goes there), and manage.py without its settings says so in one line."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINKS = ["/docs", "/schema", "/admin/", "/admin/dashboard/", "/healthz", "/metrics"]


@pytest.mark.django_db
def test_the_landing_page_links_to_the_api_reference_the_admin_and_health(
    client, settings, tmp_path
):
    settings.VAR_DIR = tmp_path  # no demo state file: production
    response = client.get("/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "hybrid decentralized exchange" in page
    for link in LINKS:
        assert f'href="{link}"' in page
    assert "make run</code> demo" not in page


@pytest.mark.django_db
def test_under_make_run_it_shows_the_demo_and_the_walkthrough(client, settings, tmp_path):
    state = {
        "api": "http://127.0.0.1:8500",
        "rpc": "http://127.0.0.1:9045",
        "chainId": 31337,
        "exchange": "0x" + "ab" * 20,
        "tokens": {"ETH": "0x" + "00" * 20, "TST": "0x" + "cd" * 20},
        "markets": ["ETH_TST"],
        "accounts": ["0x" + "11" * 20, "0x" + "22" * 20],
    }
    (tmp_path / "demo.json").write_text(json.dumps(state))
    settings.VAR_DIR = tmp_path
    page = client.get("/").content.decode()
    assert "http://127.0.0.1:9045" in page and "0x" + "ab" * 20 in page
    assert "0x" + "22" * 20 in page and "0x" + "cd" * 20 in page
    assert "relayer.demo_client" in page


@pytest.mark.django_db
def test_the_admins_view_site_link_goes_to_the_landing_page(admin_client):
    page = admin_client.get("/admin/").content.decode()
    assert '<a href="/">View site</a>' in page
    assert admin_client.get("/").status_code == 200


@pytest.mark.django_db
def test_it_answers_only_reads(client):
    assert client.post("/").status_code == 405


def test_manage_py_without_a_secret_key_says_so_in_one_line(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("SECRET_KEY", "DEBUG", "DATABASE_URL", "REDIS_URL")
    }
    env["VAR_DIR"] = str(tmp_path)  # the embedded database, as `make run` leaves it
    result = subprocess.run(
        [sys.executable, "manage.py", "showmigrations"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "manage.py: SECRET_KEY must be set when DEBUG is off "
        "(for the `make run` demo's database, DEBUG=1)"
    ]
