"""Marks set once a transaction commits (exchange/commit_marks.py): a fill's ticker and
settlement marks in one Redis round trip, each mark's action run only by the commit
that set it, and the actions still run when the cache cannot be reached."""

import logging

import pytest
from celery.signals import before_task_publish
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.db import transaction

from exchange.commit_marks import Mark, marks_set, marks_set_on_commit
from exchange.services.chain_jobs import settlement_nudge_taken
from tests.api.test_request_round_trips import _monitored
from tests.trading import fill_payload, place

ETH = 10**18


def _redis_cache_or_skip():
    if not isinstance(caches["default"], RedisCache):
        pytest.skip("needs the Redis cache (REDIS_URL)")


@pytest.fixture
def published():
    """The Celery task names published while the test runs (Celery's own signal)."""
    names: list[str] = []

    def record(sender=None, **_):
        names.append(sender)

    before_task_publish.connect(record, weak=False)
    yield names
    before_task_publish.disconnect(record)


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres_only
def test_a_fill_sets_its_ticker_and_settlement_marks_in_one_round_trip(
    api, network, market, fees, maker, taker, published
):
    _redis_cache_or_skip()
    caches["default"].delete(f"streams:ticker:{market.id}")
    settlement_nudge_taken(network.id)
    ask = place(
        maker,
        give_token=market.quote,
        give_amount=3000 * ETH,
        take_token=market.base,
        take_amount=ETH,
    )

    def fill():
        response = api.post("/create_trades", fill_payload(taker, ask, ETH // 4), format="json")
        assert response.status_code == 201, response.content

    commands = [c["command"] for c in _monitored(fill)]
    blocks = _transactions(commands)
    [block] = [block for block in blocks if any(_name(c) == "SET" for c in block)]
    marks = [command for command in block if _name(command) == "SET"]
    assert len(marks) == 2, block
    # Nothing else of the marks' is sent outside that MULTI ... EXEC.
    inside = {command for block in blocks for command in block}
    outside = [c for c in commands if c not in inside]
    assert not [c for c in outside if "streams:ticker" in c or "settlement-nudged" in c], outside
    assert any(f"streams:ticker:{market.id}" in mark for mark in marks), block
    assert any(f"chain:settlement-nudged:{network.id}" in mark for mark in marks), block
    assert all(" NX" in mark.upper() for mark in marks), block
    assert sorted(published) == ["chain.tasks.trades_settle", "exchange.streams_ticker"]

    # A second fill in the same second finds both marks set: nothing more is published.
    fill()
    assert sorted(published) == ["chain.tasks.trades_settle", "exchange.streams_ticker"]


def _name(command: str) -> str:
    return command.split()[0].strip('"').upper()


def _transactions(commands: list[str]) -> list[list[str]]:
    """The MULTI ... EXEC blocks among MONITOR's commands."""
    blocks: list[list[str]] = []
    current: list[str] | None = None
    for command in commands:
        name = _name(command)
        if name == "MULTI":
            current = []
        if current is not None:
            current.append(command)
        if name == "EXEC" and current is not None:
            blocks.append(current)
            current = None
    return blocks


@pytest.mark.django_db(transaction=True)
def test_only_the_commit_that_sets_a_mark_runs_its_action():
    ran: list[str] = []
    caches["default"].delete("test:mark")
    mark = Mark(key="test:mark", seconds=60, then=lambda: ran.append("first"))
    again = Mark(key="test:mark", seconds=60, then=lambda: ran.append("second"))

    with transaction.atomic():
        marks_set_on_commit([mark])
        assert ran == []  # nothing before the commit
    with transaction.atomic():
        marks_set_on_commit([again])
    assert ran == ["first"]

    with transaction.atomic():
        marks_set_on_commit(
            [Mark(key="test:mark:rolled", seconds=60, then=lambda: ran.append("x"))]
        )
        transaction.set_rollback(True)
    assert ran == ["first"]
    assert caches["default"].get("test:mark:rolled") is None

    caches["default"].delete("test:mark")
    marks_set([again])
    assert ran == ["first", "second"]


def test_with_the_cache_unreachable_every_action_runs_and_the_error_is_logged(settings, caplog):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            # Nothing listens on port 1: a real connection refusal.
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 1},
        }
    }
    ran: list[str] = []
    with caplog.at_level(logging.WARNING, logger="exchange.commit_marks"):
        marks_set(
            [
                Mark(key="a", seconds=1, then=lambda: ran.append("a")),
                Mark(key="b", seconds=1, then=lambda: ran.append("b")),
            ]
        )
    assert ran == ["a", "b"]
    assert "event=commit_marks_cache_error marks=2" in caplog.text


def test_a_failing_action_does_not_stop_the_others(settings, caplog):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    ran: list[str] = []

    def broken():
        raise RuntimeError("broker down")

    with caplog.at_level(logging.ERROR, logger="exchange.commit_marks"):
        marks_set(
            [
                Mark(key="first", seconds=5, then=broken),
                Mark(key="second", seconds=5, then=lambda: ran.append("second")),
            ]
        )
        marks_set([Mark(key="second", seconds=5, then=lambda: ran.append("again"))])
    assert ran == ["second"]
    assert "event=commit_mark_action_failed key=first" in caplog.text
