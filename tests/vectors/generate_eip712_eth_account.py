"""EIP-712 test vectors computed by eth-account (the library a Python client uses):
encode_typed_data for the digest, Account.sign_typed_data for the signature, over the
document exchange/protocol/typed_data.py builds. Regenerate with
`.venv/bin/python tests/vectors/generate_eip712_eth_account.py` (writes
eip712-eth-account.json next to this file); tests/chain/test_typed_data.py checks the JSON
against chain/, against ethers (generate-eip712.js --check) and against the contract."""

import json
import random
import sys
from pathlib import Path

from eth_account import Account

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from exchange.protocol.typed_data import STRUCTS, typed_data

OUT = Path(__file__).resolve().parent / "eip712-eth-account.json"
ANVIL_FIRST_CONTRACT = "0x5fbdb2315678afecb367f032d93f642f64180aa3"
DOMAINS = [(31337, ANVIL_FIRST_CONTRACT), (5, "0x" + "ab" * 20)]


def _value(rng: random.Random, kind: str, name: str, account: str, contract: str):
    if name == "account":
        return account
    if name == "contractAddress":
        return contract
    if kind == "address":
        return "0x" + rng.randbytes(20).hex()
    if kind == "bytes32":
        return "0x" + rng.randbytes(32).hex()
    return rng.choice([0, 1, 2**256 - 1, rng.getrandbits(256), rng.getrandbits(64)])


def vectors() -> list[dict]:
    rng = random.Random(712)
    result = []
    for _ in range(3):
        key = "0x" + rng.randbytes(32).hex()
        account = Account.from_key(key)
        address = account.address.lower()
        for chain_id, contract in DOMAINS:
            for name, fields in STRUCTS.items():
                message = {
                    field: _value(rng, kind, field, address, contract) for field, kind in fields
                }
                document = typed_data(name, message, chain_id=chain_id, contract=contract)
                signed = account.sign_typed_data(full_message=document)
                result.append(
                    {
                        "primaryType": name,
                        "privateKey": key,
                        "address": address,
                        "domain": document["domain"],
                        "message": {
                            field: str(value) if isinstance(value, int) else value
                            for field, value in document["message"].items()
                        },
                        "digest": "0x" + bytes(signed.message_hash).hex(),
                        "signature": "0x" + bytes(signed.signature).hex(),
                    }
                )
    return result


def generator() -> str:
    from importlib.metadata import version

    return f"eth-account {version('eth-account')}"


if __name__ == "__main__":
    body = {"generator": generator(), "vectors": vectors()}
    OUT.write_text(json.dumps(body, indent=2) + "\n")
    print(f"wrote {len(body['vectors'])} vectors to {OUT.name}")
