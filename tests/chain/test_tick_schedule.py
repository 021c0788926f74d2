"""The chain tick (chain/tick_schedule.py) against the suite's Redis: at most one network
tick waits per network and lane, and a started one lets the next be sent."""

import pytest
from django.core.cache import cache

from chain import tick_schedule
from relayer.celery import app
from tests.factories import NetworkFactory


@pytest.fixture
def network():
    network = NetworkFactory(rpc_url="http://node", exchange_address="0x" + "ab" * 20)
    yield network
    for lane in tick_schedule.LANES:
        cache.delete(tick_schedule._waiting_key(network.id, lane))
        cache.delete(tick_schedule._sent_key(network.id, lane))
        cache.delete(tick_schedule._state_key(network.id, lane))
    app.control.purge()  # the network ticks this test sent


@pytest.mark.django_db
def test_a_waiting_network_tick_is_not_sent_again(network):
    assert tick_schedule.tick_send(now=1000.0) == [
        (network.id, "deposits"),
        (network.id, "operator"),
    ]
    assert tick_schedule.tick_send(now=1001.0) == []
    assert tick_schedule.tick_send(now=1010.0) == []  # still waiting: nothing piles up


@pytest.mark.django_db
def test_a_started_network_tick_lets_the_next_one_go_and_records_its_delay(network, monkeypatch):
    monkeypatch.setitem(tick_schedule.LANES, "deposits", ())  # its jobs: not this test's
    tick_schedule.tick_send(now=1000.0)
    tick_schedule.network_tick(network.id, "deposits", 1000.0)

    (state,) = [s for s in tick_schedule.tick_states() if s["lane"] == "deposits"]
    assert state["network"] == network.id and state["delay"] > 0 and state["ended"]
    # The deposits lane is due every second; the operator lane's tick still waits.
    assert tick_schedule.tick_send(now=1001.0) == [(network.id, "deposits")]


@pytest.mark.django_db
def test_with_network_queues_each_network_tick_goes_to_its_networks_queue(network, settings):
    settings.CELERY_NETWORK_QUEUES = True
    queue = f"chain-{network.id}"
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        channel.queue_purge(queue), channel.queue_purge("celery")
        tick_schedule.tick_send(now=1000.0)
        # Both lanes' network ticks wait on the network's queue, none on the default.
        assert (channel.queue_purge(queue), channel.queue_purge("celery") or 0) == (2, 0)


def test_no_periodic_message_expires():
    from django.conf import settings

    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert "expires" not in entry.get("options", {})
