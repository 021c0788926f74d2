"""exchange.protocol.hashing packs by hand what Web3.solidity_keccak (abi.encodePacked) packs."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from web3 import Web3

from exchange.protocol import hashing

addresses = st.binary(min_size=20, max_size=20).map(lambda raw: "0x" + raw.hex())
checksummed = addresses.map(Web3.to_checksum_address)
uints = st.one_of(
    st.integers(min_value=0, max_value=2**256 - 1), st.sampled_from([0, 1, 2**256 - 1])
)
hashes = st.binary(min_size=32, max_size=32).map(lambda raw: "0x" + raw.hex())


def reference(types: list[str], values: list) -> str:
    return "0x" + Web3.solidity_keccak(types, values).hex().removeprefix("0x")


@settings(max_examples=200, deadline=None)
@given(
    contract=checksummed,
    account=addresses,
    give_token=checksummed,
    give_amount=uints,
    take_token=addresses,
    take_amount=uints,
    nonce=uints,
    expiry_ms=uints,
)
def test_order_hash_is_solidity_keccak_of_the_packed_fields(
    contract, account, give_token, give_amount, take_token, take_amount, nonce, expiry_ms
):
    expected = reference(
        ["address", "address", "address", "uint256", "address", "uint256", "uint256", "uint256"],
        [
            Web3.to_checksum_address(contract),
            Web3.to_checksum_address(account),
            Web3.to_checksum_address(give_token),
            give_amount,
            Web3.to_checksum_address(take_token),
            take_amount,
            nonce,
            expiry_ms,
        ],
    )
    assert (
        hashing.order_hash(
            contract=contract,
            account=account,
            give_token=give_token,
            give_amount=give_amount,
            take_token=take_token,
            take_amount=take_amount,
            nonce=nonce,
            expiry_ms=expiry_ms,
        )
        == expected
    )


@settings(max_examples=200, deadline=None)
@given(order_hash=hashes, nonce=uints)
def test_cancel_hash_is_solidity_keccak_of_the_packed_fields(order_hash, nonce):
    expected = reference(["bytes32", "uint256"], [order_hash, nonce])
    assert hashing.cancel_hash(order_hash=order_hash, nonce=nonce) == expected


@settings(max_examples=200, deadline=None)
@given(contract=addresses, order_hash=hashes, amount=uints, account=addresses, nonce=uints)
def test_trade_hash_is_solidity_keccak_of_the_packed_fields(
    contract, order_hash, amount, account, nonce
):
    expected = reference(
        ["address", "bytes32", "uint256", "address", "uint256"],
        [
            Web3.to_checksum_address(contract),
            order_hash,
            amount,
            Web3.to_checksum_address(account),
            nonce,
        ],
    )
    assert (
        hashing.trade_hash(
            contract=contract, order_hash=order_hash, amount=amount, account=account, nonce=nonce
        )
        == expected
    )


@settings(max_examples=200, deadline=None)
@given(contract=addresses, token=addresses, amount=uints, account=addresses, nonce=uints)
def test_withdraw_hash_is_solidity_keccak_of_the_packed_fields(
    contract, token, amount, account, nonce
):
    expected = reference(
        ["address", "address", "uint256", "address", "uint256"],
        [
            Web3.to_checksum_address(contract),
            Web3.to_checksum_address(token),
            amount,
            Web3.to_checksum_address(account),
            nonce,
        ],
    )
    assert (
        hashing.withdraw_hash(
            contract=contract, token=token, amount=amount, account=account, nonce=nonce
        )
        == expected
    )


@pytest.mark.parametrize("amount", [-1, 2**256])
def test_amounts_outside_uint256_are_refused(amount):
    with pytest.raises(ValueError):
        hashing.cancel_hash(order_hash="0x" + "00" * 32, nonce=amount)


@pytest.mark.parametrize("address", ["0x1234", "0x" + "00" * 21])
def test_addresses_that_are_not_20_bytes_are_refused(address):
    with pytest.raises(ValueError):
        hashing.withdraw_hash(contract=address, token=address, amount=1, account=address, nonce=1)
