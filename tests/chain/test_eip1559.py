"""chain/eip1559.py signs exactly what eth-account signs (byte for byte: the raw
transaction and its hash) across field sizes, contract creations and data lengths that
cross RLP's length-prefix boundaries; and anvil accepts and mines what it signs."""

import random

import pytest
from eth_account import Account
from web3 import Web3

from chain.client import ExchangeClient
from chain.eip1559 import rlp, sign_dynamic_fee

KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
CASES = [
    # chain id, nonce, tip, max fee, gas, to, value, data length
    (1, 0, 0, 1, 21_000, "0x" + "11" * 20, 0, 0),
    (31337, 127, 10**9, 3 * 10**9, 300_000, "0x" + "ab" * 20, 1, 1),
    (31337, 128, 1, 2**100, 10**7, None, 10**18, 55),
    (2**40, 2**33, 10**9, 10**12, 300_000, "0x" + "00" * 20, 2**255, 56),
    (31337, 5, 10**9, 2 * 10**9, 300_000, "0x" + "cd" * 20, 0, 740),
    (31337, 6, 10**9, 2 * 10**9, 3_000_000, None, 0, 70_000),
]


@pytest.mark.parametrize(
    ("chain_id", "nonce", "tip", "max_fee", "gas", "to", "value", "size"), CASES
)
def test_it_signs_exactly_what_eth_account_signs(
    chain_id, nonce, tip, max_fee, gas, to, value, size
):
    data = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    transaction = {
        "chainId": chain_id,
        "nonce": nonce,
        "maxPriorityFeePerGas": tip,
        "maxFeePerGas": max_fee,
        "gas": gas,
        "value": value,
        "data": data,
    }
    if to:
        transaction["to"] = Web3.to_checksum_address(to)
    expected = Account.from_key(KEY).sign_transaction(transaction)

    tx_hash, raw = sign_dynamic_fee(
        KEY,
        chain_id=chain_id,
        nonce=nonce,
        max_priority_fee=tip,
        max_fee=max_fee,
        gas=gas,
        to=to,
        value=value,
        data=data,
    )

    assert raw == bytes(expected.raw_transaction)
    assert tx_hash == "0x" + bytes(expected.hash).hex()


def _random_size(rng: random.Random, bits: int) -> int:
    """An integer of a random bit length up to `bits`: small and large values alike."""
    return rng.getrandbits(rng.randint(0, bits))


def _random_transaction(rng: random.Random) -> dict:
    return {
        "chain_id": _random_size(rng, 64) or 1,
        "nonce": _random_size(rng, 63),
        "max_priority_fee": _random_size(rng, 128),
        "max_fee": _random_size(rng, 128),
        "gas": _random_size(rng, 63),
        "to": None if rng.random() < 0.1 else "0x" + rng.randbytes(20).hex(),
        "value": _random_size(rng, 256),
        "data": rng.randbytes(rng.choice([0, 1, rng.randint(0, 80), rng.randint(0, 2000)])),
    }


def test_it_signs_exactly_what_eth_account_signs_on_random_transactions():
    """Random keys and fields (a fixed seed, so a failure is reproducible)."""
    rng = random.Random(1559)
    for _ in range(400):
        key = rng.randbytes(32)
        fields = _random_transaction(rng)
        transaction = {
            "chainId": fields["chain_id"],
            "nonce": fields["nonce"],
            "maxPriorityFeePerGas": fields["max_priority_fee"],
            "maxFeePerGas": fields["max_fee"],
            "gas": fields["gas"],
            "value": fields["value"],
            "data": fields["data"],
        }
        if fields["to"]:
            transaction["to"] = Web3.to_checksum_address(fields["to"])
        expected = Account.from_key(key).sign_transaction(transaction)

        tx_hash, raw = sign_dynamic_fee(key, **fields)

        assert raw == bytes(expected.raw_transaction), fields
        assert tx_hash == "0x" + bytes(expected.hash).hex(), fields


def test_rlp_encodes_the_specifications_examples():
    assert rlp(b"dog") == b"\x83dog"
    assert rlp([b"cat", b"dog"]) == b"\xc8\x83cat\x83dog"
    assert rlp(b"") == b"\x80" and rlp([]) == b"\xc0" and rlp(0) == b"\x80"
    assert rlp(15) == b"\x0f" and rlp(1024) == b"\x82\x04\x00"
    assert rlp(b"a" * 56) == b"\xb8\x38" + b"a" * 56


def test_a_transaction_it_signs_is_mined_by_the_node(deployment):
    user = deployment.users[0]
    client: ExchangeClient = deployment.client
    before = client.ether_balance(deployment.users[1].address)

    signed = client.sign_transaction(
        to=deployment.users[1].address, data=b"", value=12345, private_key=user.key
    )
    receipt = client.wait_for_receipt(client.send_raw(signed))

    assert receipt.succeeded and receipt.transaction_hash == signed.hash
    assert client.ether_balance(deployment.users[1].address) == before + 12345
