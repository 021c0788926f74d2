"""The outbox is pruned (exchange/streams/pruning.py): events older than the keep window
go, in bounded batches, by any number of pruners at once; the channels' sequences keep
rising across prunes and server restarts."""

import threading
from datetime import timedelta

import pytest
from django.db import connections, transaction
from django.utils import timezone

from exchange.models import StreamCounter, StreamEvent
from exchange.streams.outbox import emit
from exchange.streams.pruning import outbox_prune
from exchange.tasks import outbox_prune_task
from tests.streams.server import Client, uvicorn_server

CHANNEL = "account:0x" + "ab" * 20
HOUR = 3600


def events(network, count: int, channel: str = CHANNEL) -> None:
    with transaction.atomic():
        for index in range(count):
            emit(network.id, channel, "balance", {"index": index})


def age(seconds: int) -> None:
    StreamEvent.objects.update(created_at=timezone.now() - timedelta(seconds=seconds))


def sequences(network, channel: str = CHANNEL) -> list[int]:
    rows = StreamEvent.objects.filter(channel=f"{network.id}/{channel}").order_by("sequence")
    return list(rows.values_list("sequence", flat=True))


@pytest.mark.django_db
def test_old_events_are_pruned_and_the_sequence_goes_on(network, settings):
    settings.STREAMS_OUTBOX_KEEP_SECONDS = HOUR
    events(network, 3)
    age(HOUR + 1)
    events(network, 2)

    assert outbox_prune_task.apply().get() == 3
    assert sequences(network) == [4, 5]
    events(network, 1)
    assert sequences(network) == [4, 5, 6]
    assert StreamCounter.objects.get(channel=f"{network.id}/{CHANNEL}").sequence == 6
    assert outbox_prune_task.apply().get() == 0
    assert "exchange.streams_outbox_prune" in {
        entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()
    }


@pytest.mark.django_db
def test_a_run_is_bounded_and_the_next_goes_on(network):
    events(network, 7)
    age(HOUR + 1)
    assert outbox_prune(keep_seconds=HOUR, batch_size=2, batches=2) == 4
    assert sequences(network) == [5, 6, 7]
    assert outbox_prune(keep_seconds=HOUR, batch_size=2, batches=2) == 3
    assert sequences(network) == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres_only
def test_pruners_at_once_take_different_rows(network):
    for _ in range(10):
        events(network, 20)
    age(HOUR + 1)
    deleted, errors = [], []

    def prune():
        try:
            deleted.append(outbox_prune(keep_seconds=HOUR, batch_size=7, batches=100))
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=prune) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(deleted) == 200
    assert not StreamEvent.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres_only
def test_a_subscriber_after_a_prune_and_a_restart_gets_the_next_sequence(network, tmp_path):
    events(network, 5)
    age(HOUR + 1)
    assert outbox_prune(keep_seconds=HOUR) == 5
    with uvicorn_server(tmp_path) as server:  # a fresh process: the sequence is the database's
        client = Client(f"{server.ws_url}?networkId={network.id}")
        client.subscribe(CHANNEL)
        events(network, 1)
        event = client.event_of(CHANNEL)
        client.close()
    assert (event["sequence"], event["data"]) == (6, {"index": 0})
