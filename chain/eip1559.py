"""Signing an EIP-1559 (type 2) transaction: RLP, keccak and a recoverable secp256k1
signature, nothing else.

Why not eth-account's sign_transaction: the settler signs a whole batch of trades (up to
100) inside the database transaction that holds the operator nonce row locked
(chain/outbox.py, claim), so every microsecond of signing is a microsecond that the
withdrawal dispatcher and the next batch wait for the lock. eth-account validates the
fields and builds typed-transaction objects first: 478 us a transaction against 46 us
here (issue 14's figures; on a shared machine, 1,952 us against 236 us in one run). What
it would add, field validation, is not needed: every field comes from our own code.

The cost of keeping it is the risk of a wrong byte. tests/chain/test_eip1559.py checks
the output against eth-account byte for byte (the raw transaction and its hash) on
hand-picked cases that cross RLP's length-prefix boundaries and on 400 random
transactions (random key, nonce, fees, gas, recipient or none, value, data, chain id),
and that anvil mines what it signs. RFC 6979 nonces and low-s signatures, as eth-account.
"""

from functools import cache

from coincurve import PrivateKey
from eth_hash.auto import keccak

TYPE = b"\x02"

# What RLP encodes: an integer, a byte string, or a list of those, nested.
RlpItem = int | bytes | list["RlpItem"]


def _length_prefix(length: int, offset: int) -> bytes:
    if length < 56:
        return bytes([offset + length])
    encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([offset + 55 + len(encoded)]) + encoded


def rlp(item: RlpItem) -> bytes:
    """Recursive length prefix: integers big-endian without leading zeros (0 is empty)."""
    if isinstance(item, list):
        body = b"".join(rlp(element) for element in item)
        return _length_prefix(len(body), 0xC0) + body
    if isinstance(item, int):
        item = item.to_bytes((item.bit_length() + 7) // 8, "big")
    if len(item) == 1 and item[0] < 0x80:
        return item
    return _length_prefix(len(item), 0x80) + item


@cache
def _key(secret: bytes) -> PrivateKey:
    return PrivateKey(secret)


def sign_dynamic_fee(
    secret: bytes,
    *,
    chain_id: int,
    nonce: int,
    max_priority_fee: int,
    max_fee: int,
    gas: int,
    to: str | None,
    value: int,
    data: bytes,
) -> tuple[str, bytes]:
    """(0x-hash, raw bytes) of the signed transaction, with an empty access list."""
    fields: list[RlpItem] = [
        chain_id,
        nonce,
        max_priority_fee,
        max_fee,
        gas,
        bytes.fromhex(to[2:]) if to else b"",
        value,
        data,
        [],
    ]
    signature = _key(secret).sign_recoverable(keccak(TYPE + rlp(fields)), hasher=None)
    r, s, y_parity = signature[:32], signature[32:64], signature[64]
    raw = TYPE + rlp([*fields, y_parity, int.from_bytes(r, "big"), int.from_bytes(s, "big")])
    return "0x" + keccak(raw).hex(), raw
