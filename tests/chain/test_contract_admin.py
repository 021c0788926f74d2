"""Owner, admins and the fee account: who may change them, and the events."""

import pytest

from chain.client import ContractReverted

ZERO = "0x" + "00" * 20


def test_the_deployer_is_owner_and_the_configured_accounts_are_set(deployment):
    call = deployment.client.call
    assert call("Exchange", deployment.exchange, "owner").lower() == deployment.operator.address
    assert (
        call("Exchange", deployment.exchange, "feeAccount").lower()
        == deployment.fee_account.address
    )
    assert deployment.client.is_admin(deployment.operator.address)
    assert not deployment.client.is_admin(deployment.users[0].address)
    assert call("Exchange", deployment.exchange, "FEE_CAP_DIVISOR") == 10


def test_the_owner_grants_and_revokes_admins(deployment):
    user = deployment.users[0]
    receipt = deployment.client.transact(
        "Exchange", deployment.exchange, "setAdmin", user.address, True
    )
    assert deployment.client.is_admin(user.address)
    [event] = deployment.client.exchange_events(receipt.transaction_hash)
    assert (event.name, event.args) == ("AdminChanged", {"admin": user.address, "isAdmin": True})

    deployment.client.transact("Exchange", deployment.exchange, "setAdmin", user.address, False)
    assert not deployment.client.is_admin(user.address)


def test_the_owner_changes_the_fee_account(deployment):
    new = deployment.users[3].address
    receipt = deployment.client.transact("Exchange", deployment.exchange, "setFeeAccount", new)
    assert deployment.client.call("Exchange", deployment.exchange, "feeAccount").lower() == new
    [event] = deployment.client.exchange_events(receipt.transaction_hash)
    assert event.args == {
        "previousFeeAccount": deployment.fee_account.address,
        "newFeeAccount": new,
    }


def test_the_owner_hands_over_ownership(deployment):
    new_owner = deployment.users[2]
    deployment.client.transact("Exchange", deployment.exchange, "setOwner", new_owner.address)
    assert (
        deployment.client.call("Exchange", deployment.exchange, "owner").lower()
        == new_owner.address
    )
    with pytest.raises(ContractReverted, match="not the owner"):
        deployment.client.transact(
            "Exchange", deployment.exchange, "setAdmin", new_owner.address, True
        )
    deployment.client.transact(
        "Exchange",
        deployment.exchange,
        "setAdmin",
        new_owner.address,
        True,
        private_key=new_owner.key,
    )
    assert deployment.client.is_admin(new_owner.address)


@pytest.mark.parametrize(
    ("function", "args"),
    [
        ("setAdmin", ("user", True)),
        ("setOwner", ("user",)),
        ("setFeeAccount", ("user",)),
    ],
)
def test_only_the_owner_changes_roles(deployment, function, args):
    user = deployment.users[0]
    args = tuple(user.address if arg == "user" else arg for arg in args)
    with pytest.raises(ContractReverted, match="not the owner"):
        deployment.client.transact(
            "Exchange", deployment.exchange, function, *args, private_key=user.key
        )


def test_an_admin_that_is_not_owner_cannot_change_roles(deployment):
    user = deployment.users[0]
    deployment.client.transact("Exchange", deployment.exchange, "setAdmin", user.address, True)
    with pytest.raises(ContractReverted, match="not the owner"):
        deployment.client.transact(
            "Exchange",
            deployment.exchange,
            "setAdmin",
            deployment.users[1].address,
            True,
            private_key=user.key,
        )


@pytest.mark.parametrize("function", ["setOwner", "setFeeAccount"])
def test_it_refuses_the_zero_address_as_owner_or_fee_account(deployment, function):
    with pytest.raises(ContractReverted, match="zero"):
        deployment.client.transact("Exchange", deployment.exchange, function, ZERO)


def test_it_refuses_to_deploy_with_a_zero_fee_account(deployment):
    with pytest.raises(ContractReverted, match="zero fee account"):
        deployment.client.deploy("Exchange", ZERO, 10)
