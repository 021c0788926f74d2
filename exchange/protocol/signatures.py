"""Signer recovery for `web3.eth.sign`-style signatures over a 32-byte hash, and for
EIP-712 typed-data signatures over a digest (exchange/protocol/typed_data.py).

The signed message is keccak256("\\x19Ethereum Signed Message:\\n32" || hash); the
signature is r || s || v (65 bytes, 0x-hex) with v in {27, 28} or {0, 1}.
High-s signatures are refused: they are the malleable twin of a valid one.
"""

from coincurve import PublicKey
from eth_hash.auto import keccak

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_HALF_N = SECP256K1_N // 2
_PREFIX = b"\x19Ethereum Signed Message:\n32"


class InvalidSignature(ValueError):
    """The signature is malformed or recovers to no key."""


def eth_signed_message_hash(hash_hex: str) -> bytes:
    digest = bytes.fromhex(hash_hex[2:] if hash_hex.startswith("0x") else hash_hex)
    if len(digest) != 32:
        raise InvalidSignature("the signed hash must be 32 bytes")
    return keccak(_PREFIX + digest)


def split_signature(signature: str) -> tuple[int, int, int]:
    """(v, r, s) with v normalised to 27/28; raises InvalidSignature."""
    if not isinstance(signature, str) or not signature.startswith("0x"):
        raise InvalidSignature("the signature must be 0x-prefixed hex")
    try:
        raw = bytes.fromhex(signature[2:])
    except ValueError:
        raise InvalidSignature("the signature is not hex") from None
    if len(raw) != 65:
        raise InvalidSignature(f"the signature must be 65 bytes, got {len(raw)}")
    r, s, v = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:64], "big"), raw[64]
    if v in (0, 1):
        v += 27
    if v not in (27, 28):
        raise InvalidSignature(f"v must be 27/28 or 0/1, got {raw[64]}")
    if not (0 < r < SECP256K1_N and 0 < s < SECP256K1_N):
        raise InvalidSignature("r or s is out of range")
    if s > _HALF_N:
        raise InvalidSignature("high-s signatures are not accepted (malleable)")
    return v, r, s


def recover_signer(hash_hex: str, signature: str) -> str:
    """The lower-case address whose key signed `hash_hex` with web3.eth.sign."""
    return _recover(eth_signed_message_hash(hash_hex), signature)


def recover_typed_signer(digest_hex: str, signature: str) -> str:
    """The lower-case address whose key signed an EIP-712 digest (exchange/protocol/typed_data.py):
    the digest is signed as it is, without the personal-message prefix."""
    digest = bytes.fromhex(digest_hex[2:] if digest_hex.startswith("0x") else digest_hex)
    if len(digest) != 32:
        raise InvalidSignature("the signed digest must be 32 bytes")
    return _recover(digest, signature)


def _recover(message: bytes, signature: str) -> str:
    v, r, s = split_signature(signature)
    compact = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v - 27])
    try:
        public_key = PublicKey.from_signature_and_message(compact, message, hasher=None)
    except Exception as error:  # coincurve raises a bare Exception on an unrecoverable point
        raise InvalidSignature(f"the signature recovers to no key ({error})") from None
    return "0x" + keccak(public_key.format(compressed=False)[1:])[-20:].hex()
