"""Helpers for the contract tests: signed orders, fills and withdrawals, built with
exchange/protocol/hashing.py and eth-account's sign_message (web3.eth.sign), as API clients do."""

from __future__ import annotations

from dataclasses import dataclass

from chain.client import ETHER
from exchange.protocol import hashing
from exchange.protocol.signatures import SECP256K1_N
from tests.anvil import Deployment, DevAccount

ONE = 10**18


def high_s_twin(signature: str) -> str:
    """The malleable twin of a valid signature: s' = n - s, v flipped. Recovers to the same
    signer in plain ecrecover, so the contract must refuse it explicitly."""
    raw = bytes.fromhex(signature[2:])
    s = int.from_bytes(raw[32:64], "big")
    v = raw[64]
    return "0x" + (raw[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])).hex()


def deposit_ether(deployment: Deployment, user: DevAccount, amount: int):
    return deployment.client.transact(
        "Exchange", deployment.exchange, "deposit", value=amount, private_key=user.key
    )


def deposit_token(deployment: Deployment, user: DevAccount, token: str, amount: int):
    contract = "NoReturnToken" if token == deployment.usdt else "TestToken"
    deployment.client.transact(
        contract, token, "approve", deployment.exchange, amount, private_key=user.key
    )
    return deployment.client.transact(
        "Exchange", deployment.exchange, "depositToken", token, amount, private_key=user.key
    )


def token_balance(deployment: Deployment, token: str, holder: str) -> int:
    if token == ETHER:
        return deployment.client.ether_balance(holder)
    contract = "NoReturnToken" if token == deployment.usdt else "TestToken"
    return deployment.client.call(contract, token, "balanceOf", holder)


@dataclass
class SignedWithdrawal:
    token: str
    amount: int
    user: str
    nonce: int
    signature: str
    fee: int = 0

    @property
    def fields(self) -> dict:
        return {
            "token": self.token,
            "amount": self.amount,
            "user": self.user,
            "nonce": self.nonce,
            "signature": self.signature,
            "fee": self.fee,
        }


def signed_withdrawal(
    deployment: Deployment,
    user: DevAccount,
    token: str,
    amount: int,
    *,
    nonce: int = 1_700_000_000_000,
    fee: int = 0,
    signer: DevAccount | None = None,
) -> SignedWithdrawal:
    digest = hashing.withdraw_hash(
        contract=deployment.exchange, token=token, amount=amount, account=user.address, nonce=nonce
    )
    signature = (signer or user).sign_hash(digest)
    return SignedWithdrawal(token, amount, user.address, nonce, signature, fee)


def signed_trade(
    deployment: Deployment,
    *,
    maker: DevAccount,
    taker: DevAccount,
    give_token: str,
    give_amount: int,
    take_token: str,
    take_amount: int,
    amount: int,
    order_nonce: int = 1_700_000_000_000,
    expiry_ms: int = 1_900_000_000_000,
    trade_nonce: int = 1_700_000_000_001,
    maker_fee: int = 0,
    taker_fee: int = 0,
    gas_fee: int = 0,
    maker_signer: DevAccount | None = None,
    taker_signer: DevAccount | None = None,
) -> dict:
    """The keyword arguments of ExchangeClient.send_trade for one signed order and fill."""
    order_hash = hashing.order_hash(
        contract=deployment.exchange,
        account=maker.address,
        give_token=give_token,
        give_amount=give_amount,
        take_token=take_token,
        take_amount=take_amount,
        nonce=order_nonce,
        expiry_ms=expiry_ms,
    )
    trade_hash = hashing.trade_hash(
        contract=deployment.exchange,
        order_hash=order_hash,
        amount=amount,
        account=taker.address,
        nonce=trade_nonce,
    )
    return {
        "maker": maker.address,
        "give_token": give_token,
        "give_amount": give_amount,
        "take_token": take_token,
        "take_amount": take_amount,
        "order_nonce": order_nonce,
        "expiry_ms": expiry_ms,
        "maker_signature": (maker_signer or maker).sign_hash(order_hash),
        "taker": taker.address,
        "amount": amount,
        "trade_nonce": trade_nonce,
        "taker_signature": (taker_signer or taker).sign_hash(trade_hash),
        "maker_fee": maker_fee,
        "taker_fee": taker_fee,
        "gas_fee": gas_fee,
    }


def order_and_trade_hashes(deployment: Deployment, fields: dict) -> tuple[str, str]:
    order_hash = hashing.order_hash(
        contract=deployment.exchange,
        account=fields["maker"],
        give_token=fields["give_token"],
        give_amount=fields["give_amount"],
        take_token=fields["take_token"],
        take_amount=fields["take_amount"],
        nonce=fields["order_nonce"],
        expiry_ms=fields["expiry_ms"],
    )
    trade_hash = hashing.trade_hash(
        contract=deployment.exchange,
        order_hash=order_hash,
        amount=fields["amount"],
        account=fields["taker"],
        nonce=fields["trade_nonce"],
    )
    return order_hash, trade_hash


def settle(deployment: Deployment, fields: dict):
    """Sends the trade as the operator and returns its receipt."""
    return deployment.client.wait_for_receipt(deployment.client.send_trade(**fields))
