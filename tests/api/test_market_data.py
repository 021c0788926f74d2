"""POST /get_ticker and /get_chart_data: request forms, shapes and refusals."""

from datetime import UTC, datetime

import pytest

from tests.trading import execute, fill, place

pytestmark = pytest.mark.django_db

ETH = 10**18
DAY = datetime(2026, 11, 20, tzinfo=UTC)


@pytest.fixture
def traded(network, market, maker, taker):
    bid = place(
        maker,
        give_token=market.base,
        give_amount=ETH,
        take_token=market.quote,
        take_amount=2000 * ETH,
    )
    return execute(network, [fill(taker, bid, 1000 * ETH)], at=DAY.replace(hour=3))


def errors(response) -> list[tuple]:
    assert response.status_code == 400, response.json()
    assert response.json()["code"] == 100
    return [(e["field"], e["code"]) for e in response.json()["validationErrors"]]


def test_the_ticker_is_paginated_and_filters_by_market(api, network, market, traded):
    response = api.post("/get_ticker", {}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert (body["total"], body["page"], body["per_page"]) == (1, 1, 100)
    [record] = body["records"]
    assert set(record) == {
        "baseTokenAddress",
        "quoteTokenAddress",
        "last",
        "high",
        "low",
        "lowestAsk",
        "highestBid",
        "percentChange",
        "baseVolume",
        "quoteVolume",
    }
    assert record["last"] == "0.0005" and record["highestBid"] == "0.0005"
    assert api.post("/get_ticker", {"market": "ETH_TST"}, format="json").json()["total"] == 1
    assert 'rel="last"' in response["Link"]


def test_the_ticker_of_an_unknown_market_is_refused(api, network, market):
    assert errors(api.post("/get_ticker", {"market": "ETH_NOPE"}, format="json")) == [
        ("market", 1006)
    ]


def chart(start=DAY, end=None, period="86400", market="ETH_TST"):
    end = end or DAY.replace(hour=23)
    return {
        "market": market,
        "startingTimestampInMilliseconds": str(int(start.timestamp() * 1000)),
        "endingTimestampInMilliseconds": str(int(end.timestamp() * 1000)),
        "periodInSeconds": period,
    }


EXPECTED = [
    {
        "date": str(int(DAY.timestamp())),
        "high": "0.0005",
        "low": "0.0005",
        "open": "0.0005",
        "close": "0.0005",
        "volume": "0.5",
        "quoteVolume": "1000",
        "weightedAverage": "0.0005",
    }
]


def test_chart_data_takes_an_object_or_a_one_element_array(api, network, market, traded):
    for body in (chart(), [chart()], chart(period=86400)):
        response = api.post("/get_chart_data", body, format="json")
        assert response.status_code == 200, response.json()
        assert response.json() == EXPECTED


def test_chart_data_accepts_the_poloniex_names(api, network, market, traded):
    body = chart()
    body["currencyPair"], body["period"] = body.pop("market"), body.pop("periodInSeconds")
    assert api.post("/get_chart_data", body, format="json").json() == EXPECTED


def test_an_empty_chart_is_an_empty_array(api, network, market, traded):
    body = chart(start=DAY.replace(day=10), end=DAY.replace(day=11), period="300")
    assert api.post("/get_chart_data", body, format="json").json() == []


@pytest.mark.parametrize("period", ["60", "abc", 301, "", None, True, "86400.0"])
def test_any_other_period_is_an_unsupported_option(api, network, market, period):
    response = api.post("/get_chart_data", chart(period=period), format="json")
    expected = ("periodInSeconds", 1000 if period is None else 1006)
    assert errors(response) == [expected]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"market": "ETH_NOPE"}, [("market", 1006)]),
        (
            {"startingTimestampInMilliseconds": "yesterday"},
            [("startingTimestampInMilliseconds", 1001)],
        ),
        ({"endingTimestampInMilliseconds": "1"}, [("endingTimestampInMilliseconds", 1004)]),
        (
            {"startingTimestampInMilliseconds": "0", "periodInSeconds": "300"},
            [("startingTimestampInMilliseconds", 1004)],
        ),
    ],
)
def test_chart_data_refuses_bad_requests(api, network, market, change, expected):
    assert errors(api.post("/get_chart_data", {**chart(), **change}, format="json")) == expected


def test_a_missing_field_is_required(api, network, market):
    body = chart()
    del body["market"]
    assert errors(api.post("/get_chart_data", body, format="json")) == [("market", 1000)]


def test_two_chart_requests_at_once_are_refused(api, network, market):
    response = api.post("/get_chart_data", [chart(), chart()], format="json")
    assert response.status_code == 400 and response.json()["code"] == 100
