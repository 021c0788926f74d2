"""Deterministic accounts for the benchmark: keys, addresses and web3.eth.sign signatures."""

from dataclasses import dataclass
from functools import cached_property

from coincurve import PrivateKey
from eth_hash.auto import keccak

from chain.signatures import eth_signed_message_hash


@dataclass(frozen=True)
class Account:
    index: int
    secret: bytes

    @cached_property
    def key(self) -> PrivateKey:
        return PrivateKey(self.secret)

    @cached_property
    def address(self) -> str:
        public = self.key.public_key.format(compressed=False)[1:]
        return "0x" + keccak(public)[-20:].hex()

    @property
    def private_key(self) -> str:
        """0x-hex, as ExchangeClient.transact and anvil take it."""
        return "0x" + self.secret.hex()

    def sign(self, hash_hex: str) -> str:
        """What web3.eth.sign(hash, account) returns: r || s || v, v in {27, 28}."""
        raw = self.key.sign_recoverable(eth_signed_message_hash(hash_hex), hasher=None)
        return "0x" + raw[:64].hex() + bytes([raw[64] + 27]).hex()


def account_of_key(index: int, private_key: str) -> Account:
    """An account given by its 0x-hex private key (a funded dev account, say)."""
    return Account(index=index, secret=bytes.fromhex(private_key.removeprefix("0x")))


def account(index: int) -> Account:
    return Account(index=index, secret=keccak(f"relayer-bench-account-{index}".encode()))


def accounts(count: int) -> list[Account]:
    return [account(i) for i in range(count)]
