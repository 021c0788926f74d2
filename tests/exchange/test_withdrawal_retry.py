"""An operator's withdrawal retry: FAILED ones are held again and re-queued, PENDING ones
re-queued; nothing else is touched, and a retry never holds twice."""

import pytest

from exchange.models import Balance, LedgerEntry, LedgerKind, Transfer, TransferKind, TransferStatus
from exchange.services.deposits import deposit_credit
from exchange.services.ledger import balance_change, token_balance_lock
from exchange.services.withdrawal_retry import WithdrawalRetryRefused, withdrawal_retry
from exchange.services.withdrawals import withdrawal_fail

pytestmark = pytest.mark.django_db

ACCOUNT = "0x" + "33" * 20
AMOUNT = 4 * 10**17


def _withdrawal(token, *, status=TransferStatus.PENDING, hold=True) -> Transfer:
    withdrawal = Transfer.objects.create(
        network=token.network,
        kind=TransferKind.WITHDRAWAL,
        account=ACCOUNT,
        token=token,
        amount=AMOUNT,
        hash="0x" + "77" * 32,
        nonce=1,
        status=status,
    )
    if hold:
        from django.db import transaction

        with transaction.atomic():
            balance = token_balance_lock(token=token, account=ACCOUNT)
            balance_change(
                balance,
                kind=LedgerKind.HOLD,
                held_delta=AMOUNT,
                reference=f"transfer:{withdrawal.id}",
            )
    return withdrawal


@pytest.fixture
def funded(token):
    deposit_credit(token=token, account=ACCOUNT, amount=10**18, reference="deposit:1")
    return token


def _failed(token) -> Transfer:
    withdrawal = _withdrawal(token, status=TransferStatus.PROCESSING)
    Transfer.objects.filter(pk=withdrawal.pk).update(
        transaction_hash="0x" + "88" * 32, operator_nonce=7, raw_transaction="0xf8"
    )
    assert withdrawal_fail(withdrawal_id=withdrawal.id, reason="reverted in 0x88…")
    return withdrawal


def _held(token) -> int:
    return int(Balance.objects.get(account=ACCOUNT, token=token).held)


def test_a_failed_withdrawal_is_held_again_and_queued(funded, django_capture_on_commit_callbacks):
    withdrawal = _failed(funded)
    assert _held(funded) == 0
    with django_capture_on_commit_callbacks() as callbacks:
        outcome = withdrawal_retry(withdrawal_id=withdrawal.id, operator="alice")
    assert "PENDING" in outcome and len(callbacks) == 1
    withdrawal.refresh_from_db()
    assert withdrawal.status == TransferStatus.PENDING
    assert (withdrawal.transaction_hash, withdrawal.operator_nonce, withdrawal.raw_transaction) == (
        "",
        None,
        "",
    )
    assert "alice" in withdrawal.error and "0x" + "88" * 32 in withdrawal.error
    assert _held(funded) == AMOUNT
    kinds = list(
        LedgerEntry.objects.filter(reference=f"transfer:{withdrawal.id}").values_list(
            "kind", flat=True
        )
    )
    assert kinds == [LedgerKind.HOLD, LedgerKind.RELEASE, LedgerKind.HOLD]


def test_retrying_twice_holds_once(funded, django_capture_on_commit_callbacks):
    withdrawal = _failed(funded)
    withdrawal_retry(withdrawal_id=withdrawal.id, operator="alice")
    with django_capture_on_commit_callbacks() as callbacks:
        outcome = withdrawal_retry(withdrawal_id=withdrawal.id, operator="bob")
    assert outcome == "dispatch queued again" and len(callbacks) == 1
    assert _held(funded) == AMOUNT


def test_a_pending_withdrawal_is_only_queued_again(funded, django_capture_on_commit_callbacks):
    withdrawal = _withdrawal(funded)
    entries = LedgerEntry.objects.count()
    with django_capture_on_commit_callbacks() as callbacks:
        withdrawal_retry(withdrawal_id=withdrawal.id, operator="alice")
    assert len(callbacks) == 1
    assert LedgerEntry.objects.count() == entries
    withdrawal.refresh_from_db()
    assert withdrawal.status == TransferStatus.PENDING and _held(funded) == AMOUNT


@pytest.mark.parametrize("status", [TransferStatus.PROCESSING, TransferStatus.COMPLETE])
def test_it_refuses_a_withdrawal_that_may_be_paid(funded, status):
    withdrawal = _withdrawal(funded, status=status)
    with pytest.raises(WithdrawalRetryRefused, match="only FAILED or PENDING"):
        withdrawal_retry(withdrawal_id=withdrawal.id, operator="alice")
    withdrawal.refresh_from_db()
    assert withdrawal.status == status and _held(funded) == AMOUNT


def test_it_refuses_a_failed_withdrawal_whose_hold_was_not_released(funded):
    withdrawal = _withdrawal(funded, status=TransferStatus.FAILED)  # held, never released
    with pytest.raises(WithdrawalRetryRefused, match="hold was not released"):
        withdrawal_retry(withdrawal_id=withdrawal.id, operator="alice")
    assert _held(funded) == AMOUNT
    assert Transfer.objects.get(pk=withdrawal.pk).status == TransferStatus.FAILED


def test_it_refuses_when_the_funds_are_no_longer_available(funded):
    withdrawal = _failed(funded)
    other = Transfer.objects.create(
        network=funded.network,
        kind=TransferKind.WITHDRAWAL,
        account=ACCOUNT,
        token=funded,
        amount=7 * 10**17,
    )
    from django.db import transaction

    with transaction.atomic():  # the user spent the released funds meanwhile
        balance = token_balance_lock(token=funded, account=ACCOUNT)
        balance_change(
            balance, kind=LedgerKind.HOLD, held_delta=7 * 10**17, reference=f"transfer:{other.id}"
        )
    with pytest.raises(WithdrawalRetryRefused, match="available balance"):
        withdrawal_retry(withdrawal_id=withdrawal.id, operator="alice")
    assert Transfer.objects.get(pk=withdrawal.pk).status == TransferStatus.FAILED
    assert _held(funded) == 7 * 10**17


def test_it_refuses_a_deposit_or_an_unknown_id(funded):
    deposit = Transfer.objects.create(
        network=funded.network, kind=TransferKind.DEPOSIT, account=ACCOUNT, token=funded, amount=1
    )
    for withdrawal_id in (deposit.id, 10**9):
        with pytest.raises(WithdrawalRetryRefused, match="no withdrawal"):
            withdrawal_retry(withdrawal_id=withdrawal_id, operator="alice")
