"""chain/client.py against anvil: reads, deposit logs, sending, errors, the provider."""

import pytest

from chain import hashing
from chain.client import (
    ETHER,
    ChainError,
    ChainUnavailable,
    ContractReverted,
    ExchangeClient,
    TransactionRejected,
    exchange_client,
)
from tests.anvil import _free_port
from tests.chain.contract import ONE, deposit_ether, deposit_token, signed_withdrawal


def test_deposit_logs_decodes_each_deposit_event_in_block_order(chain):
    start = chain.client.head() + 1
    first = deposit_ether(chain, chain.users[0], ONE)
    second = deposit_token(chain, chain.users[1], chain.six, 2_500_000)
    deposit_ether(chain, chain.users[0], 3)

    logs = chain.client.deposit_logs(start, chain.client.head())

    assert [(log.token, log.user, log.amount, log.balance) for log in logs] == [
        (ETHER, chain.users[0].address, ONE, ONE),
        (chain.six, chain.users[1].address, 2_500_000, 2_500_000),
        (ETHER, chain.users[0].address, 3, ONE + 3),
    ]
    assert logs[0].transaction_hash == first.transaction_hash
    assert logs[0].block_number == first.block_number
    assert logs[0].block_hash == first.block_hash
    assert logs[1].transaction_hash == second.transaction_hash
    assert not any(log.removed for log in logs)


def test_deposit_logs_of_a_range_without_deposits_is_empty(chain):
    head = chain.client.head()
    assert chain.client.deposit_logs(head, head) == []


def test_block_links_each_block_to_its_parent(chain):
    chain.node.mine(2)
    head = chain.client.head()
    block, parent = chain.client.block(head), chain.client.block(head - 1)
    assert block.number == head
    assert block.parent_hash == parent.hash
    assert chain.client.block(head + 100) is None


def test_receipt_is_none_for_an_unknown_transaction(chain):
    assert chain.client.receipt("0x" + "12" * 32) is None


def test_nonce_counts_the_operators_transactions(chain):
    before = chain.client.nonce(chain.operator.address)
    chain.client.transact("Exchange", chain.exchange, "setAdmin", chain.users[0].address, True)
    assert chain.client.nonce(chain.operator.address) == before + 1


def test_a_prepared_withdrawal_has_its_hash_before_it_is_sent(chain):
    user = chain.users[0]
    deposit_ether(chain, user, ONE)
    withdrawal = signed_withdrawal(chain, user, ETHER, ONE)

    signed = chain.client.prepare_admin_withdraw(**withdrawal.fields)
    assert chain.client.receipt(signed.hash) is None
    assert chain.client.send_raw(signed) == signed.hash

    receipt = chain.client.wait_for_receipt(signed.hash)
    assert chain.client.receipt(signed.hash) == receipt
    assert receipt.succeeded and receipt.transaction_hash == signed.hash
    digest = hashing.withdraw_hash(
        contract=chain.exchange,
        token=ETHER,
        amount=ONE,
        account=user.address,
        nonce=withdrawal.nonce,
    )
    assert chain.client.withdrawn(digest)


def test_sending_the_same_signed_transaction_again_is_rejected_not_paid_twice(chain):
    user = chain.users[0]
    deposit_ether(chain, user, 2 * ONE)
    signed = chain.client.prepare_admin_withdraw(
        **signed_withdrawal(chain, user, ETHER, ONE).fields
    )
    chain.client.wait_for_receipt(chain.client.send_raw(signed))

    with pytest.raises(TransactionRejected):
        chain.client.send_raw(signed)
    assert chain.client.balance_of(ETHER, user.address) == ONE


def test_a_withdrawal_the_contract_would_refuse_raises_before_sending(chain):
    user = chain.users[0]
    nonce = chain.client.nonce(chain.operator.address)
    with pytest.raises(ContractReverted) as refused:
        chain.client.send_admin_withdraw(**signed_withdrawal(chain, user, ETHER, ONE).fields)
    assert refused.value.reason == "Exchange: insufficient balance"
    assert chain.client.nonce(chain.operator.address) == nonce


def test_an_unreachable_node_is_chain_unavailable():
    client = ExchangeClient(
        rpc_url=f"http://127.0.0.1:{_free_port()}", exchange_address="0x" + "11" * 20, timeout=1
    )
    with pytest.raises(ChainUnavailable):
        client.head()
    with pytest.raises(ChainUnavailable):
        client.balance_of(ETHER, "0x" + "22" * 20)
    with pytest.raises(ChainUnavailable):
        client.deposit_logs(0, 1)


def test_sending_without_an_operator_key_is_refused(chain):
    client = ExchangeClient(rpc_url=chain.node.rpc_url, exchange_address=chain.exchange)
    with pytest.raises(ChainError, match="no operator key"):
        client.send_admin_withdraw(**signed_withdrawal(chain, chain.users[0], ETHER, 1).fields)


def test_exchange_methods_need_an_exchange_address(chain):
    client = ExchangeClient(rpc_url=chain.node.rpc_url)
    with pytest.raises(ChainError, match="no exchange contract address"):
        client.balance_of(ETHER, chain.users[0].address)


def test_the_client_never_shows_the_key(chain):
    assert chain.operator.key[2:] not in repr(chain.client)


def test_token_info_reads_an_erc20(chain):
    info = chain.client.token_info(chain.six)
    assert (info.symbol, info.name, info.decimals, info.address) == (
        "SIX",
        "Six Decimals",
        6,
        chain.six,
    )


def test_token_info_refuses_an_address_that_is_not_a_token(chain):
    with pytest.raises(ChainError, match="ERC-20"):
        chain.client.token_info(chain.users[0].address)
    with pytest.raises(ChainError):
        chain.client.token_info(chain.exchange)


@pytest.mark.django_db
def test_exchange_client_is_built_from_the_network_row_and_the_operator_key(
    chain_network, chain, settings
):
    settings.OPERATOR_PRIVATE_KEY = chain.operator.key
    client = exchange_client(chain_network)
    assert client.exchange_address == chain.exchange
    assert client.operator_address == chain.operator.address
    assert client.head() == chain.client.head()


@pytest.mark.django_db
def test_the_operator_key_can_come_from_a_file(chain_network, chain, settings, tmp_path):
    key_file = tmp_path / "operator.key"
    key_file.write_text(chain.operator.key + "\n")
    settings.OPERATOR_PRIVATE_KEY = ""
    settings.OPERATOR_PRIVATE_KEY_FILE = str(key_file)
    assert exchange_client(chain_network).operator_address == chain.operator.address
