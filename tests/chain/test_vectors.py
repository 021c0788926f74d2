"""chain/ agrees bit for bit with ethers (tests/vectors/ethers.json) and with eth-account."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from exchange.protocol import hashing
from exchange.protocol.signatures import recover_signer

VECTORS_DIR = Path(__file__).resolve().parents[1] / "vectors"
ROOT = VECTORS_DIR.parents[1]
VECTORS = json.loads((VECTORS_DIR / "ethers.json").read_text())["vectors"]


def python_hash(kind: str, f: dict) -> str:
    if kind == "order":
        return hashing.order_hash(
            contract=f["contractAddress"],
            account=f["account"],
            give_token=f["giveTokenAddress"],
            give_amount=int(f["giveAmount"]),
            take_token=f["takeTokenAddress"],
            take_amount=int(f["takeAmount"]),
            nonce=int(f["nonce"]),
            expiry_ms=int(f["expiryTimestampInMilliseconds"]),
        )
    if kind == "cancel":
        return hashing.cancel_hash(order_hash=f["orderHash"], nonce=int(f["nonce"]))
    if kind == "trade":
        return hashing.trade_hash(
            contract=f["contractAddress"],
            order_hash=f["orderHash"],
            amount=int(f["amount"]),
            account=f["account"],
            nonce=int(f["nonce"]),
        )
    return hashing.withdraw_hash(
        contract=f["contractAddress"],
        token=f["tokenAddress"],
        amount=int(f["amount"]),
        account=f["account"],
        nonce=int(f["nonce"]),
    )


def ids(vector: dict) -> str:
    return f"{vector['kind']}-{vector['address'][:8]}-{vector['hash'][:10]}"


def test_the_vectors_cover_every_hash_kind():
    assert {vector["kind"] for vector in VECTORS} == {"order", "cancel", "trade", "withdraw"}


@pytest.mark.parametrize("vector", VECTORS, ids=ids)
def test_python_hashes_equal_ethers_hashes(vector):
    assert python_hash(vector["kind"], vector["fields"]) == vector["hash"]


@pytest.mark.parametrize("vector", VECTORS, ids=ids)
def test_ethers_signatures_recover_to_the_signer(vector):
    assert recover_signer(vector["hash"], vector["signature"]) == vector["address"]


@pytest.mark.parametrize("vector", VECTORS, ids=ids)
def test_eth_account_signs_exactly_as_ethers(vector):
    # Both sign deterministically (RFC 6979) with low s: the bytes must be identical.
    signed = Account.from_key(vector["privateKey"]).sign_message(
        encode_defunct(hexstr=vector["hash"])
    )
    assert "0x" + bytes(signed.signature).hex() == vector["signature"]
    assert Account.from_key(vector["privateKey"]).address.lower() == vector["address"]


def test_the_checked_in_vectors_are_what_the_script_generates(tmp_path):
    """Re-runs tests/vectors/generate.js when Node and ethers are installed (`npm install`)."""
    if shutil.which("node") is None or not (ROOT / "node_modules" / "ethers").is_dir():
        pytest.skip("node or node_modules/ethers missing: run `npm install`")
    script = tmp_path / "generate.js"
    script.write_text(
        (VECTORS_DIR / "generate.js")
        .read_text()
        .replace(
            'require("ethers")', f"require({json.dumps(str(ROOT / 'node_modules' / 'ethers'))})"
        )
    )
    subprocess.run(["node", str(script)], check=True, capture_output=True, timeout=60)
    assert json.loads((tmp_path / "ethers.json").read_text())["vectors"] == VECTORS
