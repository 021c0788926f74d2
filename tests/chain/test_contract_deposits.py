"""deposit() and depositToken(): Ether, a standard ERC-20, a USDT-like token, refusals."""

import pytest

from chain.client import ETHER, ContractReverted
from tests.anvil import MINTED
from tests.chain.contract import ONE, deposit_ether, deposit_token, token_balance


def test_it_credits_an_ether_deposit_and_emits_deposit(chain):
    user = chain.users[0]
    receipt = deposit_ether(chain, user, 2 * ONE)
    deposit_ether(chain, user, ONE)

    assert chain.client.balance_of(ETHER, user.address) == 3 * ONE
    assert token_balance(chain, ETHER, chain.exchange) == 3 * ONE
    [event] = chain.client.exchange_events(receipt.transaction_hash)
    assert event.name == "Deposit"
    assert event.args == {
        "token": ETHER,
        "user": user.address,
        "amount": 2 * ONE,
        "balance": 2 * ONE,
    }
    assert chain.client.call("Exchange", chain.exchange, "lastActiveBlock", user.address) > 0


def test_it_credits_a_token_deposit_after_approve(chain):
    user = chain.users[1]
    receipt = deposit_token(chain, user, chain.tst, 5 * ONE)

    assert chain.client.balance_of(chain.tst, user.address) == 5 * ONE
    assert token_balance(chain, chain.tst, user.address) == (MINTED - 5) * ONE
    assert token_balance(chain, chain.tst, chain.exchange) == 5 * ONE
    [event] = chain.client.exchange_events(receipt.transaction_hash)
    assert event.args == {
        "token": chain.tst,
        "user": user.address,
        "amount": 5 * ONE,
        "balance": 5 * ONE,
    }


def test_it_accepts_a_token_whose_transfer_from_returns_nothing(chain):
    user = chain.users[0]
    deposit_token(chain, user, chain.usdt, 7_000_000)

    assert chain.client.balance_of(chain.usdt, user.address) == 7_000_000
    assert token_balance(chain, chain.usdt, chain.exchange) == 7_000_000


def test_it_refuses_a_token_deposit_without_allowance(chain):
    user = chain.users[0]
    with pytest.raises(ContractReverted, match="token transfer failed"):
        chain.client.transact(
            "Exchange", chain.exchange, "depositToken", chain.tst, ONE, private_key=user.key
        )
    assert chain.client.balance_of(chain.tst, user.address) == 0


def test_it_refuses_a_token_deposit_over_the_users_token_balance(chain):
    user = chain.users[0]
    with pytest.raises(ContractReverted, match="token transfer failed"):
        deposit_token(chain, user, chain.six, (MINTED + 1) * 10**6)


def test_it_refuses_a_token_whose_transfer_from_returns_false(chain):
    user = chain.users[0]
    fake = chain.client.deploy("FalseReturnToken")
    chain.client.transact("FalseReturnToken", fake, "mint", user.address, ONE)
    with pytest.raises(ContractReverted, match="token transfer failed"):
        chain.client.transact(
            "Exchange", chain.exchange, "depositToken", fake, ONE, private_key=user.key
        )


def test_it_refuses_a_token_address_without_code(chain):
    user = chain.users[0]
    with pytest.raises(ContractReverted, match="balanceOf failed"):
        chain.client.transact(
            "Exchange",
            chain.exchange,
            "depositToken",
            chain.users[3].address,
            ONE,
            private_key=user.key,
        )


def test_it_refuses_ether_through_deposit_token(chain):
    with pytest.raises(ContractReverted, match="use deposit"):
        chain.client.transact(
            "Exchange", chain.exchange, "depositToken", ETHER, ONE, private_key=chain.users[0].key
        )


@pytest.mark.parametrize("kind", ["ether", "token"])
def test_it_refuses_a_zero_deposit(chain, kind):
    user = chain.users[0]
    with pytest.raises(ContractReverted, match="zero amount"):
        if kind == "ether":
            deposit_ether(chain, user, 0)
        else:
            deposit_token(chain, user, chain.tst, 0)


def test_it_refuses_plain_ether_sent_without_deposit(chain):
    with pytest.raises(ContractReverted):
        chain.client.sign_transaction(
            to=chain.exchange, data=b"", value=ONE, private_key=chain.users[0].key
        )
    assert chain.client.balance_of(ETHER, chain.users[0].address) == 0
