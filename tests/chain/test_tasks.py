import pytest
from django.conf import settings

from chain.tasks import _chain_networks
from relayer.celery import app
from tests.factories import NetworkFactory


def test_every_beat_entry_names_a_registered_task():
    app.loader.import_default_modules()
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks


@pytest.mark.django_db
def test_the_chain_ticks_cover_enabled_networks_with_a_node_and_a_contract():
    watched = NetworkFactory(rpc_url="http://node", exchange_address="0x" + "ab" * 20)
    NetworkFactory(rpc_url="", exchange_address="0x" + "ab" * 20)
    NetworkFactory(rpc_url="http://node", exchange_address="")
    NetworkFactory(rpc_url="http://node", exchange_address="0x" + "ab" * 20, enabled=False)

    assert list(_chain_networks().values_list("id", flat=True)) == [watched.id]
