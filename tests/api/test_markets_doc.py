"""docs/markets.md's worked example, run as written: the refused order's request gets
exactly the documented response, and the corrected one is placed."""

import json
import re
from pathlib import Path

import pytest
from eth_account import Account

from exchange.models import MarketRules
from tests.factories import FEES_EFFECTIVE_SINCE, MarketFactory, TokenFactory

pytestmark = pytest.mark.django_db

DOC = (Path(__file__).resolve().parents[2] / "docs" / "markets.md").read_text()
KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
TST = "0x9fe46736679d2d9a65f0992f2272de9f3c7fa6e0"


def block(name: str) -> dict:
    match = re.search(rf"<!-- {name} -->\n```json\n(.*?)```", DOC, re.S)
    assert match, f"docs/markets.md has no {name} block"
    return json.loads(match.group(1))


@pytest.fixture
def example_market(network, ether, fund):
    """The doc's setup: ETH_TST with its rules, the example account funded."""
    tst = TokenFactory(network=network, symbol="TST", name="Test Token", address=TST)
    market = MarketFactory(network=network, base=ether, quote=tst)
    MarketRules.objects.create(
        market=market,
        price_tick="0.0001",
        amount_step=10**15,
        min_total=10**16,
        max_open_orders=50,
        effective_at=FEES_EFFECTIVE_SINCE,
    )
    fund(Account.from_key(KEY).address.lower(), ether, 10**18)
    return market


def test_the_docs_market_record_is_what_get_markets_serves(api, example_market):
    [record] = api.get("/markets").json()["records"]
    assert record == block("markets-record")


def test_the_docs_refused_order_gets_the_documented_response(api, example_market):
    response = api.post("/create_orders", block("refused-request"), format="json")

    assert response.status_code == 400
    assert response.json() == block("refused-response")


def test_the_docs_corrected_order_is_placed(api, example_market):
    response = api.post("/create_orders", block("corrected-request"), format="json")

    assert response.status_code == 201
    documented = block("corrected-response")
    assert {k: v for k, v in response.json().items() if k != "created_at"} == {
        k: v for k, v in documented.items() if k != "created_at"
    }


def generate() -> None:  # pragma: no cover - how the doc's bodies were made
    from tests.signing import signed_order

    signer = Account.from_key(KEY)
    for give in (52 * 10**15, 50 * 10**15):
        body = signed_order(
            signer,
            contract="0x" + "ab" * 20,
            give_token="0x" + "00" * 20,
            give_amount=give,
            take_token=TST,
            take_amount=100 * 10**18,
            nonce=1764892800000,
            expiry_ms=4102444800000,
        )
        print(json.dumps(body, indent=2))
