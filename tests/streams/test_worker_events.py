"""A deposit credited and a withdrawal paid by a real Celery worker (on anvil, through the
Redis broker) reach the account channel of a real uvicorn server: the transfer at each
status and the balance."""

import pytest

from chain.client import ETHER
from chain.tasks import deposits_watch, withdrawals_confirm
from exchange.models import Transfer
from exchange.protocol import hashing
from tests.celery_worker import wait_for
from tests.chain.contract import ONE, deposit_ether
from tests.signing import next_nonce
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


def test_a_withdrawal_paid_by_the_worker_reaches_the_account_channel_at_each_status(
    api, deployment, chain_network, celery_worker, settings, tmp_path
):
    settings.FEE_ACCOUNT = deployment.fee_account.address
    user = deployment.users[3]
    account = f"account:{user.address.lower()}"
    deposit_ether(deployment, user, 3 * ONE)
    wait_for(
        lambda: Transfer.objects.filter(kind="deposit", status="COMPLETE").exists(),
        nudge=lambda: deposits_watch.delay(chain_network.id),
        worker=celery_worker,
    )
    with uvicorn_server(tmp_path) as server:
        client = Client(f"{server.ws_url}?networkId={chain_network.id}")
        assert client.subscribe(account)["op"] == "subscribed"
        nonce = next_nonce()
        digest = hashing.withdraw_hash(
            contract=deployment.exchange, token=ETHER, amount=ONE, account=user.address, nonce=nonce
        )
        response = api.post(
            f"/create_transfers?networkId={chain_network.id}",
            {
                "account": user.address,
                "amount": str(ONE),
                "tokenAddress": ETHER,
                "nonce": str(nonce),
                "signature": user.sign_hash(digest),
            },
            format="json",
        )
        assert response.json() == {"success": "0"}
        wait_for(  # the request enqueued the dispatch on commit: the worker sends it
            lambda: Transfer.objects.filter(kind="withdrawal", status="COMPLETE").exists(),
            nudge=lambda: withdrawals_confirm.delay(chain_network.id),
            worker=celery_worker,
        )
        withdrawal = Transfer.objects.get(kind="withdrawal")
        statuses = []
        while statuses[-1:] != ["COMPLETE"]:
            event = client.event_of(account)
            if event["type"] == "transfer" and event["data"]["id"] == str(withdrawal.id):
                statuses.append(event["data"]["status"])
                last = event["data"]
        client.close()
    assert statuses == ["PENDING", "PROCESSING", "COMPLETE"]
    records = api.post(
        f"/get_transfers?networkId={chain_network.id}", {"account": user.address}, format="json"
    ).json()["records"]
    assert last == next(r for r in records if r["id"] == str(withdrawal.id))
