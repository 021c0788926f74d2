"""The protocol's hashes (PROTOCOL.md, "Hashes and signatures"), packed by hand.

Each hash is keccak-256 over Solidity's abi.encodePacked of its fields: an
address is its 20 bytes, a uint256 its 32 big-endian bytes, a bytes32 itself.
Packing by hand is several times faster than Web3.solidity_keccak, and the
contract computes the same bytes (tests check the two against each other).
"""

from eth_hash.auto import keccak

UINT256_MAX = 2**256 - 1


def _address(value: str) -> bytes:
    raw = bytes.fromhex(value[2:] if value[:2] in ("0x", "0X") else value)
    if len(raw) != 20:
        raise ValueError(f"not a 20-byte address: {value}")
    return raw


def _uint256(value: int) -> bytes:
    value = int(value)
    if not 0 <= value <= UINT256_MAX:
        raise ValueError(f"not a uint256: {value}")
    return value.to_bytes(32, "big")


def _bytes32(value: str) -> bytes:
    raw = bytes.fromhex(value[2:] if value[:2] in ("0x", "0X") else value)
    if len(raw) != 32:
        raise ValueError(f"not 32 bytes: {value}")
    return raw


def _hex(digest: bytes) -> str:
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
    return _hex(
        keccak(
            _address(contract)
            + _address(account)
            + _address(give_token)
            + _uint256(give_amount)
            + _address(take_token)
            + _uint256(take_amount)
            + _uint256(nonce)
            + _uint256(expiry_ms)
        )
    )


def cancel_hash(*, order_hash: str, nonce: int) -> str:
    return _hex(keccak(_bytes32(order_hash) + _uint256(nonce)))


def trade_hash(*, contract: str, order_hash: str, amount: int, account: str, nonce: int) -> str:
    return _hex(
        keccak(
            _address(contract)
            + _bytes32(order_hash)
            + _uint256(amount)
            + _address(account)
            + _uint256(nonce)
        )
    )


def withdraw_hash(*, contract: str, token: str, amount: int, account: str, nonce: int) -> str:
    return _hex(
        keccak(
            _address(contract)
            + _address(token)
            + _uint256(amount)
            + _address(account)
            + _uint256(nonce)
        )
    )
