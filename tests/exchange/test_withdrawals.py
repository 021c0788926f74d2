from typing import Any, cast

import pytest

from chain.hashing import withdraw_hash
from exchange.api.errors import FieldCode, FieldError
from exchange.models import Balance, LedgerEntry, LedgerKind, Transfer, TransferStatus
from exchange.services.withdrawals import (
    withdrawal_complete,
    withdrawal_fail,
    withdrawal_request,
)
from tests.signing import address_of, new_signer, next_nonce, sign_hash

pytestmark = pytest.mark.django_db

FEE_ACCOUNT = "0x" + "fe" * 20


def signed_withdrawal(signer, *, network, token, amount, nonce=None, signed_by=None) -> dict:
    nonce = next_nonce() if nonce is None else nonce
    hash_ = withdraw_hash(
        contract=network.exchange_address,
        token=token.address,
        amount=amount,
        account=address_of(signer),
        nonce=nonce,
    )
    return {
        "network": network,
        "account": address_of(signer),
        "token_address": token.address,
        "amount": amount,
        "nonce": nonce,
        "signature": sign_hash(signed_by or signer, hash_),
    }


def balance_of(account, token) -> Balance:
    return Balance.objects.get(account=account, token=token)


def field_error(error: FieldError) -> tuple[str, int, str]:
    ((field, [detail]),) = cast("dict[str, list[Any]]", error.detail).items()
    return field, int(detail.code), str(detail)


def test_it_holds_the_amount_of_a_pending_withdrawal(network, token, fund):
    signer = new_signer()
    fund(signer, token, 1000)
    token.withdrawal_fee = 10
    token.save()

    withdrawal = withdrawal_request(
        **signed_withdrawal(signer, network=network, token=token, amount=400)
    )

    assert (withdrawal.status, withdrawal.amount, withdrawal.fee) == (
        TransferStatus.PENDING,
        400,
        10,
    )
    balance = balance_of(address_of(signer), token)
    assert (balance.total, balance.held) == (1000, 400)
    assert LedgerEntry.objects.filter(
        balance=balance, kind=LedgerKind.HOLD, held_delta=400, reference=f"transfer:{withdrawal.id}"
    ).exists()


def test_it_refuses_a_withdrawal_over_the_available_balance(network, token, fund):
    signer = new_signer()
    fund(signer, token, 1000)
    withdrawal_request(**signed_withdrawal(signer, network=network, token=token, amount=700))

    with pytest.raises(FieldError) as refused:
        withdrawal_request(**signed_withdrawal(signer, network=network, token=token, amount=301))

    field, code, reason = field_error(refused.value)
    assert (field, code) == ("amount", FieldCode.OUT_OF_RANGE)
    assert "available balance 300" in reason
    balance = balance_of(address_of(signer), token)
    assert (balance.total, balance.held, Transfer.objects.count()) == (1000, 700, 1)


def test_it_refuses_a_replayed_withdrawal(network, token, fund):
    signer = new_signer()
    fund(signer, token, 1000)
    request = signed_withdrawal(signer, network=network, token=token, amount=100)
    first = withdrawal_request(**request)

    with pytest.raises(FieldError) as refused:
        withdrawal_request(**request)

    field, code, reason = field_error(refused.value)
    assert (field, code) == ("signature", FieldCode.INVALID_SIGNATURE)
    assert first.hash in reason and "already used" in reason
    assert balance_of(address_of(signer), token).held == 100


def test_it_refuses_a_signature_by_another_account_and_says_what_it_expected(network, token, fund):
    signer, other = new_signer(), new_signer()
    fund(signer, token, 1000)
    request = signed_withdrawal(signer, network=network, token=token, amount=100, signed_by=other)
    expected = withdraw_hash(
        contract=network.exchange_address,
        token=token.address,
        amount=100,
        account=address_of(signer),
        nonce=request["nonce"],
    )

    with pytest.raises(FieldError) as refused:
        withdrawal_request(**request)

    field, code, reason = field_error(refused.value)
    assert (field, code) == ("signature", FieldCode.INVALID_SIGNATURE)
    assert expected in reason and address_of(other) in reason
    assert not Transfer.objects.exists()
    assert balance_of(address_of(signer), token).held == 0


def test_it_refuses_a_token_the_network_does_not_have(network, token, fund):
    signer = new_signer()
    request = signed_withdrawal(signer, network=network, token=token, amount=100)
    request["token_address"] = "0x" + "77" * 20

    with pytest.raises(FieldError) as refused:
        withdrawal_request(**request)

    assert field_error(refused.value)[:2] == ("tokenAddress", FieldCode.ADDRESS_NOT_SUPPORTED)


@pytest.mark.parametrize("amount", [10, 99])
def test_it_refuses_an_amount_the_fee_would_eat_or_the_contract_caps(network, token, fund, amount):
    signer = new_signer()
    fund(signer, token, 1000)
    token.withdrawal_fee = 10
    token.save()

    with pytest.raises(FieldError) as refused:
        withdrawal_request(**signed_withdrawal(signer, network=network, token=token, amount=amount))

    assert field_error(refused.value)[:2] == ("amount", FieldCode.OUT_OF_RANGE)
    assert not Transfer.objects.exists()


def processing(withdrawal: Transfer) -> Transfer:
    Transfer.objects.filter(id=withdrawal.id).update(
        status=TransferStatus.PROCESSING, transaction_hash="0x" + "aa" * 32
    )
    return withdrawal


def test_completing_debits_the_user_and_credits_the_fee_once(network, token, fund):
    signer = new_signer()
    fund(signer, token, 1000)
    token.withdrawal_fee = 10
    token.save()
    withdrawal = processing(
        withdrawal_request(**signed_withdrawal(signer, network=network, token=token, amount=400))
    )

    done = [
        withdrawal_complete(
            withdrawal_id=withdrawal.id,
            block_number=7,
            block_hash="0x" + "bb" * 32,
            fee_account=FEE_ACCOUNT,
        )
        for _ in range(2)
    ]

    assert done == [True, False]
    user = balance_of(address_of(signer), token)
    assert (user.total, user.held) == (600, 0)
    assert balance_of(FEE_ACCOUNT, token).total == 10
    withdrawal.refresh_from_db()
    assert (withdrawal.status, withdrawal.block_number) == (TransferStatus.COMPLETE, 7)
    kinds = LedgerEntry.objects.filter(reference=f"transfer:{withdrawal.id}").values_list(
        "kind", flat=True
    )
    assert sorted(kinds) == [LedgerKind.HOLD, LedgerKind.WITHDRAWAL, LedgerKind.WITHDRAWAL_FEE]


def test_failing_releases_the_hold_once(network, token, fund):
    signer = new_signer()
    fund(signer, token, 1000)
    withdrawal = processing(
        withdrawal_request(**signed_withdrawal(signer, network=network, token=token, amount=400))
    )

    assert withdrawal_fail(withdrawal_id=withdrawal.id, reason="reverted") is True
    assert withdrawal_fail(withdrawal_id=withdrawal.id, reason="reverted") is False
    assert (
        withdrawal_complete(
            withdrawal_id=withdrawal.id, block_number=1, block_hash="0x" + "bb" * 32
        )
        is False
    )

    balance = balance_of(address_of(signer), token)
    assert (balance.total, balance.held) == (1000, 0)
    withdrawal.refresh_from_db()
    assert (withdrawal.status, withdrawal.error) == (TransferStatus.FAILED, "reverted")
