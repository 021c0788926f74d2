"""POST /get_trades with an account, on PostgreSQL: the page PostgreSQL renders
(exchange/selectors/trades.py, trade_page_json) is byte for byte the response the ORM
path builds (trade_list and DRF's renderer): the same body, status and headers."""

from datetime import UTC, datetime

import pytest
from django.core.cache import cache

from exchange.api import throttling
from exchange.api.views import trades as trades_view
from exchange.models import Trade
from exchange.selectors.access import rate_limits_forget
from tests.factories import MarketFactory, TokenFactory
from tests.signing import FUNDS, address_of, new_signer
from tests.trading import execute, fill, place

pytestmark = [pytest.mark.django_db, pytest.mark.postgres_only]

ETH = 10**18
USD = 10**6


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@pytest.fixture
def usd_market(network, ether):
    """A second market whose QUOTE has 6 decimals."""
    usd = TokenFactory(network=network, symbol="USD", name="Dollar", decimals=6)
    return MarketFactory(network=network, base=ether, quote=usd)


@pytest.fixture
def alice(market, usd_market, fund):
    signer = new_signer()
    for token in (market.base, market.quote, usd_market.quote):
        fund(signer, token, FUNDS)
    return signer


@pytest.fixture
def bob(market, usd_market, fund):
    signer = new_signer()
    for token in (market.base, market.quote, usd_market.quote):
        fund(signer, token, FUNDS)
    return signer


@pytest.fixture
def carol(market, usd_market, fund):
    signer = new_signer()
    for token in (market.base, market.quote, usd_market.quote):
        fund(signer, token, FUNDS)
    return signer


@pytest.fixture
def trades(network, market, usd_market, fees, alice, bob, carol):
    """Trades of alice as maker and as taker in both markets, bids and asks, some at
    the same instant (the id breaks the tie), one settled, one with a gas fee and
    amounts near 2^256; bob and carol trade with each other too."""
    made = []

    def order(maker, market_, *, bid: bool, base: int, quote: int):
        if bid:
            return place(
                maker,
                give_token=market_.base,
                give_amount=base,
                take_token=market_.quote,
                take_amount=quote,
            )
        return place(
            maker,
            give_token=market_.quote,
            give_amount=quote,
            take_token=market_.base,
            take_amount=base,
        )

    alice_bid = order(alice, market, bid=True, base=2 * ETH, quote=4000 * ETH)
    alice_usd_ask = order(alice, usd_market, bid=False, base=3 * ETH, quote=9000 * USD)
    bob_bid = order(bob, usd_market, bid=True, base=2 * ETH, quote=5000 * USD)
    carol_ask = order(carol, market, bid=False, base=ETH, quote=3000 * ETH)
    minute = 0
    for round_ in range(4):
        for fills in (
            [fill(bob, alice_bid, 100 * ETH + round_)],
            [fill(carol, alice_usd_ask, ETH // 10 + round_)],
            # Two fills of one request: the same created_at.
            [fill(alice, bob_bid, 200 * USD + round_), fill(alice, bob_bid, 100 * USD)],
            [fill(alice, carol_ask, ETH // 20)],
            [fill(bob, carol_ask, ETH // 50)],
        ):
            minute += 1
            moment = at(f"2026-11-20 10:{minute:02d}:07.{round_}99")
            made += execute(network, fills, at=moment)
    Trade.objects.filter(id=made[0].id).update(
        transaction_hash="0x" + "5a" * 32, gas_fee=12345, settlement_status="SETTLED"
    )
    Trade.objects.filter(id=made[1].id).update(
        give_amount=2**256 - 1, take_amount=10**77, buyer_fee=0, seller_fee=2**255
    )
    return made


@pytest.fixture(autouse=True)
def _still_clock(monkeypatch):
    """X-RateLimit-Reset is the throttle clock's time: it stands still here."""
    moment = at("2026-11-21 00:00:00")
    monkeypatch.setattr(throttling, "now", lambda: moment)


def _fresh_counters():
    """Each request sees the same rate-limit state (X-RateLimit-Remaining is a header)."""
    cache.clear()
    rate_limits_forget()


def _post(api, body, query):
    _fresh_counters()
    path = "/get_trades" + (f"?{query}" if query else "")
    # The client's request id is echoed: the same on both paths.
    return api.post(path, body, format="json", headers={"X-Request-ID": "pages-test"})


def both(api, monkeypatch, body, query="", *, rendered=True):
    """The response of the rendered path and the ORM path's, after checking they are the
    same bytes (status, headers, body); `rendered`: whether the first took the fast path."""
    calls = []
    fast = trades_view.trade_page_json

    def spy(**kwargs):
        result = fast(**kwargs)
        calls.append(result is not None)
        return result

    monkeypatch.setattr(trades_view, "trade_page_json", spy)
    first = _post(api, body, query)
    monkeypatch.setattr(trades_view, "trade_page_json", lambda **kwargs: None)
    second = _post(api, body, query)
    monkeypatch.setattr(trades_view, "trade_page_json", fast)
    assert calls == ([True] if rendered else [])
    assert first.status_code == second.status_code
    assert first.content == second.content
    assert list(first.items()) == list(second.items())
    return first


def test_every_page_of_each_account_is_the_orm_paths_bytes(
    api, monkeypatch, trades, alice, bob, carol
):
    for signer in (alice, bob, carol):
        account = address_of(signer)
        total = len(both(api, monkeypatch, {"account": account}).json()["records"])
        assert total == sum(account.lower() in (t.maker, t.taker) for t in trades)
        for per_page in (1, 3, 5, 100):
            last = -(-total // per_page)
            for page in range(1, last + 2):  # the last page is partial, the next one empty
                body = both(
                    api, monkeypatch, {"account": account}, f"page={page}&per_page={per_page}"
                ).json()
                assert body["total"] == total
                expected = min(per_page, max(0, total - (page - 1) * per_page))
                assert len(body["records"]) == expected


def test_the_records_cover_both_sides_fees_markets_and_formats(
    api, monkeypatch, network, market, usd_market, trades, alice
):
    body = both(api, monkeypatch, {"account": address_of(alice), "sort": "asc"}).json()
    records = body["records"]
    account = address_of(alice).lower()
    assert {r["makerAddress"] == account for r in records} == {True, False}
    assert {r["takerAddress"] == account for r in records} == {True, False}
    tokens = {r["giveTokenAddress"] for r in records} | {r["takeTokenAddress"] for r in records}
    assert tokens == {market.base.address, market.quote.address, usd_market.quote.address}
    assert any(r["buyerFee"] != "0" and r["sellerFee"] != "0" for r in records)
    first = records[0]
    assert (first["transactionHash"], first["gasFee"]) == ("0x" + "5a" * 32, "12345")
    assert records[1]["transactionHash"] is None
    assert str(2**256 - 1) in {r["giveAmount"] for r in records}
    assert first["created_at"] == "2026-11-20 10:01:07"
    # Fills of one request share their time: the earlier id comes first when ascending.
    same = [r for r in records if r["created_at"] == "2026-11-20 10:03:07"]
    assert [int(r["id"]) for r in same] == sorted(int(r["id"]) for r in same)
    assert len(same) == 2


@pytest.mark.parametrize("sort", ["asc", "desc"])
def test_the_filters_with_an_account_are_the_orm_paths_bytes(
    api, monkeypatch, market, usd_market, trades, alice, bob, sort
):
    account = address_of(alice)
    start, end = ms(at("2026-11-20 10:03:07.099")), ms(at("2026-11-20 10:10:07.199"))
    bodies = [
        {"market": market.name},
        {"market": usd_market.name},
        {"orderHash": trades[0].order.hash},
        {"orderHash": trades[0].order.hash.upper().replace("0X", "0x")},
        {"startingTimestampInMilliseconds": start},
        {"endingTimestampInMilliseconds": end},
        {"startingTimestampInMilliseconds": start, "endingTimestampInMilliseconds": end},
        {"startingTimestampInMilliseconds": end, "endingTimestampInMilliseconds": end},
        {"market": usd_market.name, "startingTimestampInMilliseconds": start},
        {"market": market.name, "orderHash": trades[2].order.hash},
    ]
    for filters in bodies:
        for query in ("", "page=2&per_page=2"):
            both(api, monkeypatch, {"account": account, "sort": sort, **filters}, query)
    both(api, monkeypatch, {"account": account.upper().replace("0X", "0x"), "sort": sort})
    both(api, monkeypatch, {"account": address_of(bob), "sort": sort, "market": usd_market.name})


def test_empty_and_out_of_range_pages_are_the_orm_paths_bytes(api, monkeypatch, trades, alice):
    account = address_of(alice)
    empty = both(api, monkeypatch, {"account": address_of(new_signer())}).json()
    assert (empty["total"], empty["records"]) == (0, [])
    beyond = both(api, monkeypatch, {"account": account}, "page=99&per_page=7").json()
    assert beyond["records"] == []
    # A page past SQL's 64-bit OFFSET: the total alone.
    past = both(api, monkeypatch, {"account": account}, f"page={2**62}&per_page=100").json()
    assert past["records"] == [] and past["total"] > 0
    # The query string, form and JSON bodies all name the page the same way.
    both(api, monkeypatch, {"account": account, "page": 2, "per_page": 3})
    both(api, monkeypatch, {"account": account}, "page=2&per_page=3&networkId=31337")


@pytest.mark.parametrize(
    ("body", "query"),
    [
        ({"account": "0x12"}, ""),
        ({"sort": "up"}, ""),
        ({"market": "NOPE_TST"}, ""),
        ({"orderHash": "0x12"}, ""),
        ({"startingTimestampInMilliseconds": "soon"}, ""),
        ({"startingTimestampInMilliseconds": 5, "endingTimestampInMilliseconds": 4}, ""),
        ({}, "page=0"),
        ({}, "per_page=100000"),
        ({}, "page=two"),
        ({}, "networkId=42"),
    ],
)
def test_errors_are_unchanged(api, monkeypatch, trades, alice, body, query):
    response = both(api, monkeypatch, {"account": address_of(alice), **body}, query, rendered=False)
    assert response.status_code == 400
    assert response.json()["code"] == 100


def test_without_an_account_the_orm_path_answers(api, monkeypatch, market, trades):
    calls = []
    monkeypatch.setattr(
        trades_view,
        "trade_page_json",
        lambda **kwargs: calls.append(kwargs) or None,
    )
    response = _post(api, {"market": market.name}, "per_page=3")
    assert response.status_code == 200 and len(response.json()["records"]) == 3
    assert [call["account"] for call in calls] == [None]
