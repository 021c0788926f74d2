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

from dataclasses import dataclass
from functools import cache
from typing import Any

from eth_abi import decode as abi_decode
from eth_hash.auto import keccak

from chain import rpc_batch
from chain.client import WITHDRAW_TOPIC, ChainError, ExchangeClient, artifact
from chain.rpc_batch import ItemError
from exchange.models import Network, Transfer, TransferKind


@dataclass(frozen=True)
class WithdrawLog:
    token: str
    user: str
    amount: int
    balance: int
    block_number: int
    block_hash: str
    transaction_hash: str
    log_index: int
    removed: bool


def withdraw_logs(client: ExchangeClient, from_block: int, to_block: int) -> list[WithdrawLog]:
    """The exchange's Withdraw events in [from_block, to_block], oldest first."""
    logs = client.rpc(
        "eth_getLogs",
        [
            {
                "fromBlock": hex(from_block),
                "toBlock": hex(to_block),
                "address": client.exchange_address,
                "topics": [WITHDRAW_TOPIC],
            }
        ],
    )
    events = []
    for log in logs:
        data = bytes.fromhex(log["data"][2:])
        words = [data[i : i + 32] for i in range(0, 128, 32)]
        events.append(
            WithdrawLog(
                token="0x" + words[0][12:].hex(),
                user="0x" + words[1][12:].hex(),
                amount=int.from_bytes(words[2], "big"),
                balance=int.from_bytes(words[3], "big"),
                block_number=int(log["blockNumber"], 16),
                block_hash=log["blockHash"].lower(),
                transaction_hash=log["transactionHash"].lower(),
                log_index=int(log["logIndex"], 16),
                removed=bool(log.get("removed", False)),
            )
        )
    events.sort(key=lambda event: (event.block_number, event.log_index))
    return events


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
