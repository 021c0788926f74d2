"""A deposit credited by a real Celery worker (on anvil, through the Redis broker)
reaches the account channel of a real uvicorn server: the transfer and the balance."""

import pytest

from chain.client import ETHER
from chain.tasks import deposits_watch
from exchange.models import Transfer
from tests.celery_worker import wait_for
from tests.chain.contract import ONE, deposit_ether
from tests.streams.server import Client, uvicorn_server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres_only]


def test_a_worker_credited_deposit_reaches_the_account_channel(
    deployment, chain_network, celery_worker, settings, tmp_path
):
    settings.FEE_ACCOUNT = deployment.fee_account.address
    user = deployment.users[3]
    account = f"account:{user.address.lower()}"
    with uvicorn_server(tmp_path) as server:
        client = Client(f"{server.ws_url}?networkId={chain_network.id}")
        assert client.subscribe(account)["op"] == "subscribed"
        deposit_ether(deployment, user, 3 * ONE)
        wait_for(
            lambda: Transfer.objects.filter(kind="deposit", status="COMPLETE").exists(),
            nudge=lambda: deposits_watch.delay(chain_network.id),
            worker=celery_worker,
        )
        deposit = Transfer.objects.get(kind="deposit")
        events = []
        while not any(e["type"] == "balance" for e in events):
            events.append(client.event_of(account))
        transfers = [e["data"] for e in events if e["type"] == "transfer"]
        assert transfers[-1]["status"] == "COMPLETE"
        assert transfers[-1]["id"] == str(deposit.id)
        assert transfers[-1]["amount"] == str(3 * ONE)
        balance = next(e for e in events if e["type"] == "balance")["data"]
        assert balance == {"token": ETHER, "balance": str(3 * ONE), "holdBalance": "0"}
        sequences = [e["sequence"] for e in events]
        assert sequences == list(range(sequences[0], sequences[0] + len(sequences)))
        client.close()
