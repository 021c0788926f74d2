"""The whole round trip through the API, a real anvil node and a real Celery worker process:
deposits on chain -> credited by the watcher -> signed orders -> one multi-order trade ->
settled on chain by the settler -> a withdrawal to the wallet -> reconciliation clean."""

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from chain.client import ETHER
from chain.models import ReconciliationRun
from chain.tasks import (
    deposits_watch,
    reconcile,
    trades_settle,
    withdrawals_confirm,
    withdrawals_dispatch,
)
from exchange.models import Balance, FeeSchedule, Market, Token, Trade, Transfer
from exchange.protocol import hashing
from tests.celery_worker import wait_for
from tests.chain.contract import ONE, deposit_ether, deposit_token, token_balance
from tests.chain.settling import GAS_FEE, signer_of
from tests.signing import next_nonce, signed_order, signed_trade


@pytest.mark.django_db(transaction=True)
def test_deposit_trade_settle_withdraw_and_reconcile_through_a_celery_worker(
    api, deployment, chain_network, celery_worker, settings
):
    settings.FEE_ACCOUNT = deployment.fee_account.address
    network_id = chain_network.id
    query = f"?networkId={network_id}"
    eth = Token.objects.get(network=chain_network, address=ETHER)
    tst = Token.objects.get(network=chain_network, address=deployment.tst)
    Token.objects.filter(pk=tst.pk).update(trade_gas_fee=GAS_FEE)
    Market.objects.create(network=chain_network, base=eth, quote=tst)
    FeeSchedule.objects.create(
        network=chain_network,
        maker_fee=Decimal("0.001"),
        taker_fee=Decimal("0.002"),
        effective_at=timezone.now() - timedelta(hours=1),
    )
    makers, taker = deployment.users[:2], deployment.users[2]

    # Deposits on chain; the worker's watcher credits them.
    for maker in makers:
        deposit_token(deployment, maker, deployment.tst, 1000 * ONE)
    deposit_ether(deployment, taker, 10 * ONE)
    wait_for(
        lambda: Transfer.objects.filter(kind="deposit", status="COMPLETE").count() == 3,
        nudge=lambda: deposits_watch.delay(network_id),
        worker=celery_worker,
    )

    # Two makers sell TST for ETH; the taker fills both in one request.
    orders = []
    for maker, (give, take) in zip(makers, [(100 * ONE, ONE), (200 * ONE, 3 * ONE)], strict=True):
        payload = signed_order(
            signer_of(maker),
            contract=deployment.exchange,
            give_token=deployment.tst,
            give_amount=give,
            take_token=ETHER,
            take_amount=take,
        )
        response = api.post("/create_orders" + query, payload, format="json")
        assert response.status_code == 201, response.json()
        orders.append(payload["orderHash"])
    fills = [
        signed_trade(
            signer_of(taker), contract=deployment.exchange, order_hash=orders[0], amount=ONE // 2
        ),
        signed_trade(
            signer_of(taker), contract=deployment.exchange, order_hash=orders[1], amount=3 * ONE
        ),
    ]
    response = api.post("/create_trades" + query, fills, format="json")
    assert response.status_code == 201, response.json()

    # The request enqueued the settlement on commit; beat's tick is the nudge here.
    wait_for(
        lambda: Trade.objects.filter(settlement_status="SETTLED").count() == 2,
        nudge=lambda: trades_settle.delay(network_id),
        worker=celery_worker,
    )
    for trade in Trade.objects.all():
        assert deployment.client.traded(trade.hash) and trade.gas_used > 0

    # The taker withdraws the TST it bought to its wallet.
    bought = int(Balance.objects.get(account=taker.address, token=tst).available)
    wallet_before = token_balance(deployment, deployment.tst, taker.address)
    nonce = next_nonce()
    digest = hashing.withdraw_hash(
        contract=deployment.exchange,
        token=deployment.tst,
        amount=bought,
        account=taker.address,
        nonce=nonce,
    )
    response = api.post(
        "/create_transfers" + query,
        {
            "account": taker.address,
            "amount": str(bought),
            "tokenAddress": deployment.tst,
            "nonce": str(nonce),
            "signature": taker.sign_hash(digest),
        },
        format="json",
    )
    assert response.json() == {"success": "0"}

    def nudge_withdrawal():
        withdrawals_dispatch.delay(network_id)
        withdrawals_confirm.delay(network_id)

    wait_for(
        lambda: Transfer.objects.filter(kind="withdrawal", status="COMPLETE").exists(),
        nudge=nudge_withdrawal,
        worker=celery_worker,
    )
    assert token_balance(deployment, deployment.tst, taker.address) == wallet_before + bought

    # Reconciliation, by the worker and by the command: no difference.
    reconcile.delay(network_id)
    wait_for(
        lambda: ReconciliationRun.objects.filter(finished_at__isnull=False).exists(),
        nudge=lambda: None,
        worker=celery_worker,
    )
    run = ReconciliationRun.objects.get()
    assert (run.ok, run.error, run.difference_list) == (True, "", [])
    out = StringIO()
    call_command("reconcile", stdout=out)
    assert "0 difference(s)" in out.getvalue()
