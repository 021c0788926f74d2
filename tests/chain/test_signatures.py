"""recover_signer accepts what web3.eth.sign / eth-account produce and nothing malleable."""

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.protocol.signatures import SECP256K1_N, InvalidSignature, recover_signer

keys = st.integers(min_value=1, max_value=SECP256K1_N - 1).map(lambda k: k.to_bytes(32, "big"))
hashes = st.binary(min_size=32, max_size=32).map(lambda raw: "0x" + raw.hex())


def sign(key: bytes, hash_hex: str) -> bytes:
    return bytes(Account.from_key(key).sign_message(encode_defunct(hexstr=hash_hex)).signature)


def address(key: bytes) -> str:
    return Account.from_key(key).address.lower()


@settings(max_examples=100, deadline=None)
@given(key=keys, hash_hex=hashes)
def test_eth_account_signatures_recover_to_their_signer(key, hash_hex):
    raw = sign(key, hash_hex)
    assert recover_signer(hash_hex, "0x" + raw.hex()) == address(key)
    # v as 0/1 (some wallets) means the same signature.
    assert recover_signer(hash_hex, "0x" + (raw[:64] + bytes([raw[64] - 27])).hex()) == address(key)


@settings(max_examples=50, deadline=None)
@given(key=keys, hash_hex=hashes)
def test_the_high_s_twin_of_a_valid_signature_is_refused(key, hash_hex):
    raw = sign(key, hash_hex)
    s = int.from_bytes(raw[32:64], "big")
    twin = raw[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - raw[64]])
    with pytest.raises(InvalidSignature, match="high-s"):
        recover_signer(hash_hex, "0x" + twin.hex())


@pytest.mark.parametrize(
    "signature",
    [
        "",
        "1234",
        "0x" + "zz" * 65,
        "0x" + "11" * 64,
        "0x" + "11" * 64 + "1d",  # v = 29
        "0x" + "00" * 65,  # r = s = 0
    ],
)
def test_malformed_signatures_are_refused(signature):
    with pytest.raises(InvalidSignature):
        recover_signer("0x" + "ab" * 32, signature)
