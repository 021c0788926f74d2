"""adminWithdraw (the operator pays a signed withdrawal) and withdraw (the escape hatch)."""

import pytest

from chain import hashing
from chain.client import ETHER, ContractReverted
from tests.anvil import INACTIVITY_BLOCKS
from tests.chain.contract import (
    ONE,
    deposit_ether,
    deposit_token,
    high_s_twin,
    signed_withdrawal,
    token_balance,
)


def admin_withdraw(chain, withdrawal):
    return chain.client.wait_for_receipt(chain.client.send_admin_withdraw(**withdrawal.fields))


def test_it_pays_a_signed_ether_withdrawal_minus_the_fee(chain):
    user = chain.users[0]
    deposit_ether(chain, user, 3 * ONE)
    before = token_balance(chain, ETHER, user.address)
    withdrawal = signed_withdrawal(chain, user, ETHER, 2 * ONE, fee=ONE // 100)

    receipt = admin_withdraw(chain, withdrawal)

    assert receipt.succeeded
    assert token_balance(chain, ETHER, user.address) == before + 2 * ONE - ONE // 100
    assert chain.client.balance_of(ETHER, user.address) == ONE
    assert chain.client.balance_of(ETHER, chain.fee_account.address) == ONE // 100
    digest = hashing.withdraw_hash(
        contract=chain.exchange,
        token=ETHER,
        amount=2 * ONE,
        account=user.address,
        nonce=withdrawal.nonce,
    )
    assert chain.client.withdrawn(digest)
    [event] = chain.client.exchange_events(receipt.transaction_hash)
    assert (event.name, event.args) == (
        "Withdraw",
        {"token": ETHER, "user": user.address, "amount": 2 * ONE, "balance": ONE},
    )


def test_it_pays_a_token_withdrawal(chain):
    user = chain.users[1]
    deposit_token(chain, user, chain.tst, 10 * ONE)
    before = token_balance(chain, chain.tst, user.address)

    admin_withdraw(chain, signed_withdrawal(chain, user, chain.tst, 4 * ONE, fee=ONE // 5))

    assert token_balance(chain, chain.tst, user.address) == before + 4 * ONE - ONE // 5
    assert chain.client.balance_of(chain.tst, user.address) == 6 * ONE
    assert chain.client.balance_of(chain.tst, chain.fee_account.address) == ONE // 5


def test_it_pays_a_withdrawal_of_a_token_whose_transfer_returns_nothing(chain):
    user = chain.users[0]
    deposit_token(chain, user, chain.usdt, 5_000_000)
    before = token_balance(chain, chain.usdt, user.address)

    admin_withdraw(chain, signed_withdrawal(chain, user, chain.usdt, 5_000_000))

    assert token_balance(chain, chain.usdt, user.address) == before + 5_000_000
    assert chain.client.balance_of(chain.usdt, user.address) == 0


def test_it_accepts_v_as_0_or_1(chain):
    user = chain.users[0]
    deposit_ether(chain, user, ONE)
    withdrawal = signed_withdrawal(chain, user, ETHER, ONE)
    raw = bytes.fromhex(withdrawal.signature[2:])
    withdrawal.signature = "0x" + (raw[:64] + bytes([raw[64] - 27])).hex()

    assert admin_withdraw(chain, withdrawal).succeeded


def test_it_never_pays_the_same_withdrawal_twice(chain):
    user = chain.users[0]
    deposit_ether(chain, user, 3 * ONE)
    withdrawal = signed_withdrawal(chain, user, ETHER, ONE)
    admin_withdraw(chain, withdrawal)

    with pytest.raises(ContractReverted, match="already withdrawn"):
        chain.client.send_admin_withdraw(**withdrawal.fields)
    assert chain.client.balance_of(ETHER, user.address) == 2 * ONE


def test_it_refuses_a_withdrawal_signed_by_someone_else(chain):
    user, thief = chain.users[0], chain.users[1]
    deposit_ether(chain, user, ONE)
    with pytest.raises(ContractReverted, match="bad signature"):
        chain.client.send_admin_withdraw(
            **signed_withdrawal(chain, user, ETHER, ONE, signer=thief).fields
        )


def test_it_refuses_a_signature_over_other_fields(chain):
    user = chain.users[0]
    deposit_ether(chain, user, 2 * ONE)
    withdrawal = signed_withdrawal(chain, user, ETHER, ONE)
    withdrawal.amount = 2 * ONE  # the signature is over 1 ETH
    with pytest.raises(ContractReverted, match="bad signature"):
        chain.client.send_admin_withdraw(**withdrawal.fields)


def test_it_refuses_a_high_s_signature(chain):
    user = chain.users[0]
    deposit_ether(chain, user, ONE)
    withdrawal = signed_withdrawal(chain, user, ETHER, ONE)
    twin = high_s_twin(withdrawal.signature)
    r, s = twin[2:66], twin[66:130]
    v = int(twin[130:], 16)
    # The client refuses high-s itself, so send the raw call.
    with pytest.raises(ContractReverted, match="bad signature"):
        chain.client.transact(
            "Exchange",
            chain.exchange,
            "adminWithdraw",
            ETHER,
            ONE,
            user.address,
            withdrawal.nonce,
            v,
            bytes.fromhex(r),
            bytes.fromhex(s),
            0,
        )


def test_it_refuses_a_signature_that_recovers_to_nobody(chain):
    user = chain.users[0]
    deposit_ether(chain, user, ONE)
    withdrawal = signed_withdrawal(chain, user, ETHER, ONE)
    with pytest.raises(ContractReverted, match="bad signature"):
        chain.client.transact(
            "Exchange", chain.exchange, "adminWithdraw",
            ETHER, ONE, user.address, withdrawal.nonce, 29, b"\1" * 32, b"\1" * 32, 0,
        )  # fmt: skip


def test_it_refuses_a_fee_over_ten_percent(chain):
    user = chain.users[0]
    deposit_ether(chain, user, ONE)
    with pytest.raises(ContractReverted, match="fee over the cap"):
        chain.client.send_admin_withdraw(
            **signed_withdrawal(chain, user, ETHER, ONE, fee=ONE // 10 + 1).fields
        )
    assert admin_withdraw(
        chain, signed_withdrawal(chain, user, ETHER, ONE, fee=ONE // 10)
    ).succeeded


def test_it_refuses_a_withdrawal_over_the_balance(chain):
    user = chain.users[0]
    deposit_ether(chain, user, ONE)
    with pytest.raises(ContractReverted, match="insufficient balance"):
        chain.client.send_admin_withdraw(**signed_withdrawal(chain, user, ETHER, ONE + 1).fields)


def test_it_refuses_a_zero_withdrawal(chain):
    user = chain.users[0]
    with pytest.raises(ContractReverted, match="zero amount"):
        chain.client.send_admin_withdraw(**signed_withdrawal(chain, user, ETHER, 0).fields)


def test_only_an_admin_dispatches_withdrawals(chain):
    user = chain.users[0]
    deposit_ether(chain, user, ONE)
    withdrawal = signed_withdrawal(chain, user, ETHER, ONE)
    raw = bytes.fromhex(withdrawal.signature[2:])
    with pytest.raises(ContractReverted, match="not an admin"):
        chain.client.transact(
            "Exchange", chain.exchange, "adminWithdraw",
            ETHER, ONE, user.address, withdrawal.nonce, raw[64], raw[:32], raw[32:64], 0,
            private_key=user.key,
        )  # fmt: skip


# ---- the escape hatch ----


def test_the_escape_hatch_is_closed_during_the_inactivity_period(chain):
    user = chain.users[0]
    deposit_ether(chain, user, ONE)
    chain.node.mine(INACTIVITY_BLOCKS - 2)
    with pytest.raises(ContractReverted, match="inactivity period not over"):
        chain.client.transact(
            "Exchange", chain.exchange, "withdraw", ETHER, ONE, private_key=user.key
        )


def test_the_escape_hatch_opens_after_the_inactivity_period(chain):
    user = chain.users[0]
    deposit_token(chain, user, chain.tst, 3 * ONE)
    chain.node.mine(INACTIVITY_BLOCKS)
    before = token_balance(chain, chain.tst, user.address)

    receipt = chain.client.transact(
        "Exchange", chain.exchange, "withdraw", chain.tst, 2 * ONE, private_key=user.key
    )

    assert token_balance(chain, chain.tst, user.address) == before + 2 * ONE
    assert chain.client.balance_of(chain.tst, user.address) == ONE
    [event] = chain.client.exchange_events(receipt.transaction_hash)
    assert event.args == {
        "token": chain.tst,
        "user": user.address,
        "amount": 2 * ONE,
        "balance": ONE,
    }


def test_an_admin_withdrawal_restarts_the_inactivity_period(chain):
    user = chain.users[0]
    deposit_ether(chain, user, 2 * ONE)
    chain.node.mine(INACTIVITY_BLOCKS)
    admin_withdraw(chain, signed_withdrawal(chain, user, ETHER, ONE))
    with pytest.raises(ContractReverted, match="inactivity period not over"):
        chain.client.transact(
            "Exchange", chain.exchange, "withdraw", ETHER, ONE, private_key=user.key
        )


def test_the_escape_hatch_refuses_more_than_the_balance_or_zero(chain):
    user = chain.users[0]
    deposit_ether(chain, user, ONE)
    chain.node.mine(INACTIVITY_BLOCKS)
    with pytest.raises(ContractReverted, match="insufficient balance"):
        chain.client.transact(
            "Exchange", chain.exchange, "withdraw", ETHER, ONE + 1, private_key=user.key
        )
    with pytest.raises(ContractReverted, match="zero amount"):
        chain.client.transact(
            "Exchange", chain.exchange, "withdraw", ETHER, 0, private_key=user.key
        )


def test_the_escape_hatch_pays_a_token_whose_transfer_returns_nothing(chain):
    user = chain.users[0]
    deposit_token(chain, user, chain.usdt, 1_000_000)
    chain.node.mine(INACTIVITY_BLOCKS)
    chain.client.transact(
        "Exchange", chain.exchange, "withdraw", chain.usdt, 1_000_000, private_key=user.key
    )
    assert chain.client.balance_of(chain.usdt, user.address) == 0


def test_a_reentrant_withdrawal_is_refused_and_changes_nothing(chain):
    user = chain.users[0]
    attacker = chain.client.deploy("ReentrantReceiver", chain.exchange, private_key=user.key)
    chain.client.transact(
        "ReentrantReceiver", attacker, "depositToExchange", value=2 * ONE, private_key=user.key
    )
    chain.node.mine(INACTIVITY_BLOCKS)

    # The receive hook calls withdraw again; the guard refuses it, so the payment fails.
    with pytest.raises(ContractReverted, match="ether transfer failed"):
        chain.client.transact("ReentrantReceiver", attacker, "attack", ONE, private_key=user.key)

    assert chain.client.balance_of(ETHER, attacker) == 2 * ONE
    assert token_balance(chain, ETHER, chain.exchange) == 2 * ONE
