"""Signing helpers shared by the test suite: eth-account keys, signed payloads, funding.

    signer = new_signer()                                   # a fresh eth-account key
    payload = signed_order(signer, contract=..., give_token=..., give_amount=..., ...)
    api.post("/create_orders", payload, format="json")
    signed_cancel(signer, order_hash=payload["orderHash"])  # the delete_orders payload
    signed_trade(signer, contract=..., order_hash=..., amount=...)  # a create_trades item
    sign_hash(signer, some_hash)                            # web3.eth.sign of any hash
    signed_order(signer, ..., chain_id=31337)               # EIP-712 instead (signatureType)

Fixtures (imported into tests/conftest.py): `fund(account, token, amount)` credits a
deposit through deposit_credit; `trader` is a signer funded with 10^24 of the `market`
fixture's base and quote tokens.
"""

import itertools
import time

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

from exchange.models import Token
from exchange.protocol import hashing, typed_data
from exchange.services.deposits import deposit_credit

FUNDS = 10**24
_keys = itertools.count(1)
_nonces = itertools.count(int(time.time() * 1000))


def new_signer() -> LocalAccount:
    """A new, deterministic key per call within a run (0x…01, 0x…02, …)."""
    return Account.from_key(((0xC0FFEE << 200) + next(_keys)).to_bytes(32, "big"))


def address_of(signer: LocalAccount) -> str:
    return signer.address.lower()


def next_nonce() -> int:
    """Unix-milliseconds-like, unique within the run (two orders never share a hash)."""
    return next(_nonces)


def sign_hash(signer: LocalAccount, hash_hex: str) -> str:
    """What web3.eth.sign(hash, account) returns: personal_sign over the 32 bytes."""
    signed = signer.sign_message(encode_defunct(hexstr=hash_hex))
    return "0x" + bytes(signed.signature).hex()


def sign_typed(signer: LocalAccount, name: str, message: dict, *, chain_id: int, contract: str):
    """eth-account's EIP-712 signature of `message` (exchange/protocol/typed_data.py's struct `name`)."""
    document = typed_data.typed_data(name, message, chain_id=chain_id, contract=contract)
    return "0x" + bytes(signer.sign_typed_data(full_message=document).signature).hex()


def _signed(payload: dict, signer, name: str, message: dict, chain_id, contract, spec_hash):
    """The payload signed with eth_sign over spec_hash, or EIP-712 when chain_id is given."""
    if chain_id is None:
        return {**payload, "signature": sign_hash(signer, spec_hash)}
    signature = sign_typed(signer, name, message, chain_id=chain_id, contract=contract)
    return {**payload, "signature": signature, "signatureType": typed_data.EIP712}


def _address(token: Token | str) -> str:
    return token.address if isinstance(token, Token) else token.lower()


def signed_order(
    signer: LocalAccount,
    *,
    contract: str,
    give_token: Token | str,
    give_amount: int,
    take_token: Token | str,
    take_amount: int,
    nonce: int | None = None,
    expiry_ms: int | None = None,
    signed_by: LocalAccount | None = None,
    chain_id: int | None = None,
) -> dict:
    """The create_orders payload (camelCase, amounts as strings) signed by `signed_by`
    (default: the order's own account); EIP-712 on chain `chain_id` if given."""
    nonce = next_nonce() if nonce is None else nonce
    expiry_ms = int(time.time() * 1000) + 3_600_000 if expiry_ms is None else expiry_ms
    order_hash = hashing.order_hash(
        contract=contract,
        account=address_of(signer),
        give_token=_address(give_token),
        give_amount=give_amount,
        take_token=_address(take_token),
        take_amount=take_amount,
        nonce=nonce,
        expiry_ms=expiry_ms,
    )
    payload = {
        "account": address_of(signer),
        "giveTokenAddress": _address(give_token),
        "giveAmount": str(give_amount),
        "takeTokenAddress": _address(take_token),
        "takeAmount": str(take_amount),
        "nonce": str(nonce),
        "expiryTimestampInMilliseconds": str(expiry_ms),
        "orderHash": order_hash,
    }
    message = {"contractAddress": contract, **payload}
    return _signed(payload, signed_by or signer, "Order", message, chain_id, contract, order_hash)


def signed_cancel(
    signer: LocalAccount,
    *,
    order_hash: str,
    nonce: int | None = None,
    account: str | None = None,
    chain_id: int | None = None,
    contract: str | None = None,
) -> dict:
    """The delete_orders payload: cancelHash(orderHash, nonce) signed by `signer`; the
    EIP-712 Cancel on (chain_id, contract) if chain_id is given."""
    nonce = next_nonce() if nonce is None else nonce
    cancel_hash = hashing.cancel_hash(order_hash=order_hash, nonce=nonce)
    payload = {
        "orderHash": order_hash,
        "account": account or address_of(signer),
        "nonce": str(nonce),
    }
    message = {"orderHash": order_hash, "nonce": nonce}
    return _signed(payload, signer, "Cancel", message, chain_id, contract, cancel_hash)


def signed_trade(
    signer: LocalAccount,
    *,
    contract: str,
    order_hash: str,
    amount: int,
    nonce: int | None = None,
    chain_id: int | None = None,
) -> dict:
    """A create_trades item, signed over tradeHash(contract, orderHash, amount, taker, nonce)
    (or the EIP-712 Trade on chain `chain_id`, if given)."""
    nonce = next_nonce() if nonce is None else nonce
    trade_hash = hashing.trade_hash(
        contract=contract,
        order_hash=order_hash,
        amount=amount,
        account=address_of(signer),
        nonce=nonce,
    )
    payload = {
        "orderHash": order_hash,
        "amount": str(amount),
        "account": address_of(signer),
        "nonce": str(nonce),
    }
    message = {"contractAddress": contract, **payload}
    return _signed(payload, signer, "Trade", message, chain_id, contract, trade_hash)


def signed_withdrawal(
    signer: LocalAccount,
    *,
    contract: str,
    token: Token | str,
    amount: int,
    nonce: int | None = None,
    signed_by: LocalAccount | None = None,
    account: str | None = None,
    chain_id: int | None = None,
) -> dict:
    """The create_transfers payload: withdrawHash(contract, token, amount, account, nonce)
    signed by `signed_by` (default `signer`); the EIP-712 Withdraw on chain `chain_id` if
    given."""
    nonce = next_nonce() if nonce is None else nonce
    withdraw_hash = hashing.withdraw_hash(
        contract=contract,
        token=_address(token),
        amount=amount,
        account=address_of(signer),
        nonce=nonce,
    )
    payload = {
        "account": account or address_of(signer),
        "amount": str(amount),
        "tokenAddress": _address(token),
        "nonce": str(nonce),
    }
    message = {**payload, "contractAddress": contract, "account": address_of(signer)}
    return _signed(
        payload, signed_by or signer, "Withdraw", message, chain_id, contract, withdraw_hash
    )


_deposits = itertools.count(1)


@pytest.fixture
def fund():
    """fund(account_or_signer, token, amount): a deposit credited through deposit_credit."""

    def credit(account: LocalAccount | str, token: Token, amount: int):
        address = account if isinstance(account, str) else address_of(account)
        return deposit_credit(
            token=token, account=address, amount=amount, reference=f"test:{next(_deposits)}"
        )

    return credit


@pytest.fixture
def trader(market, fund) -> LocalAccount:
    """A signer funded with FUNDS of the market's base and quote tokens."""
    signer = new_signer()
    fund(signer, market.base, FUNDS)
    fund(signer, market.quote, FUNDS)
    return signer
