"""A command-line client for the `make run` demo: deposits on chain, signed orders, fills
and withdrawals through the API, as anvil's development accounts 0-4.

    .venv/bin/python -m relayer.demo_client balances 1
    .venv/bin/python -m relayer.demo_client deposit 1 ETH 2
    .venv/bin/python -m relayer.demo_client order 1 ETH_TST buy 100 0.001
    .venv/bin/python -m relayer.demo_client fill 2 0x<orderHash> 40
    .venv/bin/python -m relayer.demo_client withdraw 1 ETH 0.5
    .venv/bin/python -m relayer.demo_client --typed order 1 ETH_TST buy 100 0.001  # EIP-712

Amounts and prices are in whole tokens ("0.001"), converted exactly to base units. It
finds the demo through the state file `make run` writes, VAR_DIR/demo.json (ports,
chain, contract), whatever ports the demo was given; `--api` and `--rpc` name another.
With no demo running it refuses, and it sends no transaction to a chain whose chain id
or exchange contract is not the demo's. Every request is printed as the JSON the API
answered. Needs no Django settings.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct

from chain.client import ChainError, ExchangeClient
from exchange.protocol import hashing, typed_data
from relayer.demo import CHAIN_ID, DEV_ACCOUNTS, ROOT, STATE_FILE, DemoConfig

ETHER = "0x0000000000000000000000000000000000000000"
WAIT_SECONDS = 60.0
FINAL = ("COMPLETE", "FAILED")


class ClientError(Exception):
    pass


@dataclass(frozen=True)
class Target:
    """Where the client sends requests and transactions, and what it expects to find there."""

    api_url: str
    rpc_url: str
    exchange: str | None = None  # the demo's contract, when its state file names it


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def locate(
    api: str | None = None, rpc: str | None = None, environ: Mapping[str, str] | None = None
) -> Target:
    """The demo to talk to: `--api`/`--rpc` if given, else VAR_DIR/demo.json of a running
    `make run`. Refuses rather than guess a port another program may be listening on."""
    environ = os.environ if environ is None else environ
    var_dir = Path(environ.get("VAR_DIR") or ROOT / "var").resolve()
    path = var_dir / STATE_FILE
    state: dict = {}
    if path.exists():
        try:
            state = json.loads(path.read_text())
            pid = int(state["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            raise ClientError(f"{path} is not a demo state file: remove it") from None
        if not _pid_alive(pid):
            if not (api and rpc):
                raise ClientError(
                    f"the demo recorded in {path} (pid {pid}) is not running: "
                    "start it with `make run`, or pass --api and --rpc"
                )
            state = {}
    if api and rpc:
        exchange = state.get("exchange") if state.get("api") == api.rstrip("/") else None
        return Target(api.rstrip("/"), rpc.rstrip("/"), exchange)
    if not state:
        raise ClientError(
            f"no demo is running: {path} is missing. Start one with `make run` (in this "
            "checkout, with the same VAR_DIR), or pass --api and --rpc"
        )
    return Target(api or state["api"], rpc or state["rpc"], state.get("exchange"))


class DemoClient:
    def __init__(self, config: DemoConfig | Target, out=sys.stdout, *, typed: bool = False):
        self.config = config
        self.out = out
        self.typed = typed  # sign EIP-712 typed data (docs/signing-eip712.md), not eth_sign
        self._tokens: list[dict] | None = None
        self._contract: str | None = None
        self._last_nonce = 0

    # ---- plumbing ----

    def call(self, method: str, path: str, body: dict | list | None = None) -> Any:
        """The API's answer as JSON decodes it (an object or a list, by endpoint)."""
        separator = "&" if "?" in path else "?"
        url = f"{self.config.api_url}{path}{separator}networkId={CHAIN_ID}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            url, data, {"Content-Type": "application/json"}, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            raise ClientError(f"{method} {path}: {error.code} {error.read().decode()}") from None
        except urllib.error.URLError as error:
            raise ClientError(
                f"no exchange at {self.config.api_url} ({error.reason}): is `make run` running?"
            ) from None

    def show(self, label: str, value) -> None:
        print(f"{label}: {json.dumps(value)}", file=self.out, flush=True)

    def nonce(self) -> int:
        """Unix milliseconds, never the same twice in this process."""
        self._last_nonce = max(int(time.time() * 1000), self._last_nonce + 1)
        return self._last_nonce

    @property
    def contract(self) -> str:
        if self._contract is None:
            self._contract = self.call("GET", "/helpers/return_contract_address")["address"]
        return self._contract

    def token(self, symbol_or_address: str) -> dict:
        if self._tokens is None:
            self._tokens = self.call("GET", "/tokens?per_page=500")["records"]
        wanted = symbol_or_address.lower()
        for token in self._tokens:
            if wanted in (token["symbol"].lower(), token["address"].lower()):
                return token
        known = ", ".join(t["symbol"] for t in self._tokens)
        raise ClientError(f"no token {symbol_or_address!r} on the exchange (it lists {known})")

    def chain(self) -> ExchangeClient:
        """The demo's chain, checked before anything is sent to it: its chain id, and the
        API's contract, which must be the demo's and hold code on that chain."""
        client = ExchangeClient(rpc_url=self.config.rpc_url, exchange_address=self.contract)
        chain_id = client.chain_id()
        if chain_id != CHAIN_ID:
            raise ClientError(
                f"the chain at {self.config.rpc_url} has chain id {chain_id}, not the demo's "
                f"{CHAIN_ID}: refusing to send a transaction there"
            )
        expected = getattr(self.config, "exchange", None)
        if expected and expected.lower() != self.contract.lower():
            raise ClientError(
                f"the API at {self.config.api_url} names the contract {self.contract}, not the "
                f"demo's {expected}: refusing to send a transaction"
            )
        if client.rpc("eth_getCode", [self.contract, "latest"]) in ("0x", "", None):
            raise ClientError(
                f"no contract at {self.contract} on {self.config.rpc_url}: "
                "not the demo's chain; refusing to send a transaction"
            )
        return client

    @staticmethod
    def key(account: int) -> str:
        return DEV_ACCOUNTS[account][1]

    @staticmethod
    def address(account: int) -> str:
        return DEV_ACCOUNTS[account][0]

    def sign(self, account: int, hash_hex: str) -> str:
        """What web3.eth.sign(hash, account) returns (PROTOCOL.md)."""
        signed = Account.sign_message(
            encode_defunct(hexstr=hash_hex), private_key=self.key(account)
        )
        return "0x" + bytes(signed.signature).hex()

    def signed(self, account: int, hash_hex: str, struct: str, message: dict) -> dict:
        """A request's signature fields: eth_sign over the protocol hash, or with --typed
        the EIP-712 signature of `message` (the request's fields) on the demo's domain."""
        if not self.typed:
            return {"signature": self.sign(account, hash_hex)}
        document = typed_data.typed_data(
            struct,
            {"contractAddress": self.contract, **message},
            chain_id=CHAIN_ID,
            contract=self.contract,
        )
        signed = Account.sign_typed_data(self.key(account), full_message=document)
        return {
            "signature": "0x" + bytes(signed.signature).hex(),
            "signatureType": typed_data.EIP712,
        }

    def balance(self, account: int, token: dict) -> int:
        records = self.call("GET", f"/balances?account={self.address(account)}&per_page=500")
        for record in records["records"]:
            if record["token"].lower() == token["address"].lower():
                return int(record["balance"])
        return 0

    # ---- the walk-through's steps ----

    def balances(self, account: int) -> list[dict]:
        records = self.call("GET", f"/balances?account={self.address(account)}&per_page=500")
        by_address = {t["address"].lower(): t for t in self.call("GET", "/tokens")["records"]}
        shown = []
        for record in records["records"]:
            token = by_address.get(record["token"].lower(), {"symbol": "?", "decimals": 0})
            shown.append(
                {
                    "symbol": token["symbol"],
                    "balance": whole(int(record["balance"]), int(token["decimals"])),
                    "holdBalance": whole(int(record["holdBalance"]), int(token["decimals"])),
                }
            )
        self.show(f"balances of account {account} ({self.address(account)})", shown)
        return shown

    def deposit(self, account: int, symbol: str, amount: str, *, wait: bool = True) -> str:
        """Sends the deposit from the account's wallet and waits until the relayer's
        watcher credits it (the network's confirmations, then a tick of beat)."""
        token = self.token(symbol)
        units = base_units(amount, int(token["decimals"]))
        before = self.balance(account, token)
        chain, key = self.chain(), self.key(account)
        if token["address"] == ETHER:
            receipt = chain.transact(
                "Exchange", self.contract, "deposit", value=units, private_key=key
            )
        else:
            chain.transact(
                "TestToken", token["address"], "approve", self.contract, units, private_key=key
            )
            receipt = chain.transact(
                "Exchange", self.contract, "depositToken", token["address"], units, private_key=key
            )
        self.show("deposit sent", {"transactionHash": receipt.transaction_hash})
        if wait:
            self._wait(
                f"the deposit of {amount} {token['symbol']} to be credited",
                lambda: self.balance(account, token) >= before + units,
            )
            self.show(
                "deposit credited",
                {"balance": whole(self.balance(account, token), int(token["decimals"]))},
            )
        return receipt.transaction_hash

    def order(self, account: int, market: str, side: str, amount: str, price: str) -> dict:
        """A signed order for `amount` QUOTE at `price` BASE per QUOTE: `buy` gives BASE
        for QUOTE (a bid), `sell` gives QUOTE for BASE (an ask)."""
        base_symbol, _, quote_symbol = market.upper().partition("_")
        base, quote = self.token(base_symbol), self.token(quote_symbol)
        quote_units = base_units(amount, int(quote["decimals"]))
        base_total = decimal(amount) * decimal(price)
        base_units_total = base_units(str(base_total), int(base["decimals"]))
        give, take = (base, quote) if side == "buy" else (quote, base)
        give_amount, take_amount = (
            (base_units_total, quote_units) if side == "buy" else (quote_units, base_units_total)
        )
        now = self.nonce()
        order = {
            "account": self.address(account),
            "giveTokenAddress": give["address"],
            "giveAmount": str(give_amount),
            "takeTokenAddress": take["address"],
            "takeAmount": str(take_amount),
            "nonce": str(now),
            "expiryTimestampInMilliseconds": str(now + 24 * 3_600_000),
        }
        order_hash = hashing.order_hash(
            contract=self.contract,
            account=order["account"],
            give_token=order["giveTokenAddress"],
            give_amount=give_amount,
            take_token=order["takeTokenAddress"],
            take_amount=take_amount,
            nonce=now,
            expiry_ms=now + 24 * 3_600_000,
        )
        placed = self.call(
            "POST", "/create_orders", {**order, **self.signed(account, order_hash, "Order", order)}
        )
        self.show("order placed", placed)
        return placed

    def fill(self, account: int, order_hash: str, amount: str | None = None) -> list:
        """Fills the order as the taker: `amount` in whole units of the order's take token
        (what the taker gives), default all that is left."""
        found = self.call("POST", "/get_orders", {"orderHash": order_hash})
        order = found["records"][0] if "records" in found else found
        take = self.token(order["takeTokenAddress"])
        left = int(order["takeAmount"]) - int(order["filled"])
        units = left if amount is None else base_units(amount, int(take["decimals"]))
        nonce = self.nonce()
        trade_hash = hashing.trade_hash(
            contract=self.contract,
            order_hash=order_hash,
            amount=units,
            account=self.address(account),
            nonce=nonce,
        )
        item = {
            "orderHash": order_hash,
            "amount": str(units),
            "account": self.address(account),
            "nonce": str(nonce),
        }
        trades = self.call(
            "POST", "/create_trades", {**item, **self.signed(account, trade_hash, "Trade", item)}
        )
        self.show("filled", trades)
        return trades

    def cancel(self, account: int, order_hash: str) -> dict:
        """Cancels the account's order (delete_orders, signed over cancelHash)."""
        nonce = self.nonce()
        cancel_hash = hashing.cancel_hash(order_hash=order_hash, nonce=nonce)
        request = {"orderHash": order_hash, "account": self.address(account), "nonce": str(nonce)}
        message = {"orderHash": order_hash, "nonce": nonce}
        answer = self.call(
            "POST",
            "/delete_orders",
            {**request, **self.signed(account, cancel_hash, "Cancel", message)},
        )
        self.show("order cancelled", answer)
        return answer

    def withdraw(self, account: int, symbol: str, amount: str, *, wait: bool = True) -> dict:
        """A signed withdrawal; waits until the worker has paid it on chain (COMPLETE)."""
        token = self.token(symbol)
        units = base_units(amount, int(token["decimals"]))
        nonce = self.nonce()
        withdraw_hash = hashing.withdraw_hash(
            contract=self.contract,
            token=token["address"],
            amount=units,
            account=self.address(account),
            nonce=nonce,
        )
        started_ms = nonce - 1000
        request = {
            "account": self.address(account),
            "amount": str(units),
            "tokenAddress": token["address"],
            "nonce": str(nonce),
        }
        answer = self.call(
            "POST",
            "/create_transfers",
            {**request, **self.signed(account, withdraw_hash, "Withdraw", request)},
        )
        self.show("withdrawal requested", answer)
        if not wait:
            return answer

        def done():
            for transfer in self._withdrawals(account, started_ms):
                mine = transfer["token"].lower() == token["address"]
                if mine and int(transfer["amount"]) == units and transfer["status"] in FINAL:
                    return transfer
            return None

        transfer = self._wait(f"the withdrawal of {amount} {token['symbol']}", done)
        self.show("withdrawal", transfer)
        if transfer["status"] != "COMPLETE":
            raise ClientError(f"the withdrawal failed: {transfer}")
        return transfer

    def _withdrawals(self, account: int, since_ms: int) -> list[dict]:
        page = self.call(
            "POST",
            "/get_transfers",
            {"account": self.address(account), "startingTimestampInMilliseconds": str(since_ms)},
        )
        return [t for t in page["records"] if t["type"].upper() == "WITHDRAWAL"]

    def _wait(self, what: str, ready):
        print(f"waiting for {what} ...", file=self.out, flush=True)
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            result = ready()
            if result:
                return result
            time.sleep(0.5)
        raise ClientError(f"gave up waiting for {what} after {WAIT_SECONDS:.0f} s")


def decimal(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ClientError(f"not a number: {text!r}") from None
    if not value.is_finite() or value <= 0:
        raise ClientError(f"must be a positive number: {text!r}")
    return value


def base_units(amount: str, decimals: int) -> int:
    """Whole tokens to base units, exactly: refuses more decimal places than the token has."""
    scaled = decimal(amount).scaleb(decimals)
    if scaled != scaled.to_integral_value():
        raise ClientError(f"{amount} has more than {decimals} decimal places")
    return int(scaled)


def whole(units: int, decimals: int) -> str:
    text = str(Decimal(units).scaleb(-decimals).normalize())
    return format(Decimal(text), "f")


def parser() -> argparse.ArgumentParser:
    accounts: dict[str, Any] = {
        "type": int,
        "choices": range(len(DEV_ACCOUNTS)),
        "metavar": "ACCOUNT",
    }
    root = argparse.ArgumentParser(
        prog="python -m relayer.demo_client",
        description="Use the `make run` demo as anvil's dev accounts 0-4 (public test keys).",
    )
    root.add_argument("--api", help="the API's URL (default: from VAR_DIR/demo.json)")
    root.add_argument("--rpc", help="the chain's JSON-RPC URL (default: from VAR_DIR/demo.json)")
    root.add_argument(
        "--typed",
        action="store_true",
        help="sign orders, fills and withdrawals as EIP-712 typed data, not with eth_sign",
    )
    commands = root.add_subparsers(dest="command", required=True)
    command = commands.add_parser("balances", help="the account's balances on the exchange")
    command.add_argument("account", **accounts)
    command = commands.add_parser("deposit", help="deposit from the wallet, wait until credited")
    command.add_argument("account", **accounts)
    command.add_argument("token", help="ETH, TST, SIX or an address")
    command.add_argument("amount", help="whole tokens, e.g. 1.5")
    command = commands.add_parser("order", help="place a signed order")
    command.add_argument("account", **accounts)
    command.add_argument("market", help="BASE_QUOTE, e.g. ETH_TST")
    command.add_argument("side", choices=["buy", "sell"], help="buy or sell QUOTE")
    command.add_argument("amount", help="QUOTE amount, whole tokens")
    command.add_argument("price", help="BASE per QUOTE")
    command.add_argument(
        "-q", "--quiet", action="store_true", help="print only the orderHash (for a shell variable)"
    )
    command = commands.add_parser("fill", help="fill an order as the taker (create_trades)")
    command.add_argument("account", **accounts)
    command.add_argument("order_hash")
    command.add_argument("amount", nargs="?", help="of the order's take token; default: all")
    command = commands.add_parser("withdraw", help="signed withdrawal, wait until paid")
    command.add_argument("account", **accounts)
    command.add_argument("token")
    command.add_argument("amount")
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        client = DemoClient(locate(args.api, args.rpc), typed=args.typed)
        if args.command == "balances":
            client.balances(args.account)
        elif args.command == "deposit":
            client.deposit(args.account, args.token, args.amount)
        elif args.command == "order":
            if args.quiet:
                client.out = io.StringIO()
            placed = client.order(args.account, args.market, args.side, args.amount, args.price)
            if args.quiet:
                print(placed["orderHash"])
        elif args.command == "fill":
            client.fill(args.account, args.order_hash, args.amount)
        elif args.command == "withdraw":
            client.withdraw(args.account, args.token, args.amount)
    except (ClientError, ChainError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
