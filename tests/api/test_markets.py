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
