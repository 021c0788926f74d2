"""chain/client.py against anvil: reads, deposit logs, sending, errors, the provider."""

import pytest

from chain.client import (
    ETHER,
    ChainError,
    ChainUnavailable,
    ContractReverted,
    ExchangeClient,
    TransactionRejected,
    exchange_client,
)
from exchange.protocol import hashing
from relayer.ports import free_port
from tests.chain.contract import ONE, deposit_ether, deposit_token, signed_withdrawal


def test_deposit_logs_decodes_each_deposit_event_in_block_order(deployment):
    start = deployment.client.head() + 1
    first = deposit_ether(deployment, deployment.users[0], ONE)
    second = deposit_token(deployment, deployment.users[1], deployment.six, 2_500_000)
    deposit_ether(deployment, deployment.users[0], 3)

    logs = deployment.client.deposit_logs(start, deployment.client.head())

    assert [(log.token, log.user, log.amount, log.balance) for log in logs] == [
        (ETHER, deployment.users[0].address, ONE, ONE),
        (deployment.six, deployment.users[1].address, 2_500_000, 2_500_000),
        (ETHER, deployment.users[0].address, 3, ONE + 3),
    ]
    assert logs[0].transaction_hash == first.transaction_hash
    assert logs[0].block_number == first.block_number
    assert logs[0].block_hash == first.block_hash
    assert logs[1].transaction_hash == second.transaction_hash
    assert not any(log.removed for log in logs)


def test_deposit_logs_of_a_range_without_deposits_is_empty(deployment):
    head = deployment.client.head()
    assert deployment.client.deposit_logs(head, head) == []


def test_block_links_each_block_to_its_parent(deployment):
    deployment.node.mine(2)
    head = deployment.client.head()
    block, parent = deployment.client.block(head), deployment.client.block(head - 1)
    assert block.number == head
    assert block.parent_hash == parent.hash
    assert deployment.client.block(head + 100) is None


def test_receipt_is_none_for_an_unknown_transaction(deployment):
    assert deployment.client.receipt("0x" + "12" * 32) is None


def test_nonce_counts_the_operators_transactions(deployment):
    before = deployment.client.nonce(deployment.operator.address)
    deployment.client.transact(
        "Exchange", deployment.exchange, "setAdmin", deployment.users[0].address, True
    )
    assert deployment.client.nonce(deployment.operator.address) == before + 1


def test_a_prepared_withdrawal_has_its_hash_before_it_is_sent(deployment):
    user = deployment.users[0]
    deposit_ether(deployment, user, ONE)
    withdrawal = signed_withdrawal(deployment, user, ETHER, ONE)

    signed = deployment.client.prepare_admin_withdraw(**withdrawal.fields)
    assert deployment.client.receipt(signed.hash) is None
    assert deployment.client.send_raw(signed) == signed.hash

    receipt = deployment.client.wait_for_receipt(signed.hash)
    assert deployment.client.receipt(signed.hash) == receipt
    assert receipt.succeeded and receipt.transaction_hash == signed.hash
    digest = hashing.withdraw_hash(
        contract=deployment.exchange,
        token=ETHER,
        amount=ONE,
        account=user.address,
        nonce=withdrawal.nonce,
    )
    assert deployment.client.withdrawn(digest)


def test_sending_the_same_signed_transaction_again_is_rejected_not_paid_twice(deployment):
    user = deployment.users[0]
    deposit_ether(deployment, user, 2 * ONE)
    signed = deployment.client.prepare_admin_withdraw(
        **signed_withdrawal(deployment, user, ETHER, ONE).fields
    )
    deployment.client.wait_for_receipt(deployment.client.send_raw(signed))

    with pytest.raises(TransactionRejected):
        deployment.client.send_raw(signed)
    assert deployment.client.balance_of(ETHER, user.address) == ONE


def test_a_withdrawal_the_contract_would_refuse_raises_before_sending(deployment):
    user = deployment.users[0]
    nonce = deployment.client.nonce(deployment.operator.address)
    with pytest.raises(ContractReverted) as refused:
        deployment.client.send_admin_withdraw(
            **signed_withdrawal(deployment, user, ETHER, ONE).fields
        )
    assert refused.value.reason == "Exchange: insufficient balance"
    assert deployment.client.nonce(deployment.operator.address) == nonce


def test_an_unreachable_node_is_chain_unavailable():
    client = ExchangeClient(
        rpc_url=f"http://127.0.0.1:{free_port()}", exchange_address="0x" + "11" * 20, timeout=1
    )
    with pytest.raises(ChainUnavailable):
        client.head()
    with pytest.raises(ChainUnavailable):
        client.balance_of(ETHER, "0x" + "22" * 20)
    with pytest.raises(ChainUnavailable):
        client.deposit_logs(0, 1)


def test_sending_without_an_operator_key_is_refused(deployment):
    client = ExchangeClient(rpc_url=deployment.node.rpc_url, exchange_address=deployment.exchange)
    with pytest.raises(ChainError, match="no operator key"):
        client.send_admin_withdraw(
            **signed_withdrawal(deployment, deployment.users[0], ETHER, 1).fields
        )


def test_exchange_methods_need_an_exchange_address(deployment):
    client = ExchangeClient(rpc_url=deployment.node.rpc_url)
    with pytest.raises(ChainError, match="no exchange contract address"):
        client.balance_of(ETHER, deployment.users[0].address)


def test_the_client_never_shows_the_key(deployment):
    assert deployment.operator.key[2:] not in repr(deployment.client)


def test_token_info_reads_an_erc20(deployment):
    info = deployment.client.token_info(deployment.six)
    assert (info.symbol, info.name, info.decimals, info.address) == (
        "SIX",
        "Six Decimals",
        6,
        deployment.six,
    )


def test_token_info_refuses_an_address_that_is_not_a_token(deployment):
    with pytest.raises(ChainError, match="ERC-20"):
        deployment.client.token_info(deployment.users[0].address)
    with pytest.raises(ChainError):
        deployment.client.token_info(deployment.exchange)


@pytest.mark.django_db
def test_exchange_client_is_built_from_the_network_row_and_the_operator_key(
    chain_network, deployment, settings
):
    settings.OPERATOR_PRIVATE_KEY = deployment.operator.key
    client = exchange_client(chain_network)
    assert client.exchange_address == deployment.exchange
    assert client.operator_address == deployment.operator.address
    assert client.head() == deployment.client.head()


@pytest.mark.django_db
def test_the_operator_key_can_come_from_a_file(chain_network, deployment, settings, tmp_path):
    key_file = tmp_path / "operator.key"
    key_file.write_text(deployment.operator.key + "\n")
    settings.OPERATOR_PRIVATE_KEY = ""
    settings.OPERATOR_PRIVATE_KEY_FILE = str(key_file)
    assert exchange_client(chain_network).operator_address == deployment.operator.address
