"""End to end through a real Celery worker process on the Redis broker: a deposit is
credited and a withdrawal requested over the API is paid on chain, by the worker alone."""

import pytest

from chain.client import ETHER
from chain.tasks import deposits_watch, withdrawals_confirm
from exchange.models import Balance, Token, Transfer
from exchange.protocol import hashing
from tests.celery_worker import wait_for
from tests.chain.contract import ONE, deposit_ether, token_balance
from tests.signing import next_nonce

FEE = ONE // 100


@pytest.mark.django_db(transaction=True)
def test_a_celery_worker_credits_a_deposit_and_pays_a_withdrawal(
    api, deployment, chain_network, celery_worker, settings
):
    settings.FEE_ACCOUNT = deployment.fee_account.address
    Token.objects.filter(network=chain_network, address=ETHER).update(withdrawal_fee=FEE)
    user = deployment.users[3]
    deposit_ether(deployment, user, 3 * ONE)

    wait_for(
        lambda: Transfer.objects.filter(kind="deposit", status="COMPLETE").exists(),
        nudge=lambda: deposits_watch.delay(chain_network.id),
        worker=celery_worker,
    )
    assert Balance.objects.get(account=user.address).total == 3 * ONE

    wallet_before = token_balance(deployment, ETHER, user.address)
    nonce = next_nonce()
    digest = hashing.withdraw_hash(
        contract=deployment.exchange, token=ETHER, amount=2 * ONE, account=user.address, nonce=nonce
    )
    response = api.post(
        f"/create_transfers?networkId={chain_network.id}",
        {
            "account": user.address,
            "amount": str(2 * ONE),
            "tokenAddress": ETHER,
            "nonce": str(nonce),
            "signature": user.sign_hash(digest),
        },
        format="json",
    )
    assert response.json() == {"success": "0"}

    # The request enqueued the dispatch on commit; the worker sends it by itself.
    wait_for(
        lambda: Transfer.objects.filter(kind="withdrawal", broadcast_at__isnull=False).exists(),
        nudge=lambda: None,
        worker=celery_worker,
    )
    wait_for(
        lambda: Transfer.objects.filter(kind="withdrawal", status="COMPLETE").exists(),
        nudge=lambda: withdrawals_confirm.delay(chain_network.id),
        worker=celery_worker,
    )

    withdrawal = Transfer.objects.get(kind="withdrawal")
    assert deployment.client.receipt(withdrawal.transaction_hash).succeeded
    assert token_balance(deployment, ETHER, user.address) == wallet_before + 2 * ONE - FEE
    balance = Balance.objects.get(account=user.address)
    assert (balance.total, balance.held) == (ONE, 0)
    records = api.post(
        f"/get_transfers?networkId={chain_network.id}", {"account": user.address}, format="json"
    ).json()["records"]
    assert [(r["type"], r["status"]) for r in records] == [
        ("withdrawal", "COMPLETE"),
        ("deposit", "COMPLETE"),
    ]
