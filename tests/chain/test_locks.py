import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import connection

from chain.locks import cache_lock, network_lock
from chain.tasks import deposits_watch
from exchange.models import Transfer
from tests.chain.contract import ONE, deposit_ether


@pytest.fixture(autouse=True)
def clean_locks():
    cache.delete_many(
        [f"relayer:lock:{job}:{n}" for job in ("test", "deposits") for n in (1, 31337)]
    )


@pytest.mark.django_db
def test_one_runner_holds_a_network_lock_at_a_time():
    with (
        network_lock("test", 1) as first,
        network_lock("test", 1) as second,
        network_lock("test", 2) as other_network,
    ):
        assert (first, second, other_network) == (True, False, True)
    with network_lock("test", 1) as again:
        assert again


def test_a_runner_whose_cache_lock_expired_does_not_release_the_next_runners_lock():
    first = cache_lock("test", 1)
    assert first.__enter__()
    cache.delete("relayer:lock:test:1")  # its TTL ran out
    second = cache_lock("test", 1)
    assert second.__enter__()
    first.__exit__(None, None, None)  # the first runner ends while the second runs

    with cache_lock("test", 1) as third:
        assert not third
    second.__exit__(None, None, None)
    with cache_lock("test", 1) as fourth:
        assert fourth


@pytest.mark.django_db
def test_the_watch_task_does_nothing_while_another_runner_holds_the_network(
    deployment, chain_network
):
    deposit_ether(deployment, deployment.users[0], ONE)
    with network_lock("deposits", chain_network.id) as held:
        assert held
        deposits_watch(chain_network.id)
        assert not Transfer.objects.exists()
    deposits_watch(chain_network.id)
    assert Transfer.objects.get().status == "COMPLETE"


@pytest.mark.django_db
def test_the_lock_works_on_the_database_cache_of_the_embedded_mode(settings):
    from django.core.management import call_command

    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "relayer_cache_test",
        }
    }
    call_command("createcachetable", verbosity=0)
    from django.core.cache import caches
    from django.core.cache.backends.db import DatabaseCache

    assert isinstance(caches["default"], DatabaseCache)
    with cache_lock("test", 1) as first, cache_lock("test", 1) as second:
        assert (first, second) == (True, False)
    with cache_lock("test", 1) as again:
        assert again


HOLD_THE_LOCK = """
import django, sys, time
django.setup()
from chain.locks import network_lock
with network_lock("test", 7) as held:
    print("held" if held else "busy", flush=True)
    time.sleep(600)
"""


def _lock_holder() -> subprocess.Popen:
    db = connection.settings_dict
    url = f"postgres://{db['USER'] or 'postgres'}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    return subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_LOCK],
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "relayer.settings", "DATABASE_URL": url},
        stdout=subprocess.PIPE,
        text=True,
    )


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_runner_killed_with_sigkill_frees_the_network_at_once():
    holder = _lock_holder()
    try:
        assert holder.stdout.readline().strip() == "held"
        with network_lock("test", 7) as while_it_runs:
            assert not while_it_runs  # another process, another session: refused
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=10)
        deadline = time.monotonic() + 5  # no TTL to wait out: the server saw the socket close
        while True:
            with network_lock("test", 7) as after_the_kill:
                if after_the_kill:
                    break
            assert time.monotonic() < deadline, "the dead runner's lock was not released"
            time.sleep(0.05)
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.stdout.close()
