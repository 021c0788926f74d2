"""A process that has published to the other processes' hubs still exits: the relay
thread must never hold the interpreter's shutdown (a worker parked in a thread pool on
an empty queue once kept every test run, Celery worker and command from exiting)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PUBLISH_THEN_EXIT = """
import django
django.setup()
import time
from django.conf import settings
from exchange.streams import relay
assert settings.STREAMS_LAYER_PUBLISH, "needs REDIS_URL"
relay.publish([(1, "31337/book:ETH_TST", 1, "order", "{}")])
time.sleep(1)  # the relay thread takes the rows and waits for the next ones
print("published")
"""


def test_a_process_that_published_exits_when_its_main_thread_ends():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "relayer.settings"}
    done = subprocess.run(
        [sys.executable, "-c", PUBLISH_THEN_EXIT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,  # a hang, not a figure: before the fix it never exited
    )
    assert done.returncode == 0, done.stderr
    assert "published" in done.stdout
