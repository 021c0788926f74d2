"""Reconciliation against a real anvil node: the ledger, what is in flight, and the contract."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import F

from chain.models import ReconciliationRun
from chain.reconciliation import reconcile_network
from chain.tasks import reconcile
from chain.withdrawals import withdrawals_dispatch_run
from exchange.models import Balance, Network, Trade, Transfer
from exchange.protocol import hashing
from exchange.services.withdrawals import withdrawal_request
from tests.chain.contract import ONE
from tests.signing import next_nonce

pytestmark = pytest.mark.django_db


def differences(ex) -> list:
    return reconcile_network(network=ex.network, client=ex.client).differences


def request_withdrawal(ex, account, token, amount) -> Transfer:
    nonce = next_nonce()
    digest = hashing.withdraw_hash(
        contract=ex.deployment.exchange,
        token=token.address,
        amount=amount,
        account=account.address,
        nonce=nonce,
    )
    return withdrawal_request(
        network=ex.network,
        account=account.address,
        token_address=token.address,
        amount=amount,
        nonce=nonce,
        signature=account.sign_hash(digest),
    )


def reconcile_command(*args) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("reconcile", *args, stdout=out, stderr=out)
    except SystemExit as exit_:
        assert isinstance(exit_.code, int)
        return exit_.code, out.getvalue()
    return 0, out.getvalue()


def test_it_finds_no_difference_with_trades_withdrawals_and_deposits_in_flight(chain_exchange):
    ex = chain_exchange
    ex.network.confirmations = 3
    ex.network.save()
    order = ex.ask(ex.makers[0], give_tst=100 * ONE, take_eth=ONE)
    ex.take(ex.taker, [(order, ONE // 2)])
    ex.take(ex.taker, [(order, ONE // 4)])
    ex.settle()  # both mined, not confirmed: SENT, and on chain
    ex.take(ex.taker, [(order, ONE // 8)])  # booked, not sent: UNSETTLED
    request_withdrawal(ex, ex.makers[1], ex.tst, 5 * ONE)
    withdrawals_dispatch_run(network=ex.network, client=ex.client)  # sent and mined
    request_withdrawal(ex, ex.makers[1], ex.tst, 7 * ONE)  # PENDING
    ex.deposit(ex.makers[1], ex.eth, ONE)
    ex.watch()  # recorded PENDING: 3 confirmations needed
    ex.deposit(ex.makers[0], ex.eth, 2 * ONE)  # on chain, not even seen by the watcher

    withdrawals = Transfer.objects.filter(kind="withdrawal").order_by("id")
    assert [w.status for w in withdrawals] == ["PROCESSING", "PENDING"]
    assert ex.client.receipt(withdrawals[0].transaction_hash).succeeded
    assert list(Trade.objects.values_list("settlement_status", flat=True)) == [
        "SENT",
        "SENT",
        "UNSETTLED",
    ]
    assert Transfer.objects.filter(kind="deposit", status="PENDING").count() == 1
    assert differences(ex) == []

    # Once everything lands, still none.
    ex.deployment.node.mine(3)
    ex.watch()
    ex.settle()
    assert differences(ex) == []


def test_it_reports_a_balance_changed_behind_the_ledgers_back_and_exits_non_zero(chain_exchange):
    ex = chain_exchange
    Balance.objects.filter(account=ex.taker.address, token=ex.eth).update(total=F("total") + 7)

    found = differences(ex)

    by_check = {d.check: d for d in found}
    assert sorted(by_check) == ["balance", "ledger"]
    assert by_check["balance"].account == ex.taker.address
    assert by_check["balance"].token == "ETH"
    assert int(by_check["balance"].expected) - int(by_check["balance"].actual) == 7
    assert by_check["ledger"].actual == f"{10 * ONE + 7}/0"
    assert by_check["ledger"].expected == f"{10 * ONE}/0"

    code, output = reconcile_command("--network", str(ex.network.id))
    assert code == 1
    assert "2 difference(s)" in output
    assert f"[balance] {ex.taker.address} ETH: expected {10 * ONE + 7}, actual {10 * ONE}" in output
    assert "(actual - expected = -7)" in output
    run = ReconciliationRun.objects.get()
    assert run.ok is False and run.finished_at and len(json.loads(run.differences)) == 2


def test_the_command_exits_zero_when_the_ledger_and_the_contract_agree(chain_exchange):
    code, output = reconcile_command()

    assert code == 0, output
    assert "0 difference(s)" in output
    assert ReconciliationRun.objects.get().ok is True


def test_a_failed_trade_is_a_difference_not_something_in_flight(chain_exchange, fund):
    ex = chain_exchange
    phantom = ex.deployment.users[3]
    fund(phantom.address, ex.tst, 500 * ONE)  # credited off chain only
    order = ex.ask(phantom, give_tst=100 * ONE, take_eth=ONE)
    ex.take(ex.taker, [(order, ONE // 2)])
    assert ex.settle().failed

    found = {(d.check, d.account, d.token) for d in differences(ex)}

    fees = ex.deployment.fee_account.address
    assert ("balance", phantom.address, "TST") in found  # the phantom credit itself
    assert ("balance", ex.taker.address, "ETH") in found  # the trade the contract refused
    assert ("balance", fees, "TST") in found


def test_it_reports_tokens_the_contract_holds_beyond_its_balances(chain_exchange):
    ex = chain_exchange
    ex.client.transact(
        "TestToken",
        ex.tst.address,
        "transfer",
        ex.deployment.exchange,
        3,
        private_key=ex.makers[0].key,
    )

    (difference,) = differences(ex)

    assert difference.check == "holdings" and difference.token == "TST"
    assert int(difference.actual) - int(difference.expected) == 3


def test_it_reports_a_fee_account_that_is_not_the_contracts(chain_exchange, settings):
    ex = chain_exchange
    settings.FEE_ACCOUNT = ex.deployment.users[3].address

    found = differences(ex)

    assert found[0].check == "fee_account"
    assert found[0].expected == ex.deployment.users[3].address
    assert found[0].actual == ex.deployment.fee_account.address


def test_the_task_records_a_run_and_a_dead_node_is_a_failed_run(chain_exchange, settings):
    ex = chain_exchange
    reconcile(ex.network.id)
    assert ReconciliationRun.objects.get().ok is True

    Network.objects.filter(pk=ex.network.pk).update(rpc_url="http://127.0.0.1:1")
    settings.CHAIN_RPC_TIMEOUT = 2
    reconcile(ex.network.id)

    latest = ReconciliationRun.objects.first()
    assert latest.ok is False and "ChainUnavailable" in latest.error
    code, output = reconcile_command()
    assert code == 1 and "could not reconcile" in output


def test_operators_see_runs_read_only_in_the_admin(chain_exchange, admin_client):
    ex = chain_exchange
    Balance.objects.filter(account=ex.taker.address, token=ex.eth).update(total=F("total") + 1)
    reconcile(ex.network.id)
    run = ReconciliationRun.objects.get()

    listing = admin_client.get("/admin/chain/reconciliationrun/")
    detail = admin_client.get(f"/admin/chain/reconciliationrun/{run.id}/change/")
    networks = admin_client.get("/admin/exchange/network/")

    assert listing.status_code == 200 and detail.status_code == 200
    assert b"ledger" in detail.content and ex.taker.address.encode() in detail.content
    assert admin_client.get("/admin/chain/reconciliationrun/add/").status_code == 403
    assert b"DIFFERENCES" in networks.content
