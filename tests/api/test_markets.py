"""Issue #16: GET /markets (paginated like /tokens) and the token rules in /tokens."""

import pytest
from openapi_core import OpenAPI

from exchange.models import MarketRules, MarketStatus
from tests.api.test_schema import _check
from tests.factories import FEES_EFFECTIVE_SINCE, MarketFactory, TokenFactory

pytestmark = pytest.mark.django_db


def test_markets_lists_each_market_with_its_tokens_status_rules_and_fees(
    api, network, market, fees
):
    MarketRules.objects.create(
        market=market,
        price_tick="0.0001",
        amount_step=10**15,
        min_total=10**16,
        max_open_orders=50,
        effective_at=FEES_EFFECTIVE_SINCE,
    )

    response = api.get("/markets", {"networkId": network.id})

    assert response.status_code == 200
    assert response.json() == {
        "total": 1,
        "page": 1,
        "per_page": 100,
        "records": [
            {
                "name": "ETH_TST",
                "base": {"address": market.base.address, "symbol": "ETH", "decimals": "18"},
                "quote": {"address": market.quote.address, "symbol": "TST", "decimals": "18"},
                "status": "ACTIVE",
                "rules": {
                    "priceTick": "0.0001",
                    "amountStep": "1000000000000000",
                    "minOrderTotal": "10000000000000000",
                    "maxOpenOrders": 50,
                },
                "makerFee": "0.00100000",
                "takerFee": "0.00200000",
            }
        ],
    }
    assert 'rel="first"' in response["Link"]


def test_markets_without_rules_show_none_and_are_paginated(api, network, market):
    other = MarketFactory(network=network, base=market.base, status=MarketStatus.CANCEL_ONLY)
    TokenFactory(network=network, symbol="OFF", listed=False)

    body = api.get("/markets", {"per_page": 1, "page": 2}).json()

    assert body["total"] == 2
    [record] = body["records"]
    assert record["name"] == other.name and record["status"] == "CANCEL_ONLY"
    assert record["rules"] == {
        "priceTick": "0",
        "amountStep": "0",
        "minOrderTotal": "0",
        "maxOpenOrders": 0,
    }
    assert (record["makerFee"], record["takerFee"]) == ("0.00000000", "0.00000000")


def test_a_market_of_an_unlisted_token_is_left_out(api, network, market):
    market.quote.listed = False
    market.quote.save()

    assert api.get("/markets").json()["total"] == 0


def test_markets_and_tokens_match_the_schema(api, network, market, fees):
    schema = api.get("/schema", {"format": "json"}).json()
    openapi = OpenAPI.from_dict(schema)
    assert "/markets" in schema["paths"]
    MarketRules.objects.create(market=market, price_tick="0.5", effective_at=FEES_EFFECTIVE_SINCE)
    market.quote.withdrawal_minimum = 10**16
    market.quote.amount_precision = 6
    market.quote.save()

    _check(openapi, api.get("/markets"))
    _check(openapi, api.get("/tokens"))


def test_tokens_carry_their_withdrawal_fee_minimum_and_precision(api, network, market):
    token = market.quote
    token.withdrawal_fee, token.withdrawal_minimum, token.amount_precision = 10**15, 10**16, 6
    token.save()

    record = next(r for r in api.get("/tokens").json()["records"] if r["symbol"] == "TST")

    assert record["withdrawalFee"] == "1000000000000000"
    assert record["withdrawalMinimum"] == "10000000000000000"
    assert record["amountPrecision"] == "6"


# --- get_orders: any state by hash, market and status filters ------------------------


def test_a_filled_order_is_found_by_hash_with_its_status_and_market(api, network, market):
    from tests.signing import new_signer
    from tests.trading import execute, fill, place

    maker, taker = new_signer(), new_signer()
    _fund(maker, market)
    _fund(taker, market)
    order = place(
        maker, give_token=market.base, give_amount=10**18, take_token=market.quote,
        take_amount=10**20,
    )  # fmt: skip
    other = place(
        maker, give_token=market.base, give_amount=10**18, take_token=market.quote,
        take_amount=2 * 10**20,
    )  # fmt: skip
    execute(network, [fill(taker, order, 10**20)])

    [record] = api.post("/get_orders", {"orderHash": order.hash}, format="json").json()["records"]
    assert (record["status"], record["market"], record["filled"]) == (
        "FILLED",
        "ETH_TST",
        str(10**20),
    )
    account = maker.address
    filled = api.post("/get_orders", {"account": account, "status": "FILLED"}, format="json")
    assert [r["hash"] for r in filled.json()["records"]] == [order.hash]
    live = api.post("/get_orders", {"account": account, "market": "ETH_TST"}, format="json")
    assert [r["hash"] for r in live.json()["records"]] == [other.hash]
    everything = api.post("/get_orders", {"account": account, "status": "ALL"}, format="json")
    assert everything.json()["total"] == 2
    unknown = api.post("/get_orders", {"account": account, "market": "NOPE_X"}, format="json")
    assert unknown.status_code == 400 and unknown.json()["code"] == 100
    bad = api.post("/get_orders", {"account": account, "status": "DONE"}, format="json")
    assert bad.json()["validationErrors"][0]["code"] == 1006


def _fund(signer, market):
    from exchange.services.deposits import deposit_credit
    from tests.signing import FUNDS, address_of

    for token in (market.base, market.quote):
        deposit_credit(token=token, account=address_of(signer), amount=FUNDS, reference="t")
