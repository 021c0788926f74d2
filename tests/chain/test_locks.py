import pytest
from django.core.cache import cache

from chain.locks import network_lock
from chain.tasks import deposits_watch
from exchange.models import Transfer
from tests.chain.contract import ONE, deposit_ether


@pytest.fixture(autouse=True)
def clean_locks():
    cache.delete_many(
        [f"relayer:lock:{job}:{n}" for job in ("test", "deposits") for n in (1, 31337)]
    )


def test_one_runner_holds_a_network_lock_at_a_time():
    with (
        network_lock("test", 1) as first,
        network_lock("test", 1) as second,
        network_lock("test", 2) as other_network,
    ):
        assert (first, second, other_network) == (True, False, True)
    with network_lock("test", 1) as again:
        assert again


def test_a_runner_whose_lock_expired_does_not_release_the_next_runners_lock():
    first = network_lock("test", 1)
    assert first.__enter__()
    cache.delete("relayer:lock:test:1")  # its TTL ran out
    second = network_lock("test", 1)
    assert second.__enter__()
    first.__exit__(None, None, None)  # the first runner ends while the second runs

    with network_lock("test", 1) as third:
        assert not third
    second.__exit__(None, None, None)
    with network_lock("test", 1) as fourth:
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
    with network_lock("test", 1) as first, network_lock("test", 1) as second:
        assert (first, second) == (True, False)
    with network_lock("test", 1) as again:
        assert again
