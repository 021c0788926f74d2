"""docs/signing-eip712.md: its Python and JavaScript examples run as written against a live
server (only the server URL is swapped), and its worked example is what the code computes."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from eth_account import Account
from eth_hash.auto import keccak

from exchange.models import Balance, Order, OrderStatus, Transfer
from exchange.protocol import hashing, typed_data
from tests.factories import MarketFactory, TokenFactory

ROOT = Path(__file__).resolve().parents[2]
PAGE = (ROOT / "docs" / "signing-eip712.md").read_text()
KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
TST = "0x9fe46736679d2d9a65f0992f2272de9f3c7fa6e0"


def example(name: str) -> str:
    match = re.search(
        rf"<!-- example:{name} -->\n```\w+\n(.*?)```\n<!-- /example:{name} -->", PAGE, re.S
    )
    assert match, f"docs/signing-eip712.md has no {name} example between its markers"
    return match.group(1)


def with_server(code: str, url: str) -> str:
    line = 'API = "http://127.0.0.1:8000"'
    assert line in code
    return code.replace(line, f'API = "{url}"')


@pytest.fixture
def exchange(network, ether, fund):
    tst = TokenFactory(network=network, symbol="TST", name="Test Token", address=TST)
    MarketFactory(network=network, base=ether, quote=tst)
    account = Account.from_key(KEY).address.lower()
    fund(account, ether, 10**18)
    return account


def assert_typed_order_cancelled_and_withdrawal_held(account: str, ether) -> None:
    order = Order.objects.get(account=account)
    assert (order.status, order.signature_type) == (OrderStatus.CANCELLED, "eip712")
    withdrawal = Transfer.objects.get(account=account, kind="withdrawal")
    assert (withdrawal.status, withdrawal.signature_type) == ("PENDING", "eip712")
    balance = Balance.objects.get(account=account, token=ether)
    assert (balance.total, balance.held) == (10**18, 10**15)


@pytest.mark.django_db(transaction=True)
def test_the_python_example_signs_typed_data_the_server_accepts(live_server, exchange, ether):
    code = with_server(example("python-eip712"), live_server.url)
    exec(compile(code, "signing-eip712.md", "exec"), {})
    assert_typed_order_cancelled_and_withdrawal_held(exchange, ether)


@pytest.mark.real_clock  # Node signs with its own clock
@pytest.mark.django_db(transaction=True)
def test_the_javascript_example_signs_typed_data_the_server_accepts(live_server, exchange, ether):
    if shutil.which("node") is None or not (ROOT / "node_modules" / "ethers").is_dir():
        pytest.skip("node or node_modules/ethers missing: run `make install`")
    run = subprocess.run(
        ["node", "--input-type=module", "-"],
        input=with_server(example("javascript-eip712"), live_server.url),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert_typed_order_cancelled_and_withdrawal_held(exchange, ether)


def test_the_worked_example_is_what_the_code_computes():
    vector = json.loads((ROOT / "tests" / "vectors" / "eip712-ethers.json").read_text())["vectors"][
        0
    ]
    message, domain = vector["message"], vector["domain"]
    chain_id, contract = domain["chainId"], domain["verifyingContract"]
    order_hash = hashing.order_hash(
        contract=contract,
        account=message["account"],
        give_token=message["giveTokenAddress"],
        give_amount=int(message["giveAmount"]),
        take_token=message["takeTokenAddress"],
        take_amount=int(message["takeAmount"]),
        nonce=int(message["nonce"]),
        expiry_ms=int(message["expiryTimestampInMilliseconds"]),
    )
    computed = {
        "typeHash(Order)": "0x" + keccak(typed_data.type_string("Order").encode()).hex(),
        "domainSeparator": "0x"
        + typed_data.domain_separator(chain_id=chain_id, contract=contract).hex(),
        "hashStruct(order)": "0x" + typed_data.struct_hash("Order", message).hex(),
        "digest": typed_data.typed_digest("Order", message, chain_id=chain_id, contract=contract),
        "signature": vector["signature"],
        "orderHash (the order's identity, protocol scheme)": order_hash,
    }
    assert vector["privateKey"].endswith("01") and computed["digest"] == vector["digest"]
    for step, value in computed.items():
        assert f"| {step} | `{value}` |" in PAGE
    for field, value in message.items():
        assert f"| {field} | `{value}` |" in PAGE
