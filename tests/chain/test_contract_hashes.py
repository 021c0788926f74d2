"""The contract and exchange/protocol/hashing.py + exchange/protocol/signatures.py agree bit for bit (PROTOCOL.md)."""

import pytest
from eth_account import Account
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange.protocol import hashing
from exchange.protocol.signatures import InvalidSignature, recover_signer
from tests.anvil import DevAccount
from tests.chain.contract import high_s_twin

ZERO = "0x" + "00" * 20
addresses = st.binary(min_size=20, max_size=20).map(lambda raw: "0x" + raw.hex())
hashes = st.binary(min_size=32, max_size=32).map(lambda raw: "0x" + raw.hex())
uint256s = st.one_of(
    st.integers(min_value=0, max_value=2**256 - 1),
    st.sampled_from([0, 1, 2**255, 2**256 - 1, 10**18]),
)
keys = st.integers(min_value=1, max_value=2**255).map(lambda k: "0x" + k.to_bytes(32, "big").hex())

PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def contract(chain_deployment):
    deployment = chain_deployment

    def call(function, *args):
        return deployment.client.call("Exchange", deployment.exchange, function, *args)

    call.address = deployment.exchange
    return call


@PROPERTY
@given(
    maker=addresses,
    give_token=addresses,
    give_amount=uint256s,
    take_token=addresses,
    take_amount=uint256s,
    nonce=uint256s,
    expiry=uint256s,
)
def test_order_hash_matches(
    contract, maker, give_token, give_amount, take_token, take_amount, nonce, expiry
):
    expected = hashing.order_hash(
        contract=contract.address,
        account=maker,
        give_token=give_token,
        give_amount=give_amount,
        take_token=take_token,
        take_amount=take_amount,
        nonce=nonce,
        expiry_ms=expiry,
    )
    on_chain = contract(
        "orderHash", maker, give_token, give_amount, take_token, take_amount, nonce, expiry
    )
    assert on_chain == expected


@PROPERTY
@given(order_hash=hashes, amount=uint256s, taker=addresses, nonce=uint256s)
def test_trade_hash_matches(contract, order_hash, amount, taker, nonce):
    expected = hashing.trade_hash(
        contract=contract.address, order_hash=order_hash, amount=amount, account=taker, nonce=nonce
    )
    assert contract("tradeHash", bytes.fromhex(order_hash[2:]), amount, taker, nonce) == expected


@PROPERTY
@given(token=addresses, amount=uint256s, user=addresses, nonce=uint256s)
def test_withdraw_hash_matches(contract, token, amount, user, nonce):
    expected = hashing.withdraw_hash(
        contract=contract.address, token=token, amount=amount, account=user, nonce=nonce
    )
    assert contract("withdrawHash", token, amount, user, nonce) == expected


@PROPERTY
@given(order_hash=hashes, nonce=uint256s)
def test_cancel_hash_matches(contract, order_hash, nonce):
    expected = hashing.cancel_hash(order_hash=order_hash, nonce=nonce)
    assert contract("cancelHash", bytes.fromhex(order_hash[2:]), nonce) == expected


def _vrs(signature: str) -> tuple[int, bytes, bytes]:
    raw = bytes.fromhex(signature[2:])
    return raw[64], raw[:32], raw[32:64]


@PROPERTY
@given(key=keys, digest=hashes)
def test_the_contract_recovers_the_signer_python_recovers(contract, key, digest):
    signer = DevAccount(Account.from_key(key).address.lower(), key)
    signature = signer.sign_hash(digest)

    assert recover_signer(digest, signature) == signer.address
    assert (
        contract("recoverSigner", bytes.fromhex(digest[2:]), *_vrs(signature)).lower()
        == signer.address
    )

    # The malleable twin: both sides refuse it.
    twin = high_s_twin(signature)
    with pytest.raises(InvalidSignature):
        recover_signer(digest, twin)
    assert contract("recoverSigner", bytes.fromhex(digest[2:]), *_vrs(twin)) == ZERO


def test_the_hashes_are_bound_to_the_contract_address(contract):
    other = hashing.withdraw_hash(
        contract="0x" + "11" * 20, token=ZERO, amount=1, account=ZERO, nonce=1
    )
    assert contract("withdrawHash", ZERO, 1, ZERO, 1) != other


@pytest.mark.parametrize("v", [0, 1, 26, 29, 255])
def test_the_contract_recovers_nobody_for_a_bad_v(contract, v):
    signer = DevAccount(Account.from_key("0x" + "42" * 32).address.lower(), "0x" + "42" * 32)
    signature = signer.sign_hash("0x" + "ab" * 32)
    _, r, s = _vrs(signature)
    recovered = contract("recoverSigner", b"\xab" * 32, v, r, s).lower()
    if v in (0, 1) and v + 27 == bytes.fromhex(signature[2:])[64]:
        assert recovered == signer.address
    elif v in (0, 1):
        assert recovered != signer.address
    else:
        assert recovered == ZERO
