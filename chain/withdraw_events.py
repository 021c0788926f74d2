"""The exchange's Withdraw events, and which of them moved funds without the relayer.

The contract emits Withdraw(token, user, amount, balance) for both ways out: the operator's
adminWithdraw (a withdrawal the relayer's dispatcher sent and books itself,
chain/withdrawals.py) and the user's own escape-hatch withdraw(). A Withdraw log is the
relayer's when its transaction calls adminWithdraw on the exchange with the fields (user,
token, amount, nonce) of one of the network's withdrawal Transfers; every other one (the
escape hatch, called directly or through a contract, or an adminWithdraw the relayer never
sent) is a direct withdrawal the watcher must debit.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from eth_abi import decode as abi_decode
from eth_hash.auto import keccak

from chain import rpc_batch
from chain.client import ChainError, ExchangeClient, WithdrawLog, artifact
from chain.rpc_batch import ItemError
from exchange.models import Network, Transfer, TransferKind


def withdraw_logs(client: ExchangeClient, from_block: int, to_block: int) -> list[WithdrawLog]:
    """The exchange's Withdraw events in [from_block, to_block], oldest first."""
    return client.balance_logs("Withdraw", from_block, to_block)


@cache
def _admin_withdraw() -> tuple[bytes, list[str], list[str]]:
    """adminWithdraw's selector and input types, from the compiled contract's ABI."""
    for item in artifact("Exchange")["abi"]:
        if item.get("type") == "function" and item.get("name") == "adminWithdraw":
            types = [argument["type"] for argument in item["inputs"]]
            names = [argument["name"] for argument in item["inputs"]]
            return keccak(f"adminWithdraw({','.join(types)})".encode())[:4], types, names
    raise ChainError("the Exchange ABI has no adminWithdraw")


def _relayer_withdrawal(
    network: Network, exchange: str | None, transaction: dict[str, Any] | None
) -> bool:
    """Whether the transaction is an adminWithdraw of one of the network's withdrawals."""
    if not transaction or (transaction.get("to") or "").lower() != exchange:
        return False
    data = bytes.fromhex((transaction.get("input") or "0x")[2:])
    selector, types, names = _admin_withdraw()
    if data[:4] != selector:
        return False
    try:
        fields = dict(zip(names, abi_decode(types, data[4:]), strict=True))
    except Exception:  # eth_abi's decoding errors: not a call we could have sent
        return False
    return Transfer.objects.filter(
        network=network,
        kind=TransferKind.WITHDRAWAL,
        account=str(fields["user"]).lower(),
        token__address=str(fields["token"]).lower(),
        amount=fields["amount"],
        nonce=fields["nonce"],
    ).exists()


def direct_only(
    network: Network, client: ExchangeClient, logs: list[WithdrawLog]
) -> list[WithdrawLog]:
    """The logs that did not come from the relayer's own adminWithdraw transactions."""
    if not logs:
        return []
    hashes = sorted({log.transaction_hash for log in logs})
    answers = rpc_batch.batch_outcomes(
        client, [("eth_getTransactionByHash", [tx_hash]) for tx_hash in hashes]
    )
    ours = set()
    for tx_hash, answer in zip(hashes, answers, strict=True):
        if isinstance(answer, ItemError):
            raise ChainError(f"reading transaction {tx_hash}: {answer.message}")
        if _relayer_withdrawal(network, client.exchange_address, answer):
            ours.add(tx_hash)
    return [log for log in logs if log.transaction_hash not in ours]
