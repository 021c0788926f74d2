"""The deposit watcher against a real anvil node and the deployed exchange."""

import pytest

from chain.client import ETHER
from chain.models import ChainBlock, UnknownTokenDeposit, WatcherCursor
from chain.watcher import WatchResult, _scan_range, deposits_watch_run
from exchange.models import AccountRestriction, Balance, LedgerEntry, LedgerKind, Transfer
from tests.chain.contract import ONE, deposit_ether, deposit_token

pytestmark = pytest.mark.django_db


def watch(deployment, network, **limits):
    return deposits_watch_run(network=network, client=deployment.client, **limits)


def credited(account: str, token_address: str) -> int:
    balance = Balance.objects.filter(account=account, token__address=token_address).first()
    return int(balance.total) if balance else 0


def test_it_credits_a_deposit_exactly_once_after_its_confirmations(deployment, chain_network):
    chain_network.confirmations = 3
    chain_network.save()
    user = deployment.users[0]
    receipt = deposit_ether(deployment, user, 2 * ONE)

    watch(deployment, chain_network)
    deposit = Transfer.objects.get(kind="deposit")
    assert (deposit.status, deposit.amount, deposit.account) == ("PENDING", 2 * ONE, user.address)
    assert (deposit.transaction_hash, deposit.block_number, deposit.block_hash) == (
        receipt.transaction_hash,
        receipt.block_number,
        receipt.block_hash,
    )
    assert credited(user.address, ETHER) == 0

    deployment.node.mine(1)  # 2 confirmations of 3
    watch(deployment, chain_network)
    assert Transfer.objects.get(id=deposit.id).status == "PENDING"
    assert credited(user.address, ETHER) == 0

    deployment.node.mine(1)  # 3 of 3
    result = watch(deployment, chain_network)
    assert result.credited == [deposit.id]
    for _ in range(3):
        deployment.node.mine(1)
        watch(deployment, chain_network)

    assert Transfer.objects.get(id=deposit.id).status == "COMPLETE"
    assert credited(user.address, ETHER) == 2 * ONE
    assert LedgerEntry.objects.filter(kind=LedgerKind.DEPOSIT).count() == 1


def test_it_credits_token_deposits_of_several_users(deployment, chain_network):
    first, second = deployment.users[0], deployment.users[1]
    deposit_token(deployment, first, deployment.tst, 5 * ONE)
    deposit_token(deployment, second, deployment.tst, 7 * ONE)
    deposit_token(deployment, first, deployment.six, 3_000_000)

    watch(deployment, chain_network)

    assert set(Transfer.objects.values_list("status", flat=True)) == {"COMPLETE"}
    assert credited(first.address, deployment.tst) == 5 * ONE
    assert credited(second.address, deployment.tst) == 7 * ONE
    assert credited(first.address, deployment.six) == 3_000_000


def test_a_deposit_in_a_block_reorganised_away_is_never_credited(deployment, chain_network):
    chain_network.confirmations = 3
    chain_network.save()
    user = deployment.users[0]
    before_deposit = deployment.node.snapshot()
    deposit_ether(deployment, user, ONE)
    watch(deployment, chain_network)
    deposit = Transfer.objects.get(kind="deposit")
    assert deposit.status == "PENDING"

    # The block with the deposit leaves the chain: a longer chain without it replaces it.
    deployment.node.revert(before_deposit)
    deployment.node.mine(5)
    result = watch(deployment, chain_network)

    assert result.reorg
    assert result.rewound_to is None or result.rewound_to < deposit.block_number
    deposit.refresh_from_db()
    assert (deposit.status, deposit.error) == ("FAILED", "its block left the chain")
    deployment.node.mine(5)
    watch(deployment, chain_network)
    assert Transfer.objects.get(id=deposit.id).status == "FAILED"
    assert credited(user.address, ETHER) == 0
    assert not LedgerEntry.objects.exists()
    cursor = WatcherCursor.objects.get(network=chain_network)
    assert cursor.block_hash == deployment.client.block(cursor.block_number).hash


def test_a_deposit_mined_again_after_a_reorg_is_credited_once(deployment, chain_network):
    chain_network.confirmations = 2
    chain_network.save()
    user = deployment.users[0]
    before_deposit = deployment.node.snapshot()
    receipt = deposit_ether(deployment, user, ONE)
    raw = deployment.node.rpc("eth_getRawTransactionByHash", [receipt.transaction_hash])
    watch(deployment, chain_network)

    deployment.node.revert(before_deposit)
    deployment.node.mine(3)
    watch(deployment, chain_network)
    assert Transfer.objects.get(kind="deposit").status == "FAILED"
    # The same signed transaction is mined again in the new chain, in another block.
    deployment.node.rpc("eth_sendRawTransaction", [raw])
    deployment.node.mine(2)
    watch(deployment, chain_network)

    deposit = Transfer.objects.get(kind="deposit")
    assert deposit.status == "COMPLETE"
    assert deposit.block_hash != receipt.block_hash
    assert credited(user.address, ETHER) == ONE


def test_a_watcher_that_was_down_catches_up_in_bounded_ranges(deployment, chain_network):
    user = deployment.users[0]
    for amount in (1, 2, 3):
        deposit_ether(deployment, user, amount * ONE)
        deployment.node.mine(4)
    head = deployment.client.head()

    runs = 0
    while WatcherCursor.objects.filter(network=chain_network, block_number=head).count() == 0:
        result = watch(deployment, chain_network, max_block_range=3, max_ranges=2)
        runs += 1
        assert result.scanned_to is not None
        assert runs < 100

    assert runs == -(-(head + 1) // 6)  # blocks 0..head, six per run
    assert credited(user.address, ETHER) == 6 * ONE
    assert Transfer.objects.filter(status="COMPLETE").count() == 3


def test_a_watcher_restarted_mid_range_neither_misses_nor_doubles_a_deposit(
    deployment, chain_network
):
    user = deployment.users[0]
    receipts = []
    for amount in (1, 2, 3, 4):
        receipts.append(deposit_ether(deployment, user, amount * ONE))
    watch(deployment, chain_network, max_block_range=receipts[1].block_number + 1, max_ranges=1)
    assert Transfer.objects.count() == 2

    # A watcher killed after reading a range but before its cursor was saved starts again
    # from the older cursor and reads those blocks a second time.
    WatcherCursor.objects.filter(network=chain_network).update(
        block_number=receipts[0].block_number - 1,
        block_hash=deployment.client.block(receipts[0].block_number - 1).hash,
    )
    watch(deployment, chain_network, max_block_range=2, max_ranges=1)  # stops mid-way again
    watch(deployment, chain_network)

    assert sorted(Transfer.objects.values_list("amount", flat=True)) == [
        n * ONE for n in (1, 2, 3, 4)
    ]
    assert set(Transfer.objects.values_list("status", flat=True)) == {"COMPLETE"}
    assert credited(user.address, ETHER) == 10 * ONE
    assert LedgerEntry.objects.filter(kind=LedgerKind.DEPOSIT).count() == 4


def test_a_deposit_of_a_token_the_network_does_not_know_is_recorded_but_not_credited(
    deployment, chain_network
):
    user = deployment.users[2]
    deposit_token(deployment, user, deployment.usdt, 5_000_000)

    watch(deployment, chain_network)

    unknown = UnknownTokenDeposit.objects.get()
    assert (unknown.token_address, unknown.account, unknown.amount) == (
        deployment.usdt,
        user.address,
        5_000_000,
    )
    assert not Transfer.objects.exists()
    assert not Balance.objects.exists()
    watch(deployment, chain_network)
    assert UnknownTokenDeposit.objects.count() == 1


def test_it_keeps_the_hashes_of_the_blocks_it_read(deployment, chain_network):
    receipt = deposit_ether(deployment, deployment.users[0], ONE)
    deployment.node.mine(2)

    watch(deployment, chain_network)

    stored = dict(ChainBlock.objects.filter(network=chain_network).values_list("number", "hash"))
    head = deployment.client.head()
    assert stored[receipt.block_number] == receipt.block_hash
    assert stored[head] == deployment.client.block(head).hash
    cursor = WatcherCursor.objects.get(network=chain_network)
    assert (cursor.block_number, cursor.block_hash) == (head, stored[head])


def test_a_credited_deposit_reorganised_away_freezes_its_account_and_is_not_undone(
    deployment, chain_network
):
    user = deployment.users[0]
    before_deposit = deployment.node.snapshot()
    deposit_ether(deployment, user, ONE)
    watch(deployment, chain_network)  # one confirmation is enough on this network
    assert credited(user.address, ETHER) == ONE

    deployment.node.revert(before_deposit)
    deployment.node.mine(3)
    result = watch(deployment, chain_network)

    assert result.reorg
    deposit = Transfer.objects.get(kind="deposit")
    assert deposit.status == "COMPLETE"
    assert "the account is frozen until an operator resolves it" in deposit.error
    assert result.left_chain == [deposit.id]
    assert AccountRestriction.objects.get(transfer=deposit).kind == "FROZEN"
    assert credited(user.address, ETHER) == ONE


def test_a_range_past_the_nodes_head_is_left_for_the_next_run(deployment, chain_network):
    """The head was read, then the node's chain got shorter (a reorg to a shorter chain,
    another node behind a balancer): the range's last block has no hash. The range is
    not scanned and the cursor keeps its block. Before, the scan went on: anvil refuses
    the eth_getLogs (counted as a failed scan: backoff, halved range); a node that answers
    logs past its head had the cursor and ChainBlock saved without a hash."""
    deposit_ether(deployment, deployment.users[0], ONE)
    watch(deployment, chain_network)
    cursor = WatcherCursor.objects.get(network=chain_network)
    before = (cursor.block_number, cursor.block_hash)
    head = deployment.client.head()

    scanned = _scan_range(
        network=chain_network,
        cursor=cursor,
        client=deployment.client,
        start=head + 1,
        end=head + 5,
        result=WatchResult(head=head + 5),
    )

    assert scanned is False
    cursor.refresh_from_db()
    assert (cursor.block_number, cursor.block_hash) == before
    assert not ChainBlock.objects.filter(network=chain_network, number__gt=head).exists()
