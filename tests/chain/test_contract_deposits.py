"""deposit() and depositToken(): Ether, a standard ERC-20, a USDT-like token, refusals."""

import pytest

from chain.client import ETHER, ContractReverted
from tests.anvil import MINTED
from tests.chain.contract import ONE, deposit_ether, deposit_token, token_balance


def test_it_credits_an_ether_deposit_and_emits_deposit(deployment):
    user = deployment.users[0]
    receipt = deposit_ether(deployment, user, 2 * ONE)
    deposit_ether(deployment, user, ONE)

    assert deployment.client.balance_of(ETHER, user.address) == 3 * ONE
    assert token_balance(deployment, ETHER, deployment.exchange) == 3 * ONE
    [event] = deployment.client.exchange_events(receipt.transaction_hash)
    assert event.name == "Deposit"
    assert event.args == {
        "token": ETHER,
        "user": user.address,
        "amount": 2 * ONE,
        "balance": 2 * ONE,
    }
    assert (
        deployment.client.call("Exchange", deployment.exchange, "lastActiveBlock", user.address) > 0
    )


def test_it_credits_a_token_deposit_after_approve(deployment):
    user = deployment.users[1]
    receipt = deposit_token(deployment, user, deployment.tst, 5 * ONE)

    assert deployment.client.balance_of(deployment.tst, user.address) == 5 * ONE
    assert token_balance(deployment, deployment.tst, user.address) == (MINTED - 5) * ONE
    assert token_balance(deployment, deployment.tst, deployment.exchange) == 5 * ONE
    [event] = deployment.client.exchange_events(receipt.transaction_hash)
    assert event.args == {
        "token": deployment.tst,
        "user": user.address,
        "amount": 5 * ONE,
        "balance": 5 * ONE,
    }


def test_it_accepts_a_token_whose_transfer_from_returns_nothing(deployment):
    user = deployment.users[0]
    deposit_token(deployment, user, deployment.usdt, 7_000_000)

    assert deployment.client.balance_of(deployment.usdt, user.address) == 7_000_000
    assert token_balance(deployment, deployment.usdt, deployment.exchange) == 7_000_000


def test_it_refuses_a_token_deposit_without_allowance(deployment):
    user = deployment.users[0]
    with pytest.raises(ContractReverted, match="token transfer failed"):
        deployment.client.transact(
            "Exchange",
            deployment.exchange,
            "depositToken",
            deployment.tst,
            ONE,
            private_key=user.key,
        )
    assert deployment.client.balance_of(deployment.tst, user.address) == 0


def test_it_refuses_a_token_deposit_over_the_users_token_balance(deployment):
    user = deployment.users[0]
    with pytest.raises(ContractReverted, match="token transfer failed"):
        deposit_token(deployment, user, deployment.six, (MINTED + 1) * 10**6)


def test_it_refuses_a_token_whose_transfer_from_returns_false(deployment):
    user = deployment.users[0]
    fake = deployment.client.deploy("FalseReturnToken")
    deployment.client.transact("FalseReturnToken", fake, "mint", user.address, ONE)
    with pytest.raises(ContractReverted, match="token transfer failed"):
        deployment.client.transact(
            "Exchange", deployment.exchange, "depositToken", fake, ONE, private_key=user.key
        )


def test_it_refuses_a_token_address_without_code(deployment):
    user = deployment.users[0]
    with pytest.raises(ContractReverted, match="balanceOf failed"):
        deployment.client.transact(
            "Exchange",
            deployment.exchange,
            "depositToken",
            deployment.users[3].address,
            ONE,
            private_key=user.key,
        )


def test_it_refuses_ether_through_deposit_token(deployment):
    with pytest.raises(ContractReverted, match="use deposit"):
        deployment.client.transact(
            "Exchange",
            deployment.exchange,
            "depositToken",
            ETHER,
            ONE,
            private_key=deployment.users[0].key,
        )


@pytest.mark.parametrize("kind", ["ether", "token"])
def test_it_refuses_a_zero_deposit(deployment, kind):
    user = deployment.users[0]
    with pytest.raises(ContractReverted, match="zero amount"):
        if kind == "ether":
            deposit_ether(deployment, user, 0)
        else:
            deposit_token(deployment, user, deployment.tst, 0)


def test_it_refuses_plain_ether_sent_without_deposit(deployment):
    with pytest.raises(ContractReverted):
        deployment.client.sign_transaction(
            to=deployment.exchange, data=b"", value=ONE, private_key=deployment.users[0].key
        )
    assert deployment.client.balance_of(ETHER, deployment.users[0].address) == 0
