"""The watcher's bulk path: a range's logs recorded in one INSERT, confirmed deposits
credited in batches, each exactly once, against a real anvil node and PostgreSQL."""

import threading

import pytest
from django.db import connection

from chain import watcher
from chain.anvil import DevAccount
from chain.client import ETHER
from chain.models import UnknownTokenDeposit, WatcherCursor
from chain.rpc_batch import selector
from chain.watcher import deposits_watch_run
from exchange.models import Balance, LedgerEntry, LedgerKind, Transfer
from exchange.services.deposit_records import deposits_confirm
from tests.chain.contract import ONE, deposit_token

DEPOSIT = "0x" + selector("deposit()").hex()


def watch(deployment, network, **limits):
    return deposits_watch_run(network=network, client=deployment.client, **limits)


def burst(deployment, amounts_by_user: list[tuple[DevAccount, int]]) -> list[str]:
    """Ether deposits sent with automine off and mined in one block; their hashes."""
    node = deployment.node
    node.rpc("evm_setAutomine", [False])
    try:
        hashes = [
            node.rpc(
                "eth_sendTransaction",
                [
                    {
                        "from": user.address,
                        "to": deployment.exchange,
                        "value": hex(amount),
                        "data": DEPOSIT,
                        "gas": hex(100_000),
                    }
                ],
            )
            for user, amount in amounts_by_user
        ]
        node.mine(1)
    finally:
        node.rpc("evm_setAutomine", [True])
    return hashes


def many(deployment, count: int) -> list[tuple[object, int]]:
    return [(deployment.users[i % 4], (i + 1) * ONE // 100) for i in range(count)]


def ether_total(account: str) -> int:
    balance = Balance.objects.filter(account=account, token__address=ETHER).first()
    return int(balance.total) if balance else 0


def expected_totals(deposits) -> dict[str, int]:
    totals: dict[str, int] = {}
    for user, amount in deposits:
        totals[user.address] = totals.get(user.address, 0) + amount
    return totals


@pytest.mark.django_db
def test_many_deposits_in_one_range_are_credited_once_each_in_batches(
    deployment, chain_network, monkeypatch
):
    monkeypatch.setattr(watcher, "CREDIT_BATCH", 7)  # several batches of uneven size
    deposits = many(deployment, 40)
    burst(deployment, deposits)

    result = watch(deployment, chain_network)

    assert len(result.credited) == 40
    assert Transfer.objects.filter(kind="deposit", status="COMPLETE").count() == 40
    entries = LedgerEntry.objects.filter(kind=LedgerKind.DEPOSIT)
    assert sorted(entries.values_list("reference", flat=True)) == sorted(
        f"deposit:{pk}" for pk in Transfer.objects.values_list("id", flat=True)
    )
    for address, total in expected_totals(deposits).items():
        assert ether_total(address) == total
        # Each entry's total_after chains from the one before on the same balance.
        afters = [int(e.total_after) for e in entries.filter(balance__account=address)]
        assert afters == sorted(afters) and afters[-1] == total

    assert watch(deployment, chain_network).credited == []
    deployment.node.mine(3)
    assert watch(deployment, chain_network).credited == []
    assert entries.count() == 40
    for address, total in expected_totals(deposits).items():
        assert ether_total(address) == total


@pytest.mark.django_db
def test_a_range_read_twice_records_each_deposit_once(deployment, chain_network):
    burst(deployment, many(deployment, 12))
    watch(deployment, chain_network)
    # The cursor is set back below the block (as an operator may): the range is read again.
    WatcherCursor.objects.filter(network=chain_network).update(block_number=None, block_hash="")
    watch(deployment, chain_network)

    assert Transfer.objects.filter(kind="deposit").count() == 12
    assert LedgerEntry.objects.filter(kind=LedgerKind.DEPOSIT).count() == 12


@pytest.mark.django_db
def test_deposits_reorganised_away_between_record_and_confirm_are_never_credited(
    deployment, chain_network
):
    chain_network.confirmations = 3
    chain_network.save()
    node = deployment.node
    before = node.snapshot()
    hashes = burst(deployment, many(deployment, 10))
    raw = [node.rpc("eth_getRawTransactionByHash", [h]) for h in hashes[:4]]
    watch(deployment, chain_network)
    assert set(Transfer.objects.values_list("status", flat=True)) == {"PENDING"}

    node.revert(before)  # a longer chain without the block replaces it
    node.mine(4)
    result = watch(deployment, chain_network)
    assert result.credited == [] and len(result.failed) == 10
    assert not LedgerEntry.objects.exists()

    # Four of them are mined again in another block and credited once each. (The log
    # index counts within the block: one mined at another position is a new row, and
    # its first row stays FAILED.)
    for transaction in raw:
        node.rpc("eth_sendRawTransaction", [transaction])
    node.mine(3)
    result = watch(deployment, chain_network)
    assert len(result.credited) == 4
    watch(deployment, chain_network)
    complete = Transfer.objects.filter(status="COMPLETE")
    assert set(complete.values_list("transaction_hash", flat=True)) == set(hashes[:4])
    assert LedgerEntry.objects.filter(kind=LedgerKind.DEPOSIT).count() == 4
    for address, total in expected_totals(many(deployment, 4)).items():
        assert ether_total(address) == total


@pytest.mark.django_db
def test_known_and_unknown_tokens_in_one_range(deployment, chain_network):
    user = deployment.users[1]
    deposits = many(deployment, 6)
    burst(deployment, deposits)
    deposit_token(deployment, user, deployment.usdt, 5_000_000)  # no Token row
    deposit_token(deployment, user, deployment.tst, 2 * ONE)

    watch(deployment, chain_network)
    watch(deployment, chain_network)

    assert UnknownTokenDeposit.objects.get().amount == 5_000_000
    assert Transfer.objects.filter(status="COMPLETE").count() == 7
    tst = Balance.objects.get(account=user.address, token__address=deployment.tst)
    assert int(tst.total) == 2 * ONE
    assert not Balance.objects.filter(token__address=deployment.usdt).exists()


@pytest.mark.django_db(transaction=True)
def test_two_watchers_racing_the_same_pending_deposits_credit_each_once(
    deployment, chain_network, monkeypatch
):
    monkeypatch.setattr(watcher, "CREDIT_BATCH", 5)
    chain_network.confirmations = 2
    chain_network.save()
    deposits = many(deployment, 30)
    burst(deployment, deposits)
    watch(deployment, chain_network)  # recorded, one confirmation short
    assert Transfer.objects.filter(status="PENDING").count() == 30
    deployment.node.mine(1)

    credited: list[list[int]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def racer():
        try:
            start.wait()
            credited.append(watch(deployment, chain_network).credited)
        except BaseException as error:  # surfaced below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=racer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert not errors, errors
    both = credited[0] + credited[1]
    assert sorted(both) == sorted(set(both)) and len(both) == 30
    assert LedgerEntry.objects.filter(kind=LedgerKind.DEPOSIT).count() == 30
    for address, total in expected_totals(deposits).items():
        assert ether_total(address) == total


@pytest.mark.django_db(transaction=True)
def test_confirming_the_same_deposits_twice_at_once_credits_them_once(deployment, chain_network):
    burst(deployment, many(deployment, 8))
    chain_network.confirmations = 5
    chain_network.save()
    watch(deployment, chain_network)
    pending = list(Transfer.objects.values_list("block_hash", "id"))
    by_block: dict[str, list[int]] = {}
    for block_hash, pk in pending:
        by_block.setdefault(block_hash, []).append(pk)

    results: list[list[int]] = []
    start = threading.Barrier(3)

    def confirm():
        try:
            start.wait()
            results.append(deposits_confirm(network=chain_network, confirmed=by_block))
        finally:
            connection.close()

    threads = [threading.Thread(target=confirm) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert sorted(len(r) for r in results) == [0, 0, 8]
    assert LedgerEntry.objects.filter(kind=LedgerKind.DEPOSIT).count() == 8


@pytest.mark.django_db
def test_a_deposit_whose_stored_block_is_not_the_one_named_is_not_credited(
    deployment, chain_network
):
    chain_network.confirmations = 5
    chain_network.save()
    burst(deployment, many(deployment, 3))
    watch(deployment, chain_network)
    ids = list(Transfer.objects.values_list("id", flat=True))

    assert deposits_confirm(network=chain_network, confirmed={"0x" + "ab" * 32: ids}) == []
    assert not LedgerEntry.objects.exists()
