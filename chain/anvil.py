"""A local anvil node: started on a free port, its funded development accounts, stopped
with its process group. The tests (tests/anvil.py) and the benchmark's worker scenarios
(benchmarks/workers.py) start theirs with this."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from eth_account import Account

from chain.client import ExchangeClient
from relayer.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
ANVIL = ROOT / "node_modules" / ".bin" / "anvil"
CHAIN_ID = 31337
MNEMONIC = "test test test test test test test test test test test junk"  # anvil's default
INACTIVITY_BLOCKS = 20
MINTED = 1_000_000


@dataclass(frozen=True)
class DevAccount:
    address: str  # lower case
    key: str  # 0x-hex private key

    def sign_hash(self, hash_hex: str) -> str:
        """web3.eth.sign(hash): the signature PROTOCOL.md specifies, low-s, v 27/28."""
        from eth_account.messages import encode_defunct

        signed = Account.sign_message(encode_defunct(hexstr=hash_hex), private_key=self.key)
        return "0x" + bytes(signed.signature).hex()


@dataclass
class AnvilNode:
    rpc_url: str
    chain_id: int
    accounts: list[DevAccount]
    process: subprocess.Popen = field(repr=False)

    def rpc(self, method: str, params: list | None = None, *, timeout: float = 10):
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []})
        request = urllib.request.Request(
            self.rpc_url, body.encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = json.loads(response.read())
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer["result"]

    def mine(self, blocks: int = 1, *, timeout: float = 10) -> None:
        self.rpc("anvil_mine", [hex(blocks)], timeout=timeout)

    def snapshot(self) -> str:
        return self.rpc("evm_snapshot")

    def revert(self, snapshot_id: str) -> None:
        if not self.rpc("evm_revert", [snapshot_id]):
            raise RuntimeError(f"evm_revert({snapshot_id}) failed")


def _dev_accounts(count: int) -> list[DevAccount]:
    Account.enable_unaudited_hdwallet_features()
    accounts = []
    for index in range(count):
        account = Account.from_mnemonic(MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")
        accounts.append(DevAccount(account.address.lower(), "0x" + bytes(account.key).hex()))
    return accounts


def start_anvil(
    *,
    accounts: int = 10,
    extra_args: tuple[str, ...] = (),
    port: int | None = None,
    chain_id: int = CHAIN_ID,
) -> AnvilNode:
    """Starts anvil and waits until it answers; stop it with stop_anvil. On `port` if
    given (a node restarted where its clients expect it), else on a free port.
    `extra_args`: more anvil options (e.g. a hardfork, history pruning, a state file);
    `chain_id`: another chain than the default 31337 (two deployments side by side)."""
    if not ANVIL.exists():
        raise RuntimeError(f"{ANVIL} is missing: run `make install` (npm ci)")
    for _attempt in range(1 if port else 3):
        node_port = port or free_port()
        process = subprocess.Popen(
            [
                str(ANVIL),
                "--host",
                "127.0.0.1",
                "--port",
                str(node_port),
                "--chain-id",
                str(chain_id),
                "--accounts",
                str(accounts),
                "--mnemonic",
                MNEMONIC,
                "--silent",
                *extra_args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group: stop_anvil ends the wrapper and node
        )
        node = AnvilNode(
            f"http://127.0.0.1:{node_port}", chain_id, _dev_accounts(accounts), process
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if int(node.rpc("eth_chainId"), 16) == chain_id:
                    return node
            except OSError:
                time.sleep(0.05)
        stop_anvil(node)  # the port was taken meanwhile, or it did not start: try another
    raise RuntimeError("anvil did not start")


def stop_anvil(node: AnvilNode) -> None:
    """SIGTERM to its process group: anvil writes its --state file (the chain, not its
    pool) and exits."""
    if node.process.poll() is None:
        os.killpg(node.process.pid, signal.SIGTERM)
        try:
            node.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(node.process.pid, signal.SIGKILL)
            node.process.wait()
    if node.process.stderr:
        node.process.stderr.close()


@dataclass(frozen=True)
class Deployment:
    node: AnvilNode
    client: ExchangeClient
    exchange: str
    tst: str  # TestToken, 18 decimals
    six: str  # TestToken, 6 decimals
    usdt: str  # NoReturnToken (returns nothing), 6 decimals
    operator: DevAccount  # account 0: owner and admin
    fee_account: DevAccount  # account 9
    users: list[DevAccount]  # accounts 1-4, each minted MINTED whole tokens of each token


def deploy(node: AnvilNode) -> Deployment:
    operator, fee_account, users = node.accounts[0], node.accounts[9], node.accounts[1:5]
    client = ExchangeClient(rpc_url=node.rpc_url, operator_key=operator.key)
    exchange = client.deploy("Exchange", fee_account.address, INACTIVITY_BLOCKS)
    client.transact("Exchange", exchange, "setAdmin", operator.address, True)
    tst = client.deploy("TestToken", "Test Token", "TST", 18)
    six = client.deploy("TestToken", "Six Decimals", "SIX", 6)
    usdt = client.deploy("NoReturnToken", "Tether-like", "USDT", 6)
    for token, decimals in ((tst, 18), (six, 6), (usdt, 6)):
        contract = "NoReturnToken" if token == usdt else "TestToken"
        for user in users:
            client.transact(contract, token, "mint", user.address, MINTED * 10**decimals)
    client = ExchangeClient(
        rpc_url=node.rpc_url, exchange_address=exchange, operator_key=operator.key
    )
    return Deployment(node, client, exchange, tst, six, usdt, operator, fee_account, users)
