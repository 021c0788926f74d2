"""Many node calls in few round trips: JSON-RPC batches (a list of requests in one HTTP
POST), for reconciliation, which reads every (account, token) balance of the contract, and
for the trade settler, which checks, sends and confirms its trades a batch at a time.

Every read names one block, so a whole reconciliation sees one state of the chain. A node
that does not answer batches (some providers refuse them) is read one call at a time.
Batches go through web3's provider (ExchangeClient.rpc_batch_answers, the provider's
make_batch_request): one transport, one timeout (CHAIN_RPC_TIMEOUT), no retries. web3's
w3.batch_requests() sends the same request, but raises on the first item the node
answers with an error; here each item keeps its own answer (ItemError).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_hash.auto import keccak

from chain.client import ChainError, ExchangeClient

BATCH_SIZE = 200


def selector(signature: str) -> bytes:
    return keccak(signature.encode())[:4]


# One JSON-RPC call: (method, params).
Call = tuple[str, Sequence[object]]

BALANCE_OF = selector("balanceOf(address,address)")  # the exchange's internal balance
TRADED = selector("traded(bytes32)")
WITHDRAWN = selector("withdrawn(bytes32)")
FEE_ACCOUNT = selector("feeAccount()")
ERC20_BALANCE_OF = selector("balanceOf(address)")


def call(to: str, data: bytes, block: int) -> Call:
    return "eth_call", [{"to": to, "data": "0x" + data.hex()}, hex(block)]


def exchange_balance(exchange: str, token: str, user: str, block: int) -> Call:
    return call(exchange, BALANCE_OF + abi_encode(["address", "address"], [token, user]), block)


def traded(exchange: str, trade_hash: str, block: int) -> Call:
    return call(exchange, TRADED + bytes.fromhex(trade_hash.removeprefix("0x")), block)


def withdrawn(exchange: str, withdraw_hash: str, block: int) -> Call:
    return call(exchange, WITHDRAWN + bytes.fromhex(withdraw_hash.removeprefix("0x")), block)


def fee_account(exchange: str, block: int) -> Call:
    return call(exchange, FEE_ACCOUNT, block)


def token_holdings(token: str, holder: str, block: int) -> Call:
    """What `holder` owns of an ERC-20, or of Ether for the zero address."""
    if int(token, 16) == 0:
        return "eth_getBalance", [holder, hex(block)]
    return call(token, ERC20_BALANCE_OF + abi_encode(["address"], [holder]), block)


def as_uint(result: str) -> int:
    return int(result, 16) if result not in ("0x", "") else 0


def as_bool(result: str) -> bool:
    return as_uint(result) != 0


def as_address(result: str) -> str:
    address: str = abi_decode(["address"], bytes.fromhex(result[2:]))[0]
    return address.lower()


@dataclass(frozen=True)
class ItemError:
    """The node's JSON-RPC error for one item of a batch (a revert, a rejected send)."""

    method: str
    message: str
    data: Any = None


def batch(client: ExchangeClient, calls: Sequence[Call]) -> list[Any]:
    """The results of `calls` ((method, params) pairs), in order. Any error is a ChainError
    (ChainUnavailable when the node does not answer)."""
    results = batch_outcomes(client, calls)
    for index, result in enumerate(results):
        if isinstance(result, ItemError):
            raise ChainError(f"{result.method} (batch item {index}): {result.message}")
    return results


def batch_outcomes(client: ExchangeClient, calls: Sequence[Call]) -> list[Any]:
    """Like batch, but an item the node answered with an error is an ItemError in its
    place instead of failing the whole batch. ChainUnavailable when the node does not
    answer: for sends, the outcome of every item is then unknown."""
    results: list[Any] = []
    for start in range(0, len(calls), BATCH_SIZE):
        results.extend(_batch_chunk(client, calls[start : start + BATCH_SIZE]))
    return results


def _batch_chunk(client: ExchangeClient, calls: Sequence[Call]) -> list[Any]:
    answers = client.rpc_batch_answers(calls)
    if answers is None:
        # No batch support: one call at a time.
        return [_one(client, method, params) for method, params in calls]
    results: list[Any] = []
    for index, ((method, _params), answer) in enumerate(zip(calls, answers, strict=True)):
        if "result" not in answer and "error" not in answer:
            raise ChainError(f"{method} (batch item {index}): no answer")
        error = answer.get("error")
        results.append(_item_error(method, error) if error else answer.get("result"))
    return results


def _one(client: ExchangeClient, method: str, params: Sequence[object]) -> Any:
    answer = client.rpc_answer(method, params)
    error = answer.get("error")
    return _item_error(method, error) if error else answer.get("result")


def _item_error(method: str, error: Any) -> ItemError:
    if isinstance(error, dict):
        return ItemError(method, str(error.get("message", error)), error.get("data"))
    return ItemError(method, str(error))


def revert_reason(error: ItemError) -> str:
    """The contract's revert string in an eth_call error ("execution reverted: ...")."""
    return error.message.removeprefix("execution reverted: ")
