"""The manual's client examples (docs/clients.md), run as written against a live server,
so they cannot rot; and the rule that every pasteable block of the manual is run by a
test or says why not (tests/docs_examples.py)."""

import re
import shutil
import subprocess

import pytest
from eth_account import Account

from exchange.models import Balance, Order, OrderStatus, Trade, Transfer
from tests.docs_examples import DOCS, ROOT, example, examples
from tests.factories import MarketFactory, TokenFactory

MAKER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
TAKER_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"
TST = "0x9fe46736679d2d9a65f0992f2272de9f3c7fa6e0"
MAKER = Account.from_key(MAKER_KEY).address.lower()
TAKER = Account.from_key(TAKER_KEY).address.lower()
# Pages whose every python/js/sh block is an example or marked not-run. The other pages'
# examples are still all run (test_every_example_has_a_test).
OWNED = [
    "README.md",
    *(
        f"docs/{name}"
        for name in (
            "index.md",
            "getting-started.md",
            "api.md",
            "signing.md",
            "clients.md",
            "operating.md",
            "deploying.md",
            "architecture.md",
            "benchmarks.md",
            "troubleshooting.md",
            "protocol.md",
        )
    ),
]
PASTEABLE = {"python", "py", "js", "javascript", "sh", "bash", "console", "shell"}


@pytest.fixture
def exchange(network, ether, fees, fund):
    tst = TokenFactory(network=network, symbol="TST", name="Test Token", address=TST)
    MarketFactory(network=network, base=ether, quote=tst)
    fund(MAKER, ether, 10**18)
    fund(TAKER, tst, 100 * 10**18)
    return tst


def run(name: str, url: str) -> None:
    block = example(name)
    code = block.with_server(url)
    if block.language == "python":
        exec(compile(code, str(block.page), "exec"), {})
        return
    if shutil.which("node") is None or not (ROOT / "node_modules" / "ethers").is_dir():
        pytest.skip("node or node_modules/ethers missing: run `make install`")
    # An ES module from stdin resolves "ethers" from the working directory's node_modules.
    result = subprocess.run(
        ["node", "--input-type=module", "-"],
        input=code,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", ["order-python", "order-javascript"])
def test_the_order_example_places_and_cancels_an_order(live_server, exchange, ether, name):
    run(name, live_server.url)
    order = Order.objects.get(account=MAKER)
    assert order.status == OrderStatus.CANCELLED
    balance = Balance.objects.get(account=MAKER, token=ether)
    assert (balance.total, balance.held) == (10**18, 0)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", ["trade-python", "trade-javascript"])
def test_the_trade_example_fills_an_order(live_server, exchange, ether, name):
    run(name, live_server.url)
    trade = Trade.objects.get()
    assert (trade.maker, trade.taker) == (MAKER, TAKER)
    assert (trade.take_amount, trade.give_amount) == (5 * 10**18, 25 * 10**14)
    # The maker paid 0.0025 ETH for 5 TST and 0.0075 ETH stays held by the rest of the bid.
    balance = Balance.objects.get(account=MAKER, token=ether)
    assert (balance.total, balance.held) == (10**18 - 25 * 10**14, 75 * 10**14)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", ["withdraw-python", "withdraw-javascript"])
def test_the_withdrawal_example_asks_for_a_withdrawal(live_server, exchange, ether, name):
    run(name, live_server.url)
    withdrawal = Transfer.objects.get(account=MAKER, kind="withdrawal")
    assert (withdrawal.status, withdrawal.amount) == ("PENDING", 10**15)
    balance = Balance.objects.get(account=MAKER, token=ether)
    assert (balance.total, balance.held) == (10**18, 10**15)


def test_every_example_has_a_test():
    """A test names each example it runs; an example no test names would rot unseen."""
    tests = "\n".join(path.read_text() for path in (ROOT / "tests").rglob("*.py"))
    unrun = [
        f"{block.page.name}: {name}"
        for name, block in examples().items()
        if f'"{name}"' not in tests and f"example:{name} -->" not in tests
    ]
    assert unrun == []


def test_every_pasteable_block_is_run_or_says_why_not():
    fence = re.compile(r"^(?P<indent> *)```(?P<language>\w+)\n", re.M)
    unmarked = []
    for relative in OWNED:
        path = ROOT / relative
        if not path.exists():
            continue
        text = path.read_text()
        for match in fence.finditer(text):
            if match["language"] not in PASTEABLE:
                continue
            before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1].strip()
            if not (before.startswith("<!-- example:") or before.startswith("<!-- not-run:")):
                line = text[: match.start()].count("\n") + 1
                unmarked.append(f"{relative}:{line}")
    assert unmarked == [], "mark these blocks <!-- example:NAME --> or <!-- not-run: why -->"


def test_the_manual_links_only_to_pages_that_exist():
    for path in [ROOT / "README.md", *DOCS.glob("*.md")]:
        for target in re.findall(r"\]\((?!https?:|#|mailto:)([^)#\s]+)", path.read_text()):
            base = path.parent
            assert (base / target).exists(), f"{path.name} links to {target}, which is missing"
