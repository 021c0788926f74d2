"""POST /create_trades and /get_trades: shapes, error bodies, filters."""

from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest

from exchange.models import MarketStatus, Trade
from tests.signing import address_of, new_signer
from tests.trading import execute, fill, fill_payload, place, snapshot

pytestmark = pytest.mark.django_db

ETH = 10**18


@pytest.fixture
def bid(maker, market):
    """2 ETH (BASE) for 4000 TST (QUOTE): 0.0005 ETH per TST."""
    return place(
        maker,
        give_token=market.base,
        give_amount=2 * ETH,
        take_token=market.quote,
        take_amount=4000 * ETH,
    )


@pytest.fixture
def ask(maker, market):
    """3000 TST for 1 ETH: 0.000333... ETH per TST."""
    return place(
        maker,
        give_token=market.quote,
        give_amount=3000 * ETH,
        take_token=market.base,
        take_amount=ETH,
    )


def create(api, body, **query):
    path = "/create_trades" + (
        "?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else ""
    )
    return api.post(path, body, format="json")


def errors(response) -> list[tuple]:
    return [(e["field"], e["code"]) for e in response.json()["validationErrors"]]


def test_a_single_object_fills_and_returns_an_array(api, network, market, fees, taker, bid):
    response = create(api, fill_payload(taker, bid, 1000 * ETH))

    assert response.status_code == 201
    [record] = response.json()
    trade = Trade.objects.get()
    assert record == {
        "amount": str(1000 * ETH),
        "date": trade.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "total": str(ETH // 2),
        "baseTokenAddress": market.base.address,
        "quoteTokenAddress": market.quote.address,
        "type": "sell",
        "price": "0.0005",
        "orderHash": bid.hash,
        "uuid": str(trade.uuid),
    }


def test_an_array_fills_every_item_in_order(api, network, market, fees, taker, ask):
    response = create(api, [fill_payload(taker, ask, ETH // 4), fill_payload(taker, ask, ETH // 2)])

    assert response.status_code == 201
    records = response.json()
    assert [(r["amount"], r["total"], r["type"]) for r in records] == [
        (str(750 * ETH), str(ETH // 4), "buy"),
        (str(1500 * ETH), str(ETH // 2), "buy"),
    ]
    # 1/3000 has no finite decimal: the price is rounded to 36 places and shown plainly.
    assert records[0]["price"] == "0.000333333333333333333333333333333333"


def test_snake_case_fields_and_the_network_in_the_query_are_accepted(
    api, network, market, taker, bid
):
    item = fill_payload(taker, bid, ETH)
    item["order_hash"] = item.pop("orderHash")
    response = create(api, [item], networkId=network.id)
    assert response.status_code == 201, response.json()


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("amount", "1.5", 1001),
        ("amount", "0", 1004),
        ("amount", "-3", 1004),
        ("amount", str(2**256), 1004),
        ("account", "0x123", 1002),
        ("orderHash", "0xzz", 1001),
        ("nonce", "abc", 1001),
        ("signature", "0x00", 1001),
    ],
)
def test_malformed_items_are_named_by_their_index(
    api, network, market, taker, bid, field, value, code
):
    good, bad = fill_payload(taker, bid, ETH), fill_payload(taker, bid, ETH)
    bad[field] = value
    before = snapshot()
    response = create(api, [good, bad])
    assert response.status_code == 400
    assert response.json()["code"] == 100
    assert errors(response) == [(f"[1].{field}", code)]
    assert snapshot() == before


def test_a_missing_field_of_a_single_object_is_named_plainly(api, network, market, taker, bid):
    item = fill_payload(taker, bid, ETH)
    del item["signature"]
    response = create(api, item)
    assert response.status_code == 400
    assert errors(response) == [("signature", 1000)]


def test_a_bad_signature_is_1005_and_changes_nothing(api, network, market, taker, bid):
    item = fill_payload(taker, bid, ETH)
    item["account"] = address_of(new_signer())
    before = snapshot()
    response = create(api, [item])
    assert (response.status_code, errors(response)) == (400, [("[0].signature", 1005)])
    assert snapshot() == before


def test_the_same_trade_twice_is_refused_the_second_time(api, network, market, taker, bid):
    item = fill_payload(taker, bid, ETH)
    assert create(api, item).status_code == 201
    response = create(api, item)
    assert (response.status_code, errors(response)) == (400, [("nonce", 1005)])
    assert Trade.objects.count() == 1


def test_an_unknown_order_is_a_404(api, network, market, taker, bid):
    bid.hash = "0x" + "33" * 32
    response = create(api, [fill_payload(taker, bid, ETH)])
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == 404 and "[0].orderHash" in body["reason"]


def test_a_halted_market_is_code_102(api, network, market, taker, bid):
    market.status = MarketStatus.HALTED
    market.save()
    response = create(api, [fill_payload(taker, bid, ETH)])
    assert response.status_code == 400
    assert response.json()["code"] == 102
    assert "validationErrors" not in response.json()


def test_an_empty_array_or_a_non_object_item_is_refused(api, network, market):
    for body in ([], [1, 2]):
        response = create(api, body)
        assert response.status_code == 400
        assert response.json()["code"] == 100


def test_more_than_the_available_balance_is_1004_on_the_amount(api, network, market, fund, bid):
    poor = new_signer()
    fund(poor, market.quote, 10 * ETH)
    response = create(api, [fill_payload(poor, bid, 6 * ETH), fill_payload(poor, bid, 5 * ETH)])
    assert (response.status_code, errors(response)) == (400, [("[1].amount", 1004)])


# get_trades


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@pytest.fixture
def history(network, market, fees, maker, taker, bid, ask):
    """Three trades at known times: two of the bid, one of the ask."""
    first = execute(network, [fill(taker, bid, 1000 * ETH)], at=at("2026-11-20 10:00:00"))
    second = execute(network, [fill(taker, ask, ETH // 10)], at=at("2026-11-20 11:00:00"))
    third = execute(network, [fill(taker, bid, 2000 * ETH)], at=at("2026-11-20 12:00:00.250"))
    return first + second + third


def get(api, body):
    return api.post("/get_trades", body, format="json")


def test_get_trades_records_show_every_field(api, network, market, maker, taker, bid, history):
    response = get(api, {"orderHash": bid.hash})
    assert response.status_code == 200
    body = response.json()
    assert (body["total"], body["page"], body["per_page"]) == (2, 1, 100)
    trade = history[2]
    assert body["records"][0] == {
        "id": str(trade.id),
        "giveTokenAddress": market.base.address,
        "giveAmount": str(ETH),
        "takeTokenAddress": market.quote.address,
        "takeAmount": str(2000 * ETH),
        "orderHash": bid.hash,
        "uuid": str(trade.uuid),
        # The maker receives QUOTE (the buyer): 0.1% of 2000 TST; the taker 0.2% of 1 ETH.
        "buyerFee": str(2 * ETH),
        "sellerFee": str(2 * 10**15),
        "gasFee": "0",
        "makerAddress": address_of(maker),
        "takerAddress": address_of(taker),
        "transactionHash": None,
        "created_at": "2026-11-20 12:00:00",
    }
    assert "Link" in response


def test_get_trades_filters_by_account_market_and_time(api, network, market, maker, taker, history):
    def ids(body):
        response = get(api, body)
        assert response.status_code == 200, response.json()
        return [int(record["id"]) for record in response.json()["records"]]

    all_ids = [trade.id for trade in history]
    assert ids({"account": address_of(maker)}) == all_ids[::-1]
    assert ids({"account": address_of(taker).upper().replace("0X", "0x")}) == all_ids[::-1]
    assert ids({"account": address_of(new_signer())}) == []
    assert ids({"market": market.name, "sort": "asc"}) == all_ids
    start, end = ms(at("2026-11-20 11:00:00")), ms(at("2026-11-20 12:00:00.250"))
    assert (
        ids({"market": market.name, "startingTimestampInMilliseconds": str(start)})
        == all_ids[:0:-1]
    )
    # Both ends inclusive, to the millisecond.
    assert ids(
        {
            "market": market.name,
            "startingTimestampInMilliseconds": start,
            "endingTimestampInMilliseconds": end - 1,
        }
    ) == [all_ids[1]]
    assert ids({"market": market.name, "endingTimestampInMilliseconds": end}) == all_ids[::-1]


def test_get_trades_paginates(api, network, market, history):
    response = api.post("/get_trades?page=2&per_page=2", {"market": market.name}, format="json")
    body = response.json()
    assert (body["total"], body["page"], body["per_page"]) == (3, 2, 2)
    assert [r["id"] for r in body["records"]] == [str(history[0].id)]
    assert 'rel="prev"' in response["Link"] and 'rel="first"' in response["Link"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, [("orderHash", 1000)]),
        ({"market": "ETH_TST", "sort": "up"}, [("sort", 1006)]),
        ({"market": "NOPE_TST"}, [("market", 1006)]),
        ({"account": "0x12"}, [("account", 1002)]),
        ({"orderHash": "0x12"}, [("orderHash", 1001)]),
        (
            {"market": "ETH_TST", "startingTimestampInMilliseconds": "soon"},
            [("startingTimestampInMilliseconds", 1001)],
        ),
        (
            {
                "market": "ETH_TST",
                "startingTimestampInMilliseconds": 5,
                "endingTimestampInMilliseconds": 4,
            },
            [("endingTimestampInMilliseconds", 1004)],
        ),
    ],
)
def test_get_trades_refuses_bad_filters(api, network, market, body, expected):
    response = get(api, body)
    assert response.status_code == 400
    assert response.json()["code"] == 100
    assert errors(response) == expected


def test_a_form_encoded_single_trade_is_accepted(api, network, market, taker, bid):
    body = urlencode(fill_payload(taker, bid, ETH))
    response = api.post("/create_trades", body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 201, response.json()
    assert len(response.json()) == 1


def test_an_unknown_network_is_refused_before_anything_else(api, network, market, taker, bid):
    response = create(api, [fill_payload(taker, bid, ETH)], networkId=42)
    assert (response.status_code, errors(response)) == (400, [("networkId", 1006)])
