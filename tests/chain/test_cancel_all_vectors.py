"""The signed cancel-all's vectors (tests/vectors/cancel-all.json, computed by web3's
solidity_keccak and eth-account, without chain/) against exchange/protocol/hashing.py's
cancel_all_hash and exchange/protocol/typed_data.py's CancelAll digest, and their signatures
recovering to the vector's account (issue #16, docs/signing.md)."""

import json
from pathlib import Path

import pytest

from exchange.protocol import hashing, typed_data
from exchange.protocol.signatures import recover_signer, recover_typed_signer

VECTORS = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "cancel-all.json").read_text()
)["vectors"]


def _id(vector: dict) -> str:
    return f"{vector['chainId']}-{vector['market'] or 'all'}-{vector['nonce'][:8]}"


def test_the_vectors_cover_no_market_ascii_and_utf8_names_on_two_chains():
    assert {vector["market"] for vector in VECTORS} == {None, "WETH_DAI", "ÉTH_€"}
    assert {vector["chainId"] for vector in VECTORS} == {31337, 5}


@pytest.mark.parametrize("vector", VECTORS, ids=_id)
def test_cancel_all_hash_and_eth_sign_signature(vector):
    computed = hashing.cancel_all_hash(
        contract=vector["contractAddress"],
        account=vector["address"],
        market=vector["market"],
        nonce=int(vector["nonce"]),
    )
    assert computed == vector["eth_sign"]["cancelAllHash"]
    assert recover_signer(computed, vector["eth_sign"]["signature"]) == vector["address"]


@pytest.mark.parametrize("vector", VECTORS, ids=_id)
def test_cancel_all_eip712_digest_and_signature(vector):
    message = {
        "contractAddress": vector["contractAddress"],
        "account": vector["address"],
        "market": vector["market"] or "",
        "nonce": int(vector["nonce"]),
    }
    assert (
        "0x" + typed_data.struct_hash("CancelAll", message).hex()
        == (vector["eip712"]["structHash"])
    )
    digest = typed_data.cancel_all_digest(
        chain_id=vector["chainId"],
        contract=vector["contractAddress"],
        account=vector["address"],
        market=vector["market"],
        nonce=int(vector["nonce"]),
    )
    assert digest == vector["eip712"]["digest"]
    assert recover_typed_signer(digest, vector["eip712"]["signature"]) == vector["address"]


def test_the_type_string_is_the_documented_one():
    assert typed_data.type_string("CancelAll") == (
        "CancelAll(address contractAddress,address account,string market,uint256 nonce)"
    )
