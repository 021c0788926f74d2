"""The thin chain client: every call the relayer makes to an Ethereum node goes through here.

`exchange_client(network)` builds an `ExchangeClient` for a Network row (its rpc_url and
exchange_address, the operator key from settings). Nothing else in the project imports web3.

Errors: `ChainUnavailable` means the node timed out, refused the connection or answered 5xx,
so the outcome of a send is UNKNOWN (PROTOCOL.md, "Transfers"): find out (receipt, nonce,
`withdrawn`/`traded`) before sending again. `ContractReverted` means the node simulated the
call and the contract refused it (`reason` is the revert string). `TransactionRejected` means
the node refused a signed transaction (nonce too low, already known, underpriced...).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_hash.auto import keccak
from eth_typing import ChecksumAddress, HexStr
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import (
    ContractLogicError,
    ProviderConnectionError,
    TimeExhausted,
    TransactionNotFound,
    Web3RPCError,
)
from web3.types import RPCEndpoint, TxParams, Wei

from chain.eip1559 import sign_dynamic_fee
from exchange.protocol.signatures import split_signature
from exchange.protocol.typed_data import ETH_SIGN, signature_type_code

if TYPE_CHECKING:
    from exchange.models import Network

BUILD_DIR = Path(__file__).resolve().parent / "contracts" / "build"
ETHER = "0x" + "00" * 20

DEPOSIT_EVENT = "Deposit(address,address,uint256,uint256)"
WITHDRAW_EVENT = "Withdraw(address,address,uint256,uint256)"
TRADE_EVENT = (
    "Trade(bytes32,bytes32,address,address,address,uint256,address,uint256,uint256,uint256,uint256)"
)
TRADE_TYPES = (
    "(address,address,uint256,address,uint256,uint256,uint256,uint8,bytes32,bytes32,uint8)",
    "(address,uint256,uint256,uint8,bytes32,bytes32,uint256,uint256,uint256,uint8)",
)
TRADE_SELECTOR = keccak(f"trade({','.join(TRADE_TYPES)})".encode())[:4]
DEPOSIT_TOPIC = "0x" + keccak(DEPOSIT_EVENT.encode()).hex()
WITHDRAW_TOPIC = "0x" + keccak(WITHDRAW_EVENT.encode()).hex()
_BALANCE_TOPICS = {"Deposit": DEPOSIT_TOPIC, "Withdraw": WITHDRAW_TOPIC}
TRADE_TOPIC = "0x" + keccak(TRADE_EVENT.encode()).hex()


class ChainError(Exception):
    """Any failure talking to the chain."""


class ChainUnavailable(ChainError):
    """The node did not answer (timeout, connection, 5xx): a send's outcome is unknown."""


class ContractReverted(ChainError):
    """The contract refused the call; `reason` is its revert string."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class TransactionRejected(ChainError):
    """The node refused a signed transaction (nonce too low, already known, ...)."""


@dataclass(frozen=True)
class Block:
    number: int
    hash: str
    parent_hash: str
    timestamp: int


@dataclass(frozen=True)
class Receipt:
    transaction_hash: str
    succeeded: bool
    block_number: int
    block_hash: str
    gas_used: int
    contract_address: str | None


@dataclass(frozen=True)
class BalanceLog:
    """A Deposit or a Withdraw event: the contract logs both as (token, user, amount,
    balance)."""

    token: str
    user: str
    amount: int
    balance: int
    block_number: int
    block_hash: str
    transaction_hash: str
    log_index: int
    removed: bool


DepositLog = BalanceLog
WithdrawLog = BalanceLog


@dataclass(frozen=True)
class Event:
    """A decoded exchange event: name ("Deposit", "Withdraw", "Trade", ...) and arguments
    (addresses lower case, bytes32 as 0x-hex, integers as int)."""

    name: str
    args: dict[str, Any]
    log_index: int


@dataclass(frozen=True)
class SignedTransaction:
    """A transaction signed but maybe not yet sent: store `hash` first, then `send_raw` it."""

    hash: str
    raw: bytes
    nonce: int
    sender: str


@dataclass(frozen=True)
class TransactionTerms:
    """What signing a transaction needs from the node, fetched before any lock."""

    gas: int
    max_fee: int
    tip: int
    chain_id: int


@dataclass(frozen=True)
class TokenInfo:
    address: str
    symbol: str
    name: str
    decimals: int


@cache
def artifact(name: str) -> dict[str, Any]:
    """The compiled contract chain/contracts/build/<name>.json: abi, bytecode."""
    compiled: dict[str, Any] = json.loads((BUILD_DIR / f"{name}.json").read_text())
    return compiled


def _hex(value: bytes | str) -> HexStr:
    if isinstance(value, str):
        return HexStr(value.lower() if value.startswith("0x") else "0x" + value.lower())
    return HexStr("0x" + bytes(value).hex())


@lru_cache(maxsize=4096)  # the same makers, takers and tokens, trade after trade
def _checksum(address: str) -> ChecksumAddress:
    return Web3.to_checksum_address(address)


def _event_signature(item: dict[str, Any]) -> str:
    return f"{item['name']}({','.join(i['type'] for i in item['inputs'])})"


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, str) and value.startswith("0x"):
        return value.lower()
    return value


def _arguments(value: Any) -> Any:
    """Addresses in any case, as web3 wants them (checksummed), inside tuples and lists too."""
    if isinstance(value, str) and len(value) == 42 and value[:2] == "0x":
        return _checksum(value)
    if isinstance(value, list | tuple):
        return type(value)(_arguments(item) for item in value)
    return value


class ExchangeClient:
    def __init__(
        self,
        *,
        rpc_url: str,
        exchange_address: str | None = None,
        operator_key: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        if not rpc_url:
            raise ChainError("the network has no RPC URL")
        self.rpc_url = rpc_url
        self.exchange_address = exchange_address.lower() if exchange_address else None
        self.timeout = timeout
        # No retries inside web3 (its default is 5 attempts with backoff: a hung node cost
        # ~52 s a call): one HTTP request per call, so every call ends within `timeout`
        # (connect, and each read). The next tick is the retry.
        self._provider = Web3.HTTPProvider(
            rpc_url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None
        )
        self._w3 = Web3(self._provider)
        # eth-account's from_key is a combomethod, which its types leave as Any.
        self._operator: LocalAccount | None = (
            Account.from_key(operator_key) if operator_key else None
        )
        self._chain_id: int | None = None
        self._contracts: dict[tuple[str, str | None], Contract | type[Contract]] = {}

    def __repr__(self) -> str:  # never the key
        return f"ExchangeClient({self.rpc_url!r}, exchange={self.exchange_address!r})"

    # ---- the node ----

    @property
    def operator_address(self) -> str | None:
        return self._operator.address.lower() if self._operator else None

    def chain_id(self) -> int:
        if self._chain_id is None:
            with _node():
                self._chain_id = int(self._w3.eth.chain_id)
        return self._chain_id

    def head(self) -> int:
        """The latest block number."""
        with _node():
            return int(self._w3.eth.block_number)

    def block(self, number: int) -> Block | None:
        """The block at `number` on the node's canonical chain, or None past the head."""
        result = self.rpc("eth_getBlockByNumber", [hex(number), False])
        if result is None:
            return None
        return Block(
            number=int(result["number"], 16),
            hash=result["hash"].lower(),
            parent_hash=result["parentHash"].lower(),
            timestamp=int(result["timestamp"], 16),
        )

    def receipt(self, tx_hash: str) -> Receipt | None:
        """The receipt of a mined transaction, or None if it is pending or unknown."""
        result = self.rpc("eth_getTransactionReceipt", [_hex(tx_hash)])
        return None if result is None else parse_receipt(result)

    def wait_for_receipt(self, tx_hash: str, timeout: float = 30.0) -> Receipt:
        with _node():
            self._w3.eth.wait_for_transaction_receipt(
                _hex(tx_hash), timeout=timeout, poll_latency=0.05
            )
        receipt = self.receipt(tx_hash)
        assert receipt is not None
        return receipt

    def nonce(self, address: str, *, pending: bool = True) -> int:
        """The account's transaction count (including pending transactions by default)."""
        block = "pending" if pending else "latest"
        return int(self.rpc("eth_getTransactionCount", [_checksum(address), block]), 16)

    def rpc_answer(self, method: str, params: Sequence[object]) -> dict[str, Any]:
        """One raw JSON-RPC call's answer: {"result": ...} or {"error": ...}."""
        with _node():
            return dict(self._provider.make_request(RPCEndpoint(method), params))

    def rpc_batch_answers(
        self, calls: Sequence[tuple[str, Sequence[object]]]
    ) -> list[dict[str, Any]] | None:
        """One JSON-RPC batch (a list of requests in one HTTP POST) through web3's provider:
        the answers in request order, or None if the node does not answer batches."""
        try:
            with _node():
                answers = self._provider.make_batch_request(
                    [(RPCEndpoint(method), params) for method, params in calls]
                )
        except ChainUnavailable:
            raise
        except ChainError:  # HTTP 4xx: batches refused
            return None
        if not isinstance(answers, list) or len(answers) != len(calls):
            return None
        return [dict(answer) for answer in answers]

    def ether_balance(self, address: str) -> int:
        return int(self.rpc("eth_getBalance", [_checksum(address), "latest"]), 16)

    def rpc(self, method: str, params: Sequence[object]) -> Any:
        """One raw JSON-RPC call; a JSON-RPC error is a ChainError."""
        response = self.rpc_answer(method, params)
        if "error" in response:
            raise ChainError(f"{method}: {response['error']}")
        return response.get("result")

    # ---- the exchange contract: reads ----

    def balance_of(self, token: str, user: str) -> int:
        return int(
            self._call("Exchange", self._exchange(), "balanceOf", _checksum(token), _checksum(user))
        )

    def withdrawn(self, withdraw_hash: str) -> bool:
        return bool(self._call("Exchange", self._exchange(), "withdrawn", _hex(withdraw_hash)))

    def traded(self, trade_hash: str) -> bool:
        return bool(self._call("Exchange", self._exchange(), "traded", _hex(trade_hash)))

    def order_fills(self, order_hash: str) -> int:
        return int(self._call("Exchange", self._exchange(), "orderFills", _hex(order_hash)))

    def is_admin(self, address: str) -> bool:
        return bool(self._call("Exchange", self._exchange(), "admins", _checksum(address)))

    def deposit_logs(self, from_block: int, to_block: int) -> list[DepositLog]:
        """The exchange's Deposit events in [from_block, to_block], oldest first."""
        return self.balance_logs("Deposit", from_block, to_block)

    def balance_logs(self, event: str, from_block: int, to_block: int) -> list[BalanceLog]:
        """The exchange's `event` ("Deposit" or "Withdraw") logs in [from_block, to_block],
        oldest first.

        Raw eth_getLogs, decoded by hand: web3's get_logs spends most of its time formatting.
        """
        logs = self.rpc(
            "eth_getLogs",
            [
                {
                    "fromBlock": hex(from_block),
                    "toBlock": hex(to_block),
                    "address": self._exchange(),
                    "topics": [_BALANCE_TOPICS[event]],
                }
            ],
        )
        decoded = [_balance_log(event, log) for log in logs]
        decoded.sort(key=lambda log: (log.block_number, log.log_index))
        return decoded

    def exchange_events(self, tx_hash: str) -> list[Event]:
        """The exchange contract's events in a mined transaction, in log order."""
        contract = self._contract("Exchange", self._exchange())
        names = {
            keccak(_event_signature(item).encode()): item["name"]
            for item in artifact("Exchange")["abi"]
            if item["type"] == "event"
        }
        try:
            with _node():
                receipt = self._w3.eth.get_transaction_receipt(_hex(tx_hash))
        except TransactionNotFound:
            return []
        events = []
        for log in receipt["logs"]:
            name = names.get(bytes(log["topics"][0])) if log["topics"] else None
            if name is None or log["address"].lower() != self.exchange_address:
                continue
            decoded = contract.events[name]().process_log(log)
            args = {key: _plain(value) for key, value in decoded["args"].items()}
            events.append(Event(name, args, log["logIndex"]))
        return events

    # ---- the exchange contract: operator transactions ----

    def admin_withdraw_data(
        self,
        *,
        token: str,
        amount: int,
        user: str,
        nonce: int,
        signature: str,
        fee: int,
        signature_type: str = ETH_SIGN,
    ) -> bytes:
        """The calldata of adminWithdraw for a user's signed withdrawal. `signature_type`
        is how the user signed (exchange/protocol/typed_data.py SIGNATURE_TYPES)."""
        v, r, s = split_signature(signature)
        return self._encode(
            "Exchange",
            "adminWithdraw",
            _checksum(token),
            int(amount),
            _checksum(user),
            int(nonce),
            v,
            r.to_bytes(32, "big"),
            s.to_bytes(32, "big"),
            int(fee),
            signature_type_code(signature_type),
        )

    def prepare_admin_withdraw(
        self, *, tx_nonce: int | None = None, **fields: Any
    ) -> SignedTransaction:
        """Signs adminWithdraw with the operator key; `fields` as admin_withdraw_data (gas
        is estimated, so a withdrawal the contract would refuse raises ContractReverted
        here, before anything is sent)."""
        data = self.admin_withdraw_data(**fields)
        return self.sign_transaction(to=self._exchange(), data=data, nonce=tx_nonce)

    def send_admin_withdraw(self, **fields: Any) -> str:
        """prepare_admin_withdraw + send_raw; returns the transaction hash."""
        return self.send_raw(self.prepare_admin_withdraw(**fields))

    def prepare_trade(
        self,
        *,
        tx_nonce: int | None = None,
        gas: int | None = None,
        fees: tuple[int, int] | None = None,
        **fields: Any,
    ) -> SignedTransaction:
        """Signs trade(order, fill) with the operator key; `fields` as trade_arguments.
        Without `gas`, gas is estimated (a refusal raises ContractReverted here)."""
        return self.sign_transaction(
            to=self._exchange(), data=self.trade_data(**fields), nonce=tx_nonce, gas=gas, fees=fees
        )

    def trade_data(self, **fields: Any) -> bytes:
        """The calldata of trade(order, fill); `fields` as trade_arguments. Encoded with
        eth_abi directly: web3's encode_abi costs milliseconds a call, which the settler
        pays for every trade."""
        return TRADE_SELECTOR + abi_encode(TRADE_TYPES, trade_arguments(**fields))

    def send_trade(self, **fields: Any) -> str:
        """prepare_trade + send_raw; returns the transaction hash."""
        return self.send_raw(self.prepare_trade(**fields))

    # ---- generic transactions (management commands and tests) ----

    def sign_transaction(
        self,
        *,
        to: str | None,
        data: bytes,
        value: int = 0,
        nonce: int | None = None,
        private_key: str | None = None,
        gas: int | None = None,
        fees: tuple[int, int] | None = None,
    ) -> SignedTransaction:
        """Signs with `private_key` (default: the operator). Gas is estimated (with a
        margin) unless `gas` is given; `fees` is (maxFeePerGas, maxPriorityFeePerGas),
        fee_caps() unless given."""
        account = self._signer(private_key)
        terms = self.transaction_terms(
            to=to, data=data, value=value, sender=account.address, gas=gas, fees=fees
        )
        if nonce is None:
            nonce = self.nonce(account.address)
        return self.sign_offline(
            to=to, data=data, value=value, nonce=nonce, terms=terms, private_key=private_key
        )

    def transaction_terms(
        self,
        *,
        to: str | None,
        data: bytes,
        value: int = 0,
        sender: str | None = None,
        gas: int | None = None,
        fees: tuple[int, int] | None = None,
    ) -> TransactionTerms:
        """What signing needs from the node (gas, fee caps, chain id), asked before any
        lock is taken. Estimating gas simulates the call: a refusal is ContractReverted."""
        if gas is None:
            transaction: TxParams = {
                "from": _checksum(sender or self._signer(None).address),
                "data": data,
                "value": Wei(value),
            }
            if to:
                transaction["to"] = _checksum(to)
            with _node():
                gas = self._w3.eth.estimate_gas(transaction) * 6 // 5 + 10_000
        max_fee, tip = fees or self.fee_caps()
        return TransactionTerms(gas=gas, max_fee=max_fee, tip=tip, chain_id=self.chain_id())

    def sign_offline(
        self,
        *,
        to: str | None,
        data: bytes,
        nonce: int,
        terms: TransactionTerms,
        value: int = 0,
        private_key: str | None = None,
    ) -> SignedTransaction:
        """Signs with no node call: safe while a row lock is held."""
        account = self._signer(private_key)
        tx_hash, raw = sign_dynamic_fee(
            bytes(account.key),
            chain_id=terms.chain_id,
            nonce=nonce,
            max_priority_fee=terms.tip,
            max_fee=terms.max_fee,
            gas=terms.gas,
            to=to,
            value=value,
            data=data,
        )
        return SignedTransaction(hash=tx_hash, raw=raw, nonce=nonce, sender=account.address.lower())

    def _signer(self, private_key: str | None) -> LocalAccount:
        account: LocalAccount | None = (
            Account.from_key(private_key) if private_key else self._operator
        )
        if account is None:
            raise ChainError(
                "no operator key: set OPERATOR_PRIVATE_KEY or OPERATOR_PRIVATE_KEY_FILE"
            )
        return account

    def fee_caps(self) -> tuple[int, int]:
        """(maxFeePerGas, maxPriorityFeePerGas): twice the latest base fee plus the tip,
        room for the base fee to rise for several full blocks."""
        with _node():
            base_fee = self._w3.eth.get_block("latest").get("baseFeePerGas", 0)
            tip = self._w3.eth.max_priority_fee
        return 2 * base_fee + tip, tip

    def send_raw(self, signed: SignedTransaction) -> str:
        """Broadcasts a signed transaction; returns its hash."""
        try:
            with _node():
                self._w3.eth.send_raw_transaction(signed.raw)
        except ChainUnavailable:
            raise
        except ChainError as error:
            raise TransactionRejected(str(error)) from None
        return signed.hash

    def transact(
        self,
        contract: str,
        address: str,
        function: str,
        *args: Any,
        value: int = 0,
        private_key: str | None = None,
    ) -> Receipt:
        """Sends `function(*args)` to the contract at `address` and waits for the receipt."""
        data = self._encode(contract, function, *args)
        signed = self.sign_transaction(to=address, data=data, value=value, private_key=private_key)
        receipt = self.wait_for_receipt(self.send_raw(signed))
        if not receipt.succeeded:
            raise ContractReverted(f"{function} reverted in {receipt.transaction_hash}")
        return receipt

    def creation_code(self, contract: str, *args: Any) -> bytes:
        """chain/contracts/build/<contract>.json's bytecode with its constructor arguments."""
        factory = self._w3.eth.contract(
            abi=artifact(contract)["abi"], bytecode=artifact(contract)["bytecode"]
        )
        return bytes.fromhex(factory.constructor(*_arguments(args)).data_in_transaction[2:])

    def deploy(self, contract: str, *args: Any, private_key: str | None = None) -> str:
        """Deploys chain/contracts/build/<contract>.json; returns the new address."""
        signed = self.sign_transaction(
            to=None, data=self.creation_code(contract, *args), private_key=private_key
        )
        receipt = self.wait_for_receipt(self.send_raw(signed))
        if not receipt.succeeded or not receipt.contract_address:
            raise ContractReverted(f"deploying {contract} failed in {receipt.transaction_hash}")
        return receipt.contract_address

    def call(self, contract: str, address: str, function: str, *args: Any) -> Any:
        """eth_call of a view function of the contract at `address`."""
        return self._call(contract, address, function, *args)

    def token_info(self, address: str) -> TokenInfo:
        """symbol, name and decimals of an ERC-20 (string or bytes32 symbol/name)."""
        decimals = self._raw_call(address, "0x313ce567")
        if len(decimals) != 32:
            raise ChainError(f"{address.lower()} does not look like an ERC-20 (no decimals())")
        return TokenInfo(
            address=address.lower(),
            symbol=self._token_text(address, "0x95d89b41"),
            name=self._token_text(address, "0x06fdde03"),
            decimals=int.from_bytes(decimals, "big"),
        )

    # ---- internals ----

    def _exchange(self) -> str:
        if not self.exchange_address:
            raise ChainError("the network has no exchange contract address")
        return self.exchange_address

    def _contract(self, contract: str, address: str | None = None) -> Contract | type[Contract]:
        key = (contract, address.lower() if address else None)
        if key not in self._contracts:
            abi = artifact(contract)["abi"]
            self._contracts[key] = (
                self._w3.eth.contract(address=_checksum(address), abi=abi)
                if address
                else self._w3.eth.contract(abi=abi)
            )
        return self._contracts[key]

    def _encode(self, contract: str, function: str, *args: Any) -> bytes:
        encoded = self._contract(contract).encode_abi(function, args=_arguments(list(args)))
        return bytes.fromhex(encoded[2:])

    def _call(self, contract: str, address: str, function: str, *args: Any) -> Any:
        with _node():
            result = self._contract(contract, address).functions[function](*_arguments(args)).call()
        return "0x" + result.hex() if isinstance(result, bytes) else result

    def _raw_call(self, address: str, data: str) -> bytes:
        try:
            result = self.rpc("eth_call", [{"to": _checksum(address), "data": data}, "latest"])
        except ChainUnavailable:
            raise
        except ChainError as error:  # a revert: the function is missing
            raise ChainError(f"{address.lower()}: call {data} failed ({error})") from None
        return bytes.fromhex(result[2:])

    def _token_text(self, address: str, selector: str) -> str:
        raw = self._raw_call(address, selector)
        if len(raw) == 32:  # early tokens (MKR) return bytes32
            return raw.rstrip(b"\0").decode("utf-8", "replace")
        try:
            text: str = abi_decode(["string"], raw)[0]
            return text
        except Exception:  # eth_abi's DecodingError family, or bad UTF-8
            raise ChainError(f"{address.lower()}: call {selector} returned no string") from None


def _balance_log(event: str, log: dict[str, Any]) -> BalanceLog:
    """A Deposit or Withdraw log decoded; one that does not decode is a ChainError, never
    skipped."""
    try:
        data = bytes.fromhex(log["data"][2:])
        if len(data) != 128:
            raise ValueError(f"{len(data)} bytes of data, not 128")
        words = [data[i : i + 32] for i in range(0, 128, 32)]
        return BalanceLog(
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
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        where = log.get("blockNumber") if isinstance(log, dict) else None
        raise ChainError(f"undecodable {event} log in block {where}: {error}") from None


def parse_receipt(result: dict[str, Any]) -> Receipt:
    """A Receipt from an eth_getTransactionReceipt result."""
    return Receipt(
        transaction_hash=result["transactionHash"].lower(),
        succeeded=int(result["status"], 16) == 1,
        block_number=int(result["blockNumber"], 16),
        block_hash=result["blockHash"].lower(),
        gas_used=int(result["gasUsed"], 16),
        contract_address=(result.get("contractAddress") or "").lower() or None,
    )


def trade_arguments(
    *,
    maker: str,
    give_token: str,
    give_amount: int,
    take_token: str,
    take_amount: int,
    order_nonce: int,
    expiry_ms: int,
    maker_signature: str,
    taker: str,
    amount: int,
    trade_nonce: int,
    taker_signature: str,
    maker_fee: int,
    taker_fee: int,
    gas_fee: int,
    maker_signature_type: str = ETH_SIGN,
    taker_signature_type: str = ETH_SIGN,
) -> tuple[tuple[object, ...], tuple[object, ...]]:
    """The (order, fill) tuples of the contract's trade(Order, Fill) for one signed fill.

    `amount` is in the order's take-token units; the fees are base units: maker_fee in the
    take token, taker_fee and gas_fee in the give token (see Exchange.sol, trade()). The
    signature types say how each signature signs (exchange/protocol/typed_data.py SIGNATURE_TYPES).
    """
    mv, mr, ms = split_signature(maker_signature)
    tv, tr, ts = split_signature(taker_signature)
    order = (
        _checksum(maker),
        _checksum(give_token),
        int(give_amount),
        _checksum(take_token),
        int(take_amount),
        int(order_nonce),
        int(expiry_ms),
        mv,
        mr.to_bytes(32, "big"),
        ms.to_bytes(32, "big"),
        signature_type_code(maker_signature_type),
    )
    fill = (
        _checksum(taker),
        int(amount),
        int(trade_nonce),
        tv,
        tr.to_bytes(32, "big"),
        ts.to_bytes(32, "big"),
        int(maker_fee),
        int(taker_fee),
        int(gas_fee),
        signature_type_code(taker_signature_type),
    )
    return order, fill


@contextmanager
def _node() -> Iterator[None]:
    """Translates transport failures into ChainUnavailable and reverts into ContractReverted."""
    try:
        yield
    except ContractLogicError as error:
        reason = str(error.message or error)
        raise ContractReverted(reason.removeprefix("execution reverted: ")) from None
    except Web3RPCError as error:
        raise ChainError(str(error)) from None
    except (
        requests.Timeout,
        requests.ConnectionError,
        ProviderConnectionError,
        TimeExhausted,
    ) as error:
        raise ChainUnavailable(f"the node did not answer: {type(error).__name__}") from None
    except requests.HTTPError as error:
        status = error.response.status_code if error.response is not None else 0
        if status >= 500 or status == 0:
            raise ChainUnavailable(f"the node answered HTTP {status}") from None
        raise ChainError(f"the node answered HTTP {status}") from None


def node_head(rpc_url: str, *, timeout: float) -> int:
    """The node's latest block number, through the one node client (web3's provider, no
    retries, `timeout` for the connection and each read). For health checks and the
    dashboard: ChainUnavailable when the node does not answer, ChainError when it answers
    with nonsense."""
    return ExchangeClient(rpc_url=rpc_url, timeout=timeout).head()


def operator_private_key() -> str | None:
    """OPERATOR_PRIVATE_KEY, or the contents of the file OPERATOR_PRIVATE_KEY_FILE."""
    from django.conf import settings

    if settings.OPERATOR_PRIVATE_KEY:
        return settings.OPERATOR_PRIVATE_KEY
    if settings.OPERATOR_PRIVATE_KEY_FILE:
        return Path(settings.OPERATOR_PRIVATE_KEY_FILE).read_text().strip()
    return None


def exchange_client(network: Network) -> ExchangeClient:
    """The client for a Network row: its node, its exchange contract, the operator key."""
    from django.conf import settings

    return ExchangeClient(
        rpc_url=network.rpc_url,
        exchange_address=network.exchange_address or None,
        operator_key=operator_private_key(),
        timeout=settings.CHAIN_RPC_TIMEOUT,
    )
