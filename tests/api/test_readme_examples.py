"""The README's client examples, run as written against a live server, so they cannot rot.

Only the server URL is swapped for the test server's; everything else runs verbatim.
"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from eth_account import Account

from exchange.models import Balance, Order, OrderStatus
from tests.factories import MarketFactory, TokenFactory

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
TST = "0x9fe46736679d2d9a65f0992f2272de9f3c7fa6e0"


def example(language: str) -> str:
    match = re.search(
        rf"<!-- example:{language} -->\n```\w+\n(.*?)```\n<!-- /example:{language} -->",
        README,
        re.S,
    )
    assert match, f"README.md has no {language} example between its markers"
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


def assert_placed_and_cancelled(account: str, ether) -> None:
    order = Order.objects.get(account=account)
    assert order.status == OrderStatus.CANCELLED
    balance = Balance.objects.get(account=account, token=ether)
    assert (balance.total, balance.held) == (10**18, 0)


def test_the_python_example_places_and_cancels_an_order(live_server, exchange, ether):
    exec(compile(with_server(example("python"), live_server.url), "README.md", "exec"), {})
    assert_placed_and_cancelled(exchange, ether)


@pytest.mark.real_clock  # Node signs with its own clock
def test_the_javascript_example_places_and_cancels_an_order(live_server, exchange, ether):
    if shutil.which("node") is None or not (ROOT / "node_modules" / "ethers").is_dir():
        pytest.skip("node or node_modules/ethers missing: run `npm install`")
    code = with_server(example("javascript"), live_server.url)
    # An ES module from stdin resolves "ethers" from the working directory's node_modules.
    run = subprocess.run(
        ["node", "--input-type=module", "-"],
        input=code,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert_placed_and_cancelled(exchange, ether)
