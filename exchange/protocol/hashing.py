"""The protocol's hashes (PROTOCOL.md, "Hashes and signatures"), packed by hand.

Each hash is keccak-256 over Solidity's abi.encodePacked of its fields: an
address is its 20 bytes, a uint256 its 32 big-endian bytes, a bytes32 itself.
Packing by hand is several times faster than Web3.solidity_keccak, and the
contract computes the same bytes (tests check the two against each other).
"""

from eth_hash.auto import keccak

UINT256_MAX = 2**256 - 1


def pack_address(value: str) -> bytes:
    raw = bytes.fromhex(value[2:] if value[:2] in ("0x", "0X") else value)
    if len(raw) != 20:
        raise ValueError(f"not a 20-byte address: {value}")
    return raw


def pack_uint256(value: int) -> bytes:
    value = int(value)
    if not 0 <= value <= UINT256_MAX:
        raise ValueError(f"not a uint256: {value}")
    return value.to_bytes(32, "big")


def pack_bytes32(value: str) -> bytes:
    raw = bytes.fromhex(value[2:] if value[:2] in ("0x", "0X") else value)
    if len(raw) != 32:
        raise ValueError(f"not 32 bytes: {value}")
    return raw


def to_hex(digest: bytes) -> str:
    return "0x" + digest.hex()


def order_hash(
    *,
    contract: str,
    account: str,
    give_token: str,
    give_amount: int,
    take_token: str,
    take_amount: int,
    nonce: int,
    expiry_ms: int,
) -> str:
    return to_hex(
        keccak(
            pack_address(contract)
            + pack_address(account)
            + pack_address(give_token)
            + pack_uint256(give_amount)
            + pack_address(take_token)
            + pack_uint256(take_amount)
            + pack_uint256(nonce)
            + pack_uint256(expiry_ms)
        )
    )


def cancel_hash(*, order_hash: str, nonce: int) -> str:
    return to_hex(keccak(pack_bytes32(order_hash) + pack_uint256(nonce)))


def trade_hash(*, contract: str, order_hash: str, amount: int, account: str, nonce: int) -> str:
    return to_hex(
        keccak(
            pack_address(contract)
            + pack_bytes32(order_hash)
            + pack_uint256(amount)
            + pack_address(account)
            + pack_uint256(nonce)
        )
    )


def withdraw_hash(*, contract: str, token: str, amount: int, account: str, nonce: int) -> str:
    return to_hex(
        keccak(
            pack_address(contract)
            + pack_address(token)
            + pack_uint256(amount)
            + pack_address(account)
            + pack_uint256(nonce)
        )
    )


def cancel_all_hash(*, contract: str, account: str, market: str | None, nonce: int) -> str:
    """Signed cancel-all (issue #16): the market name as its UTF-8 bytes, none when the
    request names no market (every market)."""
    return to_hex(
        keccak(
            pack_address(contract)
            + pack_address(account)
            + (market or "").encode("utf-8")
            + pack_uint256(nonce)
        )
    )
