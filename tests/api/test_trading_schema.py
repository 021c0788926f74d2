"""create_trades, get_trades, get_ticker and get_chart_data responses match /schema."""

import pytest
from openapi_core import OpenAPI

from tests.api.test_schema import _check
from tests.trading import fill_payload, place

pytestmark = pytest.mark.django_db

ETH = 10**18


@pytest.fixture
def openapi(api):
    return OpenAPI.from_dict(api.get("/schema", {"format": "json"}).json())


def test_trading_and_market_data_responses_match_the_schema(
    api, openapi, network, market, fees, maker, taker
):
    bid = place(
        maker,
        give_token=market.base,
        give_amount=ETH,
        take_token=market.quote,
        take_amount=2000 * ETH,
    )
    created = api.post("/create_trades", [fill_payload(taker, bid, 1000 * ETH)], format="json")
    assert created.status_code == 201
    _check(openapi, created)
    for path, body in [
        ("/get_trades", {"market": market.name}),
        ("/get_ticker", {}),
        (
            "/get_chart_data",
            {
                "market": market.name,
                "startingTimestampInMilliseconds": "0",
                "endingTimestampInMilliseconds": "4102444800000",
                "periodInSeconds": "86400",
            },
        ),
    ]:
        response = api.post(path, body, format="json")
        assert response.status_code == 200, response.json()
        _check(openapi, response)


def test_refusals_match_the_schema(api, openapi, network, market, taker):
    unknown = api.post(
        "/create_trades", {**fill_payload(taker, market, ETH)} if False else {}, format="json"
    )
    assert unknown.status_code == 400
    _check(openapi, unknown)
