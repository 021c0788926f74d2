"""Test vectors of the signed cancel-all (issue #16, docs/signing.md), computed without
chain/: the eth_sign hash with web3's solidity_keccak (abi.encodePacked of address,
address, string, uint256), the EIP-712 document written out here and encoded and signed
by eth-account. Regenerate with `.venv/bin/python tests/vectors/generate_cancel_all.py`
(writes cancel-all.json next to this file); tests/chain/test_cancel_all_vectors.py checks
the JSON against exchange/protocol/hashing.py and exchange/protocol/typed_data.py."""

import json
import random
from importlib.metadata import version
from pathlib import Path

from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data
from web3 import Web3

OUT = Path(__file__).resolve().parent / "cancel-all.json"
DOMAINS = [(31337, "0x5fbdb2315678afecb367f032d93f642f64180aa3"), (5, "0x" + "ab" * 20)]
MARKETS = [None, "WETH_DAI", "ÉTH_€"]  # none (every market), ASCII, non-ASCII UTF-8


def _eth_sign(account, contract: str, address: str, market: str | None, nonce: int) -> dict:
    packed = Web3.solidity_keccak(
        ["address", "address", "string", "uint256"],
        [Web3.to_checksum_address(contract), Web3.to_checksum_address(address), market or "",
         nonce],
    )  # fmt: skip
    digest = "0x" + bytes(packed).hex()
    signed = account.sign_message(encode_defunct(hexstr=digest))
    return {"cancelAllHash": digest, "signature": "0x" + bytes(signed.signature).hex()}


def _eip712(account, chain_id: int, contract: str, address: str, market, nonce: int) -> dict:
    document = {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "CancelAll": [
                {"name": "contractAddress", "type": "address"},
                {"name": "account", "type": "address"},
                {"name": "market", "type": "string"},
                {"name": "nonce", "type": "uint256"},
            ],
        },
        "primaryType": "CancelAll",
        "domain": {
            "name": "Relayer Exchange",
            "version": "1",
            "chainId": chain_id,
            "verifyingContract": contract,
        },
        "message": {
            "contractAddress": contract,
            "account": address,
            "market": market or "",
            "nonce": nonce,
        },
    }
    digest = "0x" + bytes(encode_typed_data(full_message=document).body).hex()
    signed = account.sign_typed_data(full_message=document)
    return {
        "digest": "0x" + bytes(signed.message_hash).hex(),
        "signature": "0x" + bytes(signed.signature).hex(),
        "structHash": digest,
    }


def vectors() -> list[dict]:
    rng = random.Random(16)
    result = []
    for _ in range(2):
        key = "0x" + rng.randbytes(32).hex()
        account = Account.from_key(key)
        address = account.address.lower()
        for chain_id, contract in DOMAINS:
            for market in MARKETS:
                nonce = rng.choice([0, 1, 2**256 - 1, rng.getrandbits(64)])
                result.append(
                    {
                        "privateKey": key,
                        "address": address,
                        "chainId": chain_id,
                        "contractAddress": contract,
                        "market": market,
                        "nonce": str(nonce),
                        "eth_sign": _eth_sign(account, contract, address, market, nonce),
                        "eip712": _eip712(account, chain_id, contract, address, market, nonce),
                    }
                )
    return result


if __name__ == "__main__":
    body = {"generator": f"eth-account {version('eth-account')}", "vectors": vectors()}
    OUT.write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {len(body['vectors'])} vectors to {OUT}")
