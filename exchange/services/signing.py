"""What a request's signature must sign, by its signatureType, and the 1005 refusal when it
does not (PROTOCOL.md "Hashes and signatures"; docs/signing-eip712.md).

eth_sign (the spec's scheme) signs the protocol hash with the personal-message prefix;
eip712 signs the typed-data digest of the same fields, bound to the network's chain id and
exchange contract. The protocol hash identifies the order, trade or withdrawal either way.
"""

from contextvars import ContextVar
from dataclasses import dataclass

from exchange.protocol import typed_data
from exchange.protocol.signatures import InvalidSignature, recover_signer, recover_typed_signer
from exchange.services.errors import FieldCode, FieldError

# The accounts whose signature verified while serving the current request: the rate limiter
# (exchange/api/throttling.py) charges an account's budget only for these, so that a request
# merely naming an account never spends it. None outside a request.
_verified_signers: ContextVar[set[str] | None] = ContextVar("verified_signers", default=None)


def verified_signers_track() -> set[str]:
    """Starts recording verified signers for the request being served; the set fills in."""
    signers: set[str] = set()
    _verified_signers.set(signers)
    return signers


def verified_signers_untrack() -> None:
    _verified_signers.set(None)


def signer_verified(account: str) -> None:
    """A signature verified for `account` in the current request."""
    signers = _verified_signers.get()
    if signers is not None:
        signers.add(account.lower())


@dataclass(frozen=True)
class SignedMessage:
    signature_type: str
    digest: str  # the spec's hash (eth_sign) or the EIP-712 digest
    description: str  # how refusals name it: "orderHash 0x…" or "the EIP-712 Order digest 0x…"

    def signer(self, signature: str) -> str:
        """Whom the signature recovers to; raises InvalidSignature."""
        if self.signature_type == typed_data.EIP712:
            return recover_typed_signer(self.digest, signature)
        return recover_signer(self.digest, signature)


def signed_message(
    *,
    signature_type: str,
    hash_name: str,
    spec_hash: str,
    struct: str,
    message: dict[str, object],
    chain_id: int,
    contract: str,
) -> SignedMessage:
    """What a signature of `signature_type` signs: `spec_hash` (named `hash_name`, e.g.
    "orderHash") or the EIP-712 digest of `struct` with `message` on the network's domain."""
    if signature_type != typed_data.EIP712:
        return SignedMessage(signature_type, spec_hash, f"{hash_name} {spec_hash}")
    if not contract:
        raise FieldError(
            "signatureType",
            FieldCode.UNSUPPORTED_OPTION,
            f"No exchange contract on network {chain_id}: nothing to bind an EIP-712 signature to",
        )
    digest = typed_data.typed_digest(struct, message, chain_id=chain_id, contract=contract)
    return SignedMessage(
        signature_type,
        digest,
        f"the EIP-712 {struct} digest {digest} (chainId {chain_id}, "
        f"verifyingContract {contract.lower()})",
    )


def signature_error(
    field: str, signed: SignedMessage, signature: str, account: str
) -> FieldError | None:
    """1005 on `field` when the signature is malformed or not `account`'s, naming what the
    server computed and whom the signature recovers to; None when it is account's."""
    try:
        signer = signed.signer(signature)
    except InvalidSignature as error:
        return FieldError(field, FieldCode.INVALID_SIGNATURE, f"Invalid signature: {error}")
    if signer != account:
        return FieldError(
            field,
            FieldCode.INVALID_SIGNATURE,
            f"The signature of {signed.description} recovers to {signer}, not to {account}",
        )
    signer_verified(account)
    return None
