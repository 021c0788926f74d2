"""Issue #13, finding 6: a reorg deeper than the confirmations takes away a credited
deposit. The watcher freezes the account (orders, fills, withdrawals refused), the
dashboard and /metrics raise the alert, and the operator resolves it in the admin with
the ledger entries that undo the credit."""

import pytest
from django.urls import reverse

from chain.client import ETHER
from chain.models import WatcherCursor
from chain.reconciliation import reconcile_network
from chain.watcher import deposits_watch_run
from exchange.models import (
    AccountRestriction,
    LedgerEntry,
    Order,
    OrderStatus,
    RestrictionKind,
    Transfer,
)
from exchange.services.deep_reorgs import ReorgResolutionRefused, deposit_reorg_undo
from exchange.services.errors import FieldError
from tests.chain.contract import ONE
from tests.chain.settling import TAKER_FUNDS, signer_of
from tests.chain.test_withdrawals import request_withdrawal
from tests.signing import signed_order
from tests.trading import balance, place

pytestmark = pytest.mark.django_db


@pytest.fixture
def reorged(chain_exchange):
    """users[3] deposits 2 ETH; it is credited after 2 confirmations and bids with it;
    then a longer chain without the deposit replaces the last blocks (evm_revert past the
    confirmation depth, then more blocks)."""
    ex = chain_exchange
    ex.network.confirmations = 2
    ex.network.save()
    victim_of_reorg = ex.deployment.users[3]
    before = ex.deployment.node.snapshot()
    ex.deposit(victim_of_reorg, ex.eth, 2 * ONE)
    ex.deployment.node.mine(2)
    ex.watch()
    deposit = Transfer.objects.get(kind="deposit", account=victim_of_reorg.address)
    assert deposit.status == "COMPLETE"
    order = place_bid(ex, victim_of_reorg, ONE)
    ex.deployment.node.revert(before)
    ex.deployment.node.mine(6)
    return ex, victim_of_reorg, deposit, order


def watch(ex):
    return deposits_watch_run(network=ex.network, client=ex.client)


def place_bid(ex, account, give_eth: int) -> Order:
    return place(
        signer_of(account),
        give_token=ex.eth,
        give_amount=give_eth,
        take_token=ex.tst,
        take_amount=100 * ONE,
    )


def freeze(deposit) -> AccountRestriction:
    return AccountRestriction.objects.get(kind=RestrictionKind.FROZEN, transfer=deposit)


def test_the_watcher_freezes_the_account_of_a_credited_deposit_that_left_the_chain(reorged):
    ex, account, deposit, _order = reorged

    result = watch(ex)

    assert result.left_chain == [deposit.id]
    restriction = freeze(deposit)
    assert restriction.account == account.address and restriction.is_open
    assert f"deposit {deposit.id}" in restriction.reason
    # The ledger is left alone: the operator decides.
    assert balance(account.address, ex.eth) == (2 * ONE, ONE)
    assert Transfer.objects.get(id=deposit.id).status == "COMPLETE"
    # Reconciliation shows it: the contract never got the 2 ETH.
    [difference] = reconcile_network(network=ex.network, client=ex.client).differences
    assert (difference.account, difference.expected, difference.actual) == (
        account.address,
        str(2 * ONE),
        "0",
    )
    ex.watch()  # flagged once
    assert AccountRestriction.objects.filter(transfer=deposit).count() == 1


def test_the_recheck_finds_it_even_when_the_cursor_was_moved_onto_the_new_chain(reorged):
    """An operator re-pointed the watcher's cursor (admin, Watcher cursors) after the
    reorg: the cursor is canonical, so only the re-check of credited deposits sees it."""
    ex, _account, deposit, _order = reorged
    head = ex.client.block(ex.client.head())
    WatcherCursor.objects.filter(network=ex.network).update(
        block_number=head.number, block_hash=head.hash
    )

    result = watch(ex)

    assert not result.reorg and result.left_chain == [deposit.id]
    assert freeze(deposit).is_open


def test_a_frozen_account_cannot_order_fill_or_withdraw(reorged, api):
    ex, account, _deposit, order = reorged
    ex.watch()

    payload = signed_order(
        signer_of(account),
        contract=ex.network.exchange_address,
        give_token=ex.eth,
        give_amount=ONE // 2,
        take_token=ex.tst,
        take_amount=10 * ONE,
    )
    response = api.post(f"/create_orders?networkId={ex.network.id}", payload, format="json")
    assert response.status_code == 400
    [error] = response.json()["validationErrors"]
    assert (error["field"], error["code"]) == ("account", 1006)
    assert f"Account {account.address} is frozen" in error["reason"]

    with pytest.raises(FieldError) as refusal:  # a maker of another's order: its fill
        ex.take(ex.makers[0], [(order, 10 * ONE)])
    assert refusal.value.field == "orderHash" and "is frozen" in refusal.value.reason
    with pytest.raises(FieldError) as refusal:
        request_withdrawal(ex.deployment, ex.network, account, ONE // 2, ETHER)
    assert refusal.value.field == "account" and "is frozen" in refusal.value.reason
    # Others trade as before.
    assert place_bid(ex, ex.taker, ONE).status == OrderStatus.OPEN


def test_the_alert_is_on_the_dashboard_and_in_the_metrics(reorged, admin_client, api):
    ex, account, _deposit, _order = reorged
    ex.watch()

    page = admin_client.get("/admin/dashboard/").content.decode()
    metrics = api.get("/metrics").content.decode()

    assert "Account frozen (deep reorg)" in page and account.address in page
    assert f'relayer_frozen_accounts{{network="{ex.network.id}"}} 1.0' in metrics


def test_the_operator_undoes_the_deposit_with_the_ledger_entries_shown(reorged, admin_client):
    ex, account, deposit, order = reorged
    ex.watch()
    restriction = freeze(deposit)
    url = reverse("admin:exchange_accountrestriction_changelist")

    listing = admin_client.get(url).content.decode()
    assert f"cancel 1 open order(s) in the token, then a DEPOSIT entry of -{2 * ONE}" in listing
    response = admin_client.post(
        url, {"action": "undo_deposit", "_selected_action": [restriction.pk]}, follow=True
    )

    assert "1 deposit(s) undone" in response.content.decode()
    assert not freeze(deposit).is_open
    assert Transfer.objects.get(id=deposit.id).status == "FAILED"
    assert Order.objects.get(id=order.id).status == OrderStatus.CANCELLED
    assert balance(account.address, ex.eth) == (0, 0)
    undo = LedgerEntry.objects.get(reference=f"reorg:{deposit.id}")
    assert (undo.kind, int(undo.total_delta)) == ("DEPOSIT", -2 * ONE)
    assert reconcile_network(network=ex.network, client=ex.client).differences == []
    with pytest.raises(ReorgResolutionRefused):
        deposit_reorg_undo(restriction_id=restriction.id)
    # The account trades again.
    assert balance(ex.taker.address, ex.eth)[0] == TAKER_FUNDS


def test_undo_is_refused_and_changes_nothing_when_the_deposit_was_spent(reorged):
    ex, _account, deposit, order = reorged
    ex.take(ex.makers[0], [(order, 50 * ONE)])  # half the bid filled before the freeze
    ex.watch()
    restriction = freeze(deposit)
    entries = LedgerEntry.objects.count()

    with pytest.raises(ReorgResolutionRefused, match="spent in trades"):
        deposit_reorg_undo(restriction_id=restriction.id)

    assert freeze(deposit).is_open and LedgerEntry.objects.count() == entries
    assert Order.objects.get(id=order.id).status == OrderStatus.OPEN
