"""EIP-712 typed data for the protocol's signed messages (docs/signing-eip712.md).

The domain binds a signature to one chain and one exchange contract; each struct has the
fields of its hash in PROTOCOL.md, in the same order, named as the API names them
(contractAddress stays in the structs that have it, so a wallet shows it too). The digest a
wallet signs is keccak256("\\x19\\x01" || domainSeparator || hashStruct(message)).

Packed by hand like exchange/protocol/hashing.py: every field is a static type (address, uint256,
bytes32) or a string (its keccak256), so hashStruct is keccak256(typeHash || each field
as one 32-byte word).
eth-account's encoder (eth_account.messages.encode_typed_data) gives the same bytes about
ten times slower (docs/signing-eip712.md, "Cost"); tests/chain/test_typed_data.py checks
the two byte for byte.
"""

from collections.abc import Mapping
from typing import Any

from eth_hash.auto import keccak

from exchange.protocol.hashing import pack_address, pack_bytes32, pack_uint256, to_hex

ETH_SIGN = "eth_sign"
EIP712 = "eip712"
SIGNATURE_TYPES = (ETH_SIGN, EIP712)  # the API's signatureType values; the index is the
# contract's signatureType code (Exchange.sol SIGNATURE_ETH_SIGN, SIGNATURE_EIP712)

DOMAIN_NAME = "Relayer Exchange"
DOMAIN_VERSION = "1"

# The EIP-712 types: field name and Solidity type, in the order of PROTOCOL.md's hashes.
DOMAIN_FIELDS = (
    ("name", "string"),
    ("version", "string"),
    ("chainId", "uint256"),
    ("verifyingContract", "address"),
)
STRUCTS: dict[str, tuple[tuple[str, str], ...]] = {
    "Order": (
        ("contractAddress", "address"),
        ("account", "address"),
        ("giveTokenAddress", "address"),
        ("giveAmount", "uint256"),
        ("takeTokenAddress", "address"),
        ("takeAmount", "uint256"),
        ("nonce", "uint256"),
        ("expiryTimestampInMilliseconds", "uint256"),
    ),
    "Cancel": (
        ("orderHash", "bytes32"),
        ("nonce", "uint256"),
    ),
    "Trade": (
        ("contractAddress", "address"),
        ("orderHash", "bytes32"),
        ("amount", "uint256"),
        ("account", "address"),
        ("nonce", "uint256"),
    ),
    "Withdraw": (
        ("contractAddress", "address"),
        ("tokenAddress", "address"),
        ("amount", "uint256"),
        ("account", "address"),
        ("nonce", "uint256"),
    ),
}
# Structs the server checks but the contract never sees (issue #16's signed cancel-all):
# kept apart from STRUCTS, the contract's, which the ethers vectors and Exchange.sol mirror.
# CancelAll's market is the one dynamic field (string: hashed as keccak256 of its UTF-8
# bytes, "" when no market is named).
OFFCHAIN_STRUCTS: dict[str, tuple[tuple[str, str], ...]] = {
    "CancelAll": (
        ("contractAddress", "address"),
        ("account", "address"),
        ("market", "string"),
        ("nonce", "uint256"),
    ),
}
ALL_STRUCTS = {**STRUCTS, **OFFCHAIN_STRUCTS}


def signature_type_code(signature_type: str) -> int:
    """The contract's signatureType code of an API signatureType value."""
    try:
        return SIGNATURE_TYPES.index(signature_type)
    except ValueError:
        raise ValueError(f"unknown signature type {signature_type!r}") from None


def type_string(name: str) -> str:
    """encodeType: "Order(address contractAddress,...)"; no struct refers to another."""
    fields = DOMAIN_FIELDS if name == "EIP712Domain" else ALL_STRUCTS[name]
    return f"{name}({','.join(f'{kind} {field}' for field, kind in fields)})"


_DOMAIN_TYPEHASH = keccak(type_string("EIP712Domain").encode())
_TYPEHASH = {name: keccak(type_string(name).encode()) for name in ALL_STRUCTS}
_NAME_HASH = keccak(DOMAIN_NAME.encode())
_VERSION_HASH = keccak(DOMAIN_VERSION.encode())
_domains: dict[tuple[int, str], bytes] = {}


def domain_separator(*, chain_id: int, contract: str) -> bytes:
    """hashStruct(EIP712Domain) of one network's exchange contract (kept per process)."""
    key = (int(chain_id), contract.lower())
    separator = _domains.get(key)
    if separator is None:
        separator = keccak(
            _DOMAIN_TYPEHASH
            + _NAME_HASH
            + _VERSION_HASH
            + pack_uint256(chain_id)
            + pack_address(contract).rjust(32, b"\0")
        )
        if len(_domains) < 1024:
            _domains[key] = separator
    return separator


# A struct's fields by the API's names; each value's type is its field's kind (address,
# bytes32, string: str; uint256: int or a decimal string), known only at run time: Any.
Message = Mapping[str, Any]


def _word(kind: str, value: Any) -> bytes:
    if kind == "address":
        return pack_address(value).rjust(32, b"\0")
    if kind == "bytes32":
        return pack_bytes32(value)
    if kind == "string":
        return keccak((value or "").encode("utf-8"))
    return pack_uint256(value)


def struct_hash(name: str, message: Message) -> bytes:
    """hashStruct(message) of one of ALL_STRUCTS; `message` keyed by the API's field names."""
    fields = ALL_STRUCTS[name]
    return keccak(_TYPEHASH[name] + b"".join(_word(kind, message[field]) for field, kind in fields))


def typed_digest(name: str, message: Message, *, chain_id: int, contract: str) -> str:
    """The 32-byte digest an EIP-712 wallet signs for `message` (0x-hex)."""
    separator = domain_separator(chain_id=chain_id, contract=contract)
    return to_hex(keccak(b"\x19\x01" + separator + struct_hash(name, message)))


def order_digest(
    *,
    chain_id: int,
    contract: str,
    account: str,
    give_token: str,
    give_amount: int,
    take_token: str,
    take_amount: int,
    nonce: int,
    expiry_ms: int,
) -> str:
    return typed_digest(
        "Order",
        {
            "contractAddress": contract,
            "account": account,
            "giveTokenAddress": give_token,
            "giveAmount": give_amount,
            "takeTokenAddress": take_token,
            "takeAmount": take_amount,
            "nonce": nonce,
            "expiryTimestampInMilliseconds": expiry_ms,
        },
        chain_id=chain_id,
        contract=contract,
    )


def cancel_digest(*, chain_id: int, contract: str, order_hash: str, nonce: int) -> str:
    return typed_digest(
        "Cancel", {"orderHash": order_hash, "nonce": nonce}, chain_id=chain_id, contract=contract
    )


def trade_digest(
    *, chain_id: int, contract: str, order_hash: str, amount: int, account: str, nonce: int
) -> str:
    return typed_digest(
        "Trade",
        {
            "contractAddress": contract,
            "orderHash": order_hash,
            "amount": amount,
            "account": account,
            "nonce": nonce,
        },
        chain_id=chain_id,
        contract=contract,
    )


def withdraw_digest(
    *, chain_id: int, contract: str, token: str, amount: int, account: str, nonce: int
) -> str:
    return typed_digest(
        "Withdraw",
        {
            "contractAddress": contract,
            "tokenAddress": token,
            "amount": amount,
            "account": account,
            "nonce": nonce,
        },
        chain_id=chain_id,
        contract=contract,
    )


def _document_value(kind: str, value: Any) -> int | str:
    if kind == "uint256":
        return int(value)
    if kind == "string":
        return str(value or "")
    return str(value).lower()


def cancel_all_digest(
    *, chain_id: int, contract: str, account: str, market: str | None, nonce: int
) -> str:
    return typed_digest(
        "CancelAll",
        {"contractAddress": contract, "account": account, "market": market or "", "nonce": nonce},
        chain_id=chain_id,
        contract=contract,
    )


def typed_data(name: str, message: Message, *, chain_id: int, contract: str) -> dict[str, Any]:
    """The full EIP-712 document (eth_signTypedData_v4, eth-account's encode_typed_data
    full_message): what a wallet is asked to sign. Amounts stay integers."""
    return {
        "types": {
            "EIP712Domain": [{"name": field, "type": kind} for field, kind in DOMAIN_FIELDS],
            name: [{"name": field, "type": kind} for field, kind in ALL_STRUCTS[name]],
        },
        "primaryType": name,
        "domain": {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": int(chain_id),
            "verifyingContract": contract.lower(),
        },
        "message": {
            field: _document_value(kind, message[field]) for field, kind in ALL_STRUCTS[name]
        },
    }
