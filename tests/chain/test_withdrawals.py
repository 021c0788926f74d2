"""The withdrawal workers against a real anvil node: dispatch, confirm, unknown outcomes."""

import pytest

from chain.client import ETHER, ChainUnavailable, ExchangeClient
from chain.watcher import deposits_watch_run
from chain.withdrawals import (
    withdrawal_broadcast,
    withdrawal_claim,
    withdrawals_confirm_run,
    withdrawals_dispatch_run,
)
from exchange.models import Balance, Token, Transfer, TransferStatus
from exchange.protocol import hashing
from exchange.services.withdrawals import withdrawal_request
from relayer.ports import free_port
from tests.chain.contract import ONE, deposit_ether, token_balance
from tests.signing import next_nonce

pytestmark = pytest.mark.django_db

FEE = ONE // 100


@pytest.fixture
def funded(deployment, chain_network, settings):
    """users[0] with 5 ETH deposited on chain and credited by the watcher; ETH has a fee."""
    settings.FEE_ACCOUNT = deployment.fee_account.address
    Token.objects.filter(network=chain_network, address=ETHER).update(withdrawal_fee=FEE)
    user = deployment.users[0]
    deposit_ether(deployment, user, 5 * ONE)
    deposits_watch_run(network=chain_network, client=deployment.client)
    assert Balance.objects.get(account=user.address).total == 5 * ONE
    return user


def request_withdrawal(deployment, network, user, amount: int, token: str = ETHER) -> Transfer:
    nonce = next_nonce()
    digest = hashing.withdraw_hash(
        contract=deployment.exchange, token=token, amount=amount, account=user.address, nonce=nonce
    )
    return withdrawal_request(
        network=network,
        account=user.address,
        token_address=token,
        amount=amount,
        nonce=nonce,
        signature=user.sign_hash(digest),
    )


def dead_client(deployment) -> ExchangeClient:
    """A client whose node never answers: nothing listens on the port."""
    return ExchangeClient(
        rpc_url=f"http://127.0.0.1:{free_port()}",
        exchange_address=deployment.exchange,
        operator_key=deployment.operator.key,
        timeout=2,
    )


def operator_nonce(deployment) -> int:
    return deployment.client.nonce(deployment.operator.address, pending=False)


def ledger(account: str) -> tuple[int, int]:
    balance = Balance.objects.get(account=account, token__address=ETHER)
    return int(balance.total), int(balance.held)


def test_a_withdrawal_goes_pending_processing_complete_and_pays_the_wallet(
    deployment, chain_network, funded
):
    chain_network.confirmations = 2
    chain_network.save()
    wallet_before = token_balance(deployment, ETHER, funded.address)
    withdrawal = request_withdrawal(deployment, chain_network, funded, 2 * ONE)
    assert withdrawal.status == TransferStatus.PENDING
    assert ledger(funded.address) == (5 * ONE, 2 * ONE)

    dispatched = withdrawals_dispatch_run(network=chain_network, client=deployment.client)

    assert dispatched.sent == [withdrawal.id]
    withdrawal.refresh_from_db()
    assert withdrawal.status == TransferStatus.PROCESSING
    assert withdrawal.transaction_hash and withdrawal.broadcast_at
    assert withdrawal.operator_nonce == operator_nonce(deployment) - 1
    receipt = deployment.client.wait_for_receipt(withdrawal.transaction_hash)
    assert receipt.succeeded

    # Mined, one confirmation of two: still PROCESSING.
    assert withdrawals_confirm_run(network=chain_network, client=deployment.client).waiting == [
        withdrawal.id
    ]
    deployment.node.mine(1)
    confirmed = withdrawals_confirm_run(network=chain_network, client=deployment.client)

    assert confirmed.completed == [withdrawal.id]
    withdrawal.refresh_from_db()
    assert (withdrawal.status, withdrawal.block_number, withdrawal.block_hash) == (
        TransferStatus.COMPLETE,
        receipt.block_number,
        receipt.block_hash,
    )
    assert token_balance(deployment, ETHER, funded.address) == wallet_before + 2 * ONE - FEE
    assert deployment.client.withdrawn(withdrawal.hash)
    assert deployment.client.balance_of(ETHER, funded.address) == 3 * ONE
    assert ledger(funded.address) == (3 * ONE, 0)
    assert ledger(deployment.fee_account.address) == (FEE, 0)
    assert deployment.client.balance_of(ETHER, deployment.fee_account.address) == FEE


def test_workers_run_again_send_nothing_more(deployment, chain_network, funded):
    withdrawal = request_withdrawal(deployment, chain_network, funded, ONE)
    withdrawals_dispatch_run(network=chain_network, client=deployment.client)
    withdrawal.refresh_from_db()
    deployment.client.wait_for_receipt(withdrawal.transaction_hash)
    withdrawals_confirm_run(network=chain_network, client=deployment.client)
    sent = operator_nonce(deployment)

    for _ in range(3):
        withdrawals_dispatch_run(network=chain_network, client=deployment.client)
        withdrawals_confirm_run(network=chain_network, client=deployment.client)
        deployment.node.mine(1)

    assert operator_nonce(deployment) == sent
    assert Transfer.objects.get(kind="withdrawal").status == TransferStatus.COMPLETE


def test_a_send_that_never_reached_the_node_is_sent_again_once(deployment, chain_network, funded):
    wallet_before = token_balance(deployment, ETHER, funded.address)
    withdrawal = request_withdrawal(deployment, chain_network, funded, ONE)
    nonce_before = operator_nonce(deployment)

    signed = withdrawal_claim(withdrawal_id=withdrawal.id, client=deployment.client)
    # The node is unreachable when the worker sends: the outcome is unknown to it.
    assert withdrawal_broadcast(
        withdrawal_id=withdrawal.id, signed=signed, client=dead_client(deployment)
    ) == ("unknown")
    withdrawal.refresh_from_db()
    assert (withdrawal.status, withdrawal.transaction_hash) == ("PROCESSING", signed.hash)
    assert withdrawal.broadcast_at is None
    with pytest.raises(ChainUnavailable):
        withdrawals_confirm_run(network=chain_network, client=dead_client(deployment))
    # Dispatch never claims it again.
    assert withdrawals_dispatch_run(network=chain_network, client=deployment.client).sent == []

    # The node is back: no receipt, not in its pool, the nonce is free: the same transaction.
    assert withdrawals_confirm_run(network=chain_network, client=deployment.client).resent == [
        withdrawal.id
    ]
    deployment.client.wait_for_receipt(signed.hash)
    withdrawals_confirm_run(network=chain_network, client=deployment.client)
    withdrawals_confirm_run(network=chain_network, client=deployment.client)

    withdrawal.refresh_from_db()
    assert (withdrawal.status, withdrawal.transaction_hash) == ("COMPLETE", signed.hash)
    assert operator_nonce(deployment) == nonce_before + 1
    assert token_balance(deployment, ETHER, funded.address) == wallet_before + ONE - FEE
    assert ledger(funded.address) == (4 * ONE, 0)


def test_a_node_that_stops_after_the_send_never_leads_to_a_second_payment(
    deployment, chain_network, funded
):
    deployment.node.rpc("evm_setAutomine", [False])
    try:
        wallet_before = token_balance(deployment, ETHER, funded.address)
        withdrawal = request_withdrawal(deployment, chain_network, funded, ONE)
        nonce_before = operator_nonce(deployment)
        assert withdrawals_dispatch_run(network=chain_network, client=deployment.client).sent == [
            withdrawal.id
        ]

        # The node stops answering before the receipt: nothing changes, nothing is sent.
        with pytest.raises(ChainUnavailable):
            withdrawals_confirm_run(network=chain_network, client=dead_client(deployment))
        assert Transfer.objects.get(id=withdrawal.id).status == "PROCESSING"

        # Back, still unmined: the transaction is in the node's pool, so it waits.
        for _ in range(2):
            result = withdrawals_confirm_run(network=chain_network, client=deployment.client)
            assert (result.waiting, result.resent) == ([withdrawal.id], [])
        assert int(deployment.node.rpc("txpool_status")["pending"], 16) == 1
        deployment.node.mine(1)
        withdrawals_confirm_run(network=chain_network, client=deployment.client)
    finally:
        deployment.node.rpc("evm_setAutomine", [True])

    assert Transfer.objects.get(id=withdrawal.id).status == "COMPLETE"
    assert operator_nonce(deployment) == nonce_before + 1
    assert token_balance(deployment, ETHER, funded.address) == wallet_before + ONE - FEE


def test_a_transaction_whose_nonce_another_took_is_signed_again_and_paid_once(
    deployment, chain_network, funded
):
    wallet_before = token_balance(deployment, ETHER, funded.address)
    withdrawal = request_withdrawal(deployment, chain_network, funded, ONE)
    signed = withdrawal_claim(withdrawal_id=withdrawal.id, client=deployment.client)
    # Lost before it reached the node, and another operator transaction used its nonce.
    deployment.client.transact(
        "Exchange", deployment.exchange, "setAdmin", deployment.operator.address, True
    )
    assert operator_nonce(deployment) == signed.nonce + 1

    result = withdrawals_confirm_run(network=chain_network, client=deployment.client)
    withdrawal.refresh_from_db()
    deployment.client.wait_for_receipt(withdrawal.transaction_hash)
    withdrawals_confirm_run(network=chain_network, client=deployment.client)

    assert result.resent == [withdrawal.id]
    withdrawal.refresh_from_db()
    assert withdrawal.status == "COMPLETE"
    assert withdrawal.transaction_hash != signed.hash
    assert withdrawal.operator_nonce == signed.nonce + 1
    assert token_balance(deployment, ETHER, funded.address) == wallet_before + ONE - FEE
    assert deployment.client.receipt(signed.hash) is None


def test_a_reverted_withdrawal_fails_and_releases_its_hold(deployment, chain_network, funded, fund):
    # The ledger holds more than the contract (proceeds of trades not yet settled on chain).
    fund(funded.address, Token.objects.get(network=chain_network, address=ETHER), 5 * ONE)
    first = request_withdrawal(deployment, chain_network, funded, 4 * ONE)
    second = request_withdrawal(deployment, chain_network, funded, 4 * ONE)
    # Both are signed while each alone fits the contract balance, then both are sent.
    signed = [
        withdrawal_claim(withdrawal_id=w.id, client=deployment.client) for w in (first, second)
    ]
    for withdrawal, transaction in zip((first, second), signed, strict=True):
        withdrawal_broadcast(
            withdrawal_id=withdrawal.id, signed=transaction, client=deployment.client
        )
    for transaction in signed:
        deployment.client.wait_for_receipt(transaction.hash)

    result = withdrawals_confirm_run(network=chain_network, client=deployment.client)

    assert (result.completed, result.failed) == ([first.id], [second.id])
    second.refresh_from_db()
    assert second.status == "FAILED" and "reverted" in second.error
    assert not deployment.client.withdrawn(second.hash)
    assert ledger(funded.address) == (6 * ONE, 0)


def test_a_withdrawal_the_contract_cannot_pay_yet_waits_pending(
    deployment, chain_network, funded, fund
):
    fund(funded.address, Token.objects.get(network=chain_network, address=ETHER), 5 * ONE)
    withdrawal = request_withdrawal(deployment, chain_network, funded, 8 * ONE)

    result = withdrawals_dispatch_run(network=chain_network, client=deployment.client)

    assert result.deferred == [withdrawal.id]
    withdrawal.refresh_from_db()
    assert withdrawal.status == "PENDING" and "insufficient balance" in withdrawal.error
    assert ledger(funded.address) == (10 * ONE, 8 * ONE)
