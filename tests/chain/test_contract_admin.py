"""Owner, admins and the fee account: who may change them, and the events."""

import pytest

from chain.client import ContractReverted

ZERO = "0x" + "00" * 20


def test_the_deployer_is_owner_and_the_configured_accounts_are_set(chain):
    call = chain.client.call
    assert call("Exchange", chain.exchange, "owner").lower() == chain.operator.address
    assert call("Exchange", chain.exchange, "feeAccount").lower() == chain.fee_account.address
    assert chain.client.is_admin(chain.operator.address)
    assert not chain.client.is_admin(chain.users[0].address)
    assert call("Exchange", chain.exchange, "FEE_CAP_DIVISOR") == 10


def test_the_owner_grants_and_revokes_admins(chain):
    user = chain.users[0]
    receipt = chain.client.transact("Exchange", chain.exchange, "setAdmin", user.address, True)
    assert chain.client.is_admin(user.address)
    [event] = chain.client.exchange_events(receipt.transaction_hash)
    assert (event.name, event.args) == ("AdminChanged", {"admin": user.address, "isAdmin": True})

    chain.client.transact("Exchange", chain.exchange, "setAdmin", user.address, False)
    assert not chain.client.is_admin(user.address)


def test_the_owner_changes_the_fee_account(chain):
    new = chain.users[3].address
    receipt = chain.client.transact("Exchange", chain.exchange, "setFeeAccount", new)
    assert chain.client.call("Exchange", chain.exchange, "feeAccount").lower() == new
    [event] = chain.client.exchange_events(receipt.transaction_hash)
    assert event.args == {"previousFeeAccount": chain.fee_account.address, "newFeeAccount": new}


def test_the_owner_hands_over_ownership(chain):
    new_owner = chain.users[2]
    chain.client.transact("Exchange", chain.exchange, "setOwner", new_owner.address)
    assert chain.client.call("Exchange", chain.exchange, "owner").lower() == new_owner.address
    with pytest.raises(ContractReverted, match="not the owner"):
        chain.client.transact("Exchange", chain.exchange, "setAdmin", new_owner.address, True)
    chain.client.transact(
        "Exchange", chain.exchange, "setAdmin", new_owner.address, True, private_key=new_owner.key
    )
    assert chain.client.is_admin(new_owner.address)


@pytest.mark.parametrize(
    ("function", "args"),
    [
        ("setAdmin", ("user", True)),
        ("setOwner", ("user",)),
        ("setFeeAccount", ("user",)),
    ],
)
def test_only_the_owner_changes_roles(chain, function, args):
    user = chain.users[0]
    args = tuple(user.address if arg == "user" else arg for arg in args)
    with pytest.raises(ContractReverted, match="not the owner"):
        chain.client.transact("Exchange", chain.exchange, function, *args, private_key=user.key)


def test_an_admin_that_is_not_owner_cannot_change_roles(chain):
    user = chain.users[0]
    chain.client.transact("Exchange", chain.exchange, "setAdmin", user.address, True)
    with pytest.raises(ContractReverted, match="not the owner"):
        chain.client.transact(
            "Exchange",
            chain.exchange,
            "setAdmin",
            chain.users[1].address,
            True,
            private_key=user.key,
        )


@pytest.mark.parametrize("function", ["setOwner", "setFeeAccount"])
def test_it_refuses_the_zero_address_as_owner_or_fee_account(chain, function):
    with pytest.raises(ContractReverted, match="zero"):
        chain.client.transact("Exchange", chain.exchange, function, ZERO)


def test_it_refuses_to_deploy_with_a_zero_fee_account(chain):
    with pytest.raises(ContractReverted, match="zero fee account"):
        chain.client.deploy("Exchange", ZERO, 10)
