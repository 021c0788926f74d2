"""The operator step of docs/signing-eip712.md: the documented deploy_exchange command gives
the network a new contract that verifies EIP-712 withdrawals, and the old contract's
balances still leave through its escape hatch."""

import re
import shlex
from pathlib import Path

import pytest
from django.core.management import call_command
from eth_account import Account

from chain.client import ETHER, ExchangeClient
from exchange.protocol import typed_data
from tests.anvil import CHAIN_ID, INACTIVITY_BLOCKS
from tests.chain.contract import ONE, deposit_ether
from tests.signing import sign_typed

pytestmark = pytest.mark.django_db

PAGE = (Path(__file__).resolve().parents[2] / "docs" / "signing-eip712.md").read_text()


def documented_command() -> list[str]:
    match = re.search(r"<!-- example:deploy-eip712 -->\n```sh\n(.*?)\n```", PAGE, re.S)
    assert match, "docs/signing-eip712.md has no deploy-eip712 example"
    words = shlex.split(match.group(1))
    assert words[:2] == [".venv/bin/python", "manage.py"]
    return words[2:]


def test_the_documented_deploy_switches_the_network_and_old_balances_still_withdraw(
    deployment, chain_network, settings
):
    settings.OPERATOR_PRIVATE_KEY = deployment.operator.key
    old, user = deployment.exchange, deployment.users[0]
    deposit_ether(deployment, user, ONE)

    call_command(*documented_command())

    chain_network.refresh_from_db()
    new = chain_network.exchange_address
    assert new and new != old
    client = ExchangeClient(
        rpc_url=deployment.node.rpc_url, exchange_address=new, operator_key=deployment.operator.key
    )
    assert client.call("Exchange", new, "SIGNATURE_EIP712") == 1

    # A typed withdrawal on the new contract is paid.
    client.transact("Exchange", new, "deposit", value=ONE, private_key=user.key)
    message = {
        "contractAddress": new,
        "tokenAddress": ETHER,
        "amount": ONE,
        "account": user.address,
        "nonce": 1,
    }
    signature = sign_typed(
        Account.from_key(user.key), "Withdraw", message, chain_id=CHAIN_ID, contract=new
    )
    tx = client.send_admin_withdraw(
        token=ETHER,
        amount=ONE,
        user=user.address,
        nonce=1,
        signature=signature,
        fee=0,
        signature_type=typed_data.EIP712,
    )
    assert client.wait_for_receipt(tx).succeeded

    # The old contract keeps its balance; the user takes it out with the escape hatch.
    assert deployment.client.balance_of(ETHER, user.address) == ONE
    deployment.node.mine(INACTIVITY_BLOCKS)
    deployment.client.transact("Exchange", old, "withdraw", ETHER, ONE, private_key=user.key)
    assert deployment.client.balance_of(ETHER, user.address) == 0
