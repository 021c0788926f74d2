"""Recording and crediting deposits through the watcher's own entry points
(deposits_record, deposits_confirm), one deposit at a time."""

import pytest

from exchange.models import Balance, LedgerEntry, LedgerKind, Transfer, TransferKind, TransferStatus
from exchange.services.deposit_records import (
    SeenDeposit,
    deposit_fail,
    deposits_confirm,
    deposits_record,
)
from tests.factories import DepositFactory

pytestmark = pytest.mark.django_db

ACCOUNT = "0x" + "5a" * 20
TX = "0x" + "11" * 32
BLOCK_A, BLOCK_B = "0x" + "a1" * 32, "0x" + "b2" * 32


def record(network, token, *, block_hash=BLOCK_A, block_number=10, amount=500) -> Transfer:
    """The watcher's deposits_record of one Deposit log; the deposit as stored."""
    seen = SeenDeposit(
        token=token,
        account=ACCOUNT.upper().replace("0X", "0x"),
        amount=amount,
        transaction_hash=TX,
        log_index=3,
        block_number=block_number,
        block_hash=block_hash,
    )
    deposits_record(network=network, deposits=[seen])
    return Transfer.objects.get(
        network=network, kind=TransferKind.DEPOSIT, transaction_hash=TX, log_index=3
    )


def deposit_confirm(*, deposit_id: int, block_hash: str) -> bool:
    """The watcher's deposits_confirm of one deposit found in `block_hash`: credited?"""
    network = Transfer.objects.get(id=deposit_id).network
    credited = deposits_confirm(network=network, confirmed={block_hash: [deposit_id]})
    assert credited in ([], [deposit_id])
    return credited == [deposit_id]


def test_it_records_a_deposit_log_once_as_pending(network, token):
    first = record(network, token)
    again = record(network, token)

    assert again.id == first.id
    assert Transfer.objects.count() == 1
    assert (first.status, first.account, first.amount) == (TransferStatus.PENDING, ACCOUNT, 500)
    assert not Balance.objects.exists()


def test_it_credits_a_confirmed_deposit_exactly_once(network, token):
    deposit = record(network, token)

    assert [deposit_confirm(deposit_id=deposit.id, block_hash=BLOCK_A) for _ in range(3)] == [
        True,
        False,
        False,
    ]

    assert Balance.objects.get(account=ACCOUNT, token=token).total == 500
    assert LedgerEntry.objects.filter(kind=LedgerKind.DEPOSIT).count() == 1
    deposit.refresh_from_db()
    assert deposit.status == TransferStatus.COMPLETE


def test_it_does_not_credit_a_deposit_that_is_no_longer_in_the_checked_block(network, token):
    deposit = record(network, token, block_hash=BLOCK_A)

    assert deposit_confirm(deposit_id=deposit.id, block_hash=BLOCK_B) is False
    assert not Balance.objects.exists()


def test_a_deposit_whose_block_left_the_chain_fails_and_is_never_credited(network, token):
    deposit = record(network, token)

    assert deposit_fail(deposit_id=deposit.id, block_hash=BLOCK_A, reason="reorg") is True
    assert deposit_confirm(deposit_id=deposit.id, block_hash=BLOCK_A) is False

    deposit.refresh_from_db()
    assert (deposit.status, deposit.error) == (TransferStatus.FAILED, "reorg")
    assert not Balance.objects.exists()


def test_a_failed_deposit_mined_again_in_another_block_is_pending_again(network, token):
    deposit = record(network, token, block_hash=BLOCK_A, block_number=10)
    deposit_fail(deposit_id=deposit.id, block_hash=BLOCK_A, reason="reorg")

    moved = record(network, token, block_hash=BLOCK_B, block_number=11)

    assert moved.id == deposit.id
    assert (moved.status, moved.block_hash, moved.block_number, moved.error) == (
        TransferStatus.PENDING,
        BLOCK_B,
        11,
        "",
    )
    assert deposit_confirm(deposit_id=deposit.id, block_hash=BLOCK_B) is True


def test_a_credited_deposit_is_left_alone_if_seen_in_another_block(network, token):
    deposit = record(network, token, block_hash=BLOCK_A)
    deposit_confirm(deposit_id=deposit.id, block_hash=BLOCK_A)

    record(network, token, block_hash=BLOCK_B)

    deposit.refresh_from_db()
    assert (deposit.status, deposit.block_hash) == (TransferStatus.COMPLETE, BLOCK_A)
    assert Balance.objects.get(account=ACCOUNT, token=token).total == 500


def test_the_same_log_on_two_networks_is_two_deposits(network, token):
    other = DepositFactory(transaction_hash=TX, log_index=3)
    record(network, token)
    assert Transfer.objects.filter(transaction_hash=TX).count() == 2
    assert other.network_id != network.id
