"""adminWithdraw (the operator pays a signed withdrawal) and withdraw (the escape hatch)."""

import pytest

from chain.client import ETHER, ContractReverted
from exchange.protocol import hashing
from tests.anvil import INACTIVITY_BLOCKS
from tests.chain.contract import (
    ONE,
    deposit_ether,
    deposit_token,
    high_s_twin,
    signed_withdrawal,
    token_balance,
)


def admin_withdraw(deployment, withdrawal):
    return deployment.client.wait_for_receipt(
        deployment.client.send_admin_withdraw(**withdrawal.fields)
    )


def test_it_pays_a_signed_ether_withdrawal_minus_the_fee(deployment):
    user = deployment.users[0]
    deposit_ether(deployment, user, 3 * ONE)
    before = token_balance(deployment, ETHER, user.address)
    withdrawal = signed_withdrawal(deployment, user, ETHER, 2 * ONE, fee=ONE // 100)

    receipt = admin_withdraw(deployment, withdrawal)

    assert receipt.succeeded
    assert token_balance(deployment, ETHER, user.address) == before + 2 * ONE - ONE // 100
    assert deployment.client.balance_of(ETHER, user.address) == ONE
    assert deployment.client.balance_of(ETHER, deployment.fee_account.address) == ONE // 100
    digest = hashing.withdraw_hash(
        contract=deployment.exchange,
        token=ETHER,
        amount=2 * ONE,
        account=user.address,
        nonce=withdrawal.nonce,
    )
    assert deployment.client.withdrawn(digest)
    [event] = deployment.client.exchange_events(receipt.transaction_hash)
    assert (event.name, event.args) == (
        "Withdraw",
        {"token": ETHER, "user": user.address, "amount": 2 * ONE, "balance": ONE},
    )


def test_it_pays_a_token_withdrawal(deployment):
    user = deployment.users[1]
    deposit_token(deployment, user, deployment.tst, 10 * ONE)
    before = token_balance(deployment, deployment.tst, user.address)

    admin_withdraw(
        deployment, signed_withdrawal(deployment, user, deployment.tst, 4 * ONE, fee=ONE // 5)
    )

    assert token_balance(deployment, deployment.tst, user.address) == before + 4 * ONE - ONE // 5
    assert deployment.client.balance_of(deployment.tst, user.address) == 6 * ONE
    assert deployment.client.balance_of(deployment.tst, deployment.fee_account.address) == ONE // 5


def test_it_pays_a_withdrawal_of_a_token_whose_transfer_returns_nothing(deployment):
    user = deployment.users[0]
    deposit_token(deployment, user, deployment.usdt, 5_000_000)
    before = token_balance(deployment, deployment.usdt, user.address)

    admin_withdraw(deployment, signed_withdrawal(deployment, user, deployment.usdt, 5_000_000))

    assert token_balance(deployment, deployment.usdt, user.address) == before + 5_000_000
    assert deployment.client.balance_of(deployment.usdt, user.address) == 0


def test_it_accepts_v_as_0_or_1(deployment):
    user = deployment.users[0]
    deposit_ether(deployment, user, ONE)
    withdrawal = signed_withdrawal(deployment, user, ETHER, ONE)
    raw = bytes.fromhex(withdrawal.signature[2:])
    withdrawal.signature = "0x" + (raw[:64] + bytes([raw[64] - 27])).hex()

    assert admin_withdraw(deployment, withdrawal).succeeded


def test_it_never_pays_the_same_withdrawal_twice(deployment):
    user = deployment.users[0]
    deposit_ether(deployment, user, 3 * ONE)
    withdrawal = signed_withdrawal(deployment, user, ETHER, ONE)
    admin_withdraw(deployment, withdrawal)

    with pytest.raises(ContractReverted, match="already withdrawn"):
        deployment.client.send_admin_withdraw(**withdrawal.fields)
    assert deployment.client.balance_of(ETHER, user.address) == 2 * ONE


def test_it_refuses_a_withdrawal_signed_by_someone_else(deployment):
    user, thief = deployment.users[0], deployment.users[1]
    deposit_ether(deployment, user, ONE)
    with pytest.raises(ContractReverted, match="bad signature"):
        deployment.client.send_admin_withdraw(
            **signed_withdrawal(deployment, user, ETHER, ONE, signer=thief).fields
        )


def test_it_refuses_a_signature_over_other_fields(deployment):
    user = deployment.users[0]
    deposit_ether(deployment, user, 2 * ONE)
    withdrawal = signed_withdrawal(deployment, user, ETHER, ONE)
    withdrawal.amount = 2 * ONE  # the signature is over 1 ETH
    with pytest.raises(ContractReverted, match="bad signature"):
        deployment.client.send_admin_withdraw(**withdrawal.fields)


def test_it_refuses_a_high_s_signature(deployment):
    user = deployment.users[0]
    deposit_ether(deployment, user, ONE)
    withdrawal = signed_withdrawal(deployment, user, ETHER, ONE)
    twin = high_s_twin(withdrawal.signature)
    r, s = twin[2:66], twin[66:130]
    v = int(twin[130:], 16)
    # The client refuses high-s itself, so send the raw call.
    with pytest.raises(ContractReverted, match="bad signature"):
        deployment.client.transact(
            "Exchange",
            deployment.exchange,
            "adminWithdraw",
            ETHER,
            ONE,
            user.address,
            withdrawal.nonce,
            v,
            bytes.fromhex(r),
            bytes.fromhex(s),
            0,
            0,  # signatureType: eth_sign
        )


def test_it_refuses_a_signature_that_recovers_to_nobody(deployment):
    user = deployment.users[0]
    deposit_ether(deployment, user, ONE)
    withdrawal = signed_withdrawal(deployment, user, ETHER, ONE)
    with pytest.raises(ContractReverted, match="bad signature"):
        deployment.client.transact(
            "Exchange", deployment.exchange, "adminWithdraw",
            ETHER, ONE, user.address, withdrawal.nonce, 29, b"\1" * 32, b"\1" * 32, 0, 0,
        )  # fmt: skip


def test_it_refuses_a_fee_over_ten_percent(deployment):
    user = deployment.users[0]
    deposit_ether(deployment, user, ONE)
    with pytest.raises(ContractReverted, match="fee over the cap"):
        deployment.client.send_admin_withdraw(
            **signed_withdrawal(deployment, user, ETHER, ONE, fee=ONE // 10 + 1).fields
        )
    assert admin_withdraw(
        deployment, signed_withdrawal(deployment, user, ETHER, ONE, fee=ONE // 10)
    ).succeeded


def test_it_refuses_a_withdrawal_over_the_balance(deployment):
    user = deployment.users[0]
    deposit_ether(deployment, user, ONE)
    with pytest.raises(ContractReverted, match="insufficient balance"):
        deployment.client.send_admin_withdraw(
            **signed_withdrawal(deployment, user, ETHER, ONE + 1).fields
        )


def test_it_refuses_a_zero_withdrawal(deployment):
    user = deployment.users[0]
    with pytest.raises(ContractReverted, match="zero amount"):
        deployment.client.send_admin_withdraw(
            **signed_withdrawal(deployment, user, ETHER, 0).fields
        )


def test_only_an_admin_dispatches_withdrawals(deployment):
    user = deployment.users[0]
    deposit_ether(deployment, user, ONE)
    withdrawal = signed_withdrawal(deployment, user, ETHER, ONE)
    raw = bytes.fromhex(withdrawal.signature[2:])
    with pytest.raises(ContractReverted, match="not an admin"):
        deployment.client.transact(
            "Exchange", deployment.exchange, "adminWithdraw",
            ETHER, ONE, user.address, withdrawal.nonce, raw[64], raw[:32], raw[32:64], 0, 0,
            private_key=user.key,
        )  # fmt: skip


# ---- the escape hatch ----


def test_the_escape_hatch_is_closed_during_the_inactivity_period(deployment):
    user = deployment.users[0]
    deposit_ether(deployment, user, ONE)
    deployment.node.mine(INACTIVITY_BLOCKS - 2)
    with pytest.raises(ContractReverted, match="inactivity period not over"):
        deployment.client.transact(
            "Exchange", deployment.exchange, "withdraw", ETHER, ONE, private_key=user.key
        )


def test_the_escape_hatch_opens_after_the_inactivity_period(deployment):
    user = deployment.users[0]
    deposit_token(deployment, user, deployment.tst, 3 * ONE)
    deployment.node.mine(INACTIVITY_BLOCKS)
    before = token_balance(deployment, deployment.tst, user.address)

    receipt = deployment.client.transact(
        "Exchange", deployment.exchange, "withdraw", deployment.tst, 2 * ONE, private_key=user.key
    )

    assert token_balance(deployment, deployment.tst, user.address) == before + 2 * ONE
    assert deployment.client.balance_of(deployment.tst, user.address) == ONE
    [event] = deployment.client.exchange_events(receipt.transaction_hash)
    assert event.args == {
        "token": deployment.tst,
        "user": user.address,
        "amount": 2 * ONE,
        "balance": ONE,
    }


def test_an_admin_withdrawal_restarts_the_inactivity_period(deployment):
    user = deployment.users[0]
    deposit_ether(deployment, user, 2 * ONE)
    deployment.node.mine(INACTIVITY_BLOCKS)
    admin_withdraw(deployment, signed_withdrawal(deployment, user, ETHER, ONE))
    with pytest.raises(ContractReverted, match="inactivity period not over"):
        deployment.client.transact(
            "Exchange", deployment.exchange, "withdraw", ETHER, ONE, private_key=user.key
        )


def test_the_escape_hatch_refuses_more_than_the_balance_or_zero(deployment):
    user = deployment.users[0]
    deposit_ether(deployment, user, ONE)
    deployment.node.mine(INACTIVITY_BLOCKS)
    with pytest.raises(ContractReverted, match="insufficient balance"):
        deployment.client.transact(
            "Exchange", deployment.exchange, "withdraw", ETHER, ONE + 1, private_key=user.key
        )
    with pytest.raises(ContractReverted, match="zero amount"):
        deployment.client.transact(
            "Exchange", deployment.exchange, "withdraw", ETHER, 0, private_key=user.key
        )


def test_the_escape_hatch_pays_a_token_whose_transfer_returns_nothing(deployment):
    user = deployment.users[0]
    deposit_token(deployment, user, deployment.usdt, 1_000_000)
    deployment.node.mine(INACTIVITY_BLOCKS)
    deployment.client.transact(
        "Exchange",
        deployment.exchange,
        "withdraw",
        deployment.usdt,
        1_000_000,
        private_key=user.key,
    )
    assert deployment.client.balance_of(deployment.usdt, user.address) == 0


def test_a_reentrant_withdrawal_is_refused_and_changes_nothing(deployment):
    user = deployment.users[0]
    attacker = deployment.client.deploy(
        "ReentrantReceiver", deployment.exchange, private_key=user.key
    )
    deployment.client.transact(
        "ReentrantReceiver", attacker, "depositToExchange", value=2 * ONE, private_key=user.key
    )
    deployment.node.mine(INACTIVITY_BLOCKS)

    # The receive hook calls withdraw again; the guard refuses it, so the payment fails.
    with pytest.raises(ContractReverted, match="ether transfer failed"):
        deployment.client.transact(
            "ReentrantReceiver", attacker, "attack", ONE, private_key=user.key
        )

    assert deployment.client.balance_of(ETHER, attacker) == 2 * ONE
    assert token_balance(deployment, ETHER, deployment.exchange) == 2 * ONE
