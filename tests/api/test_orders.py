"""POST /create_orders, /get_orders, /delete_orders, /get_orderbook: shapes and refusals."""

import time
from urllib.parse import urlencode

import pytest
from django.db.models import Sum

from exchange.models import Balance, LedgerEntry, MarketStatus, Order
from exchange.models.fields import UINT256_MAX
from tests.factories import MarketFactory, TokenFactory
from tests.signing import FUNDS, address_of, new_signer, signed_cancel, signed_order

pytestmark = pytest.mark.django_db


def bid(network, market, signer, give=10**16, take=2 * 10**16, **kwargs) -> dict:
    return signed_order(
        signer,
        contract=network.exchange_address,
        give_token=market.base,
        give_amount=give,
        take_token=market.quote,
        take_amount=take,
        **kwargs,
    )


def ask(network, market, signer, give=2 * 10**16, take=10**16, **kwargs) -> dict:
    return signed_order(
        signer,
        contract=network.exchange_address,
        give_token=market.quote,
        give_amount=give,
        take_token=market.base,
        take_amount=take,
        **kwargs,
    )


def create(api, payload):
    return api.post("/create_orders", payload, format="json")


def money_snapshot():
    return (
        list(Balance.objects.order_by("id").values_list("account", "token_id", "total", "held")),
        LedgerEntry.objects.count(),
        Order.objects.count(),
    )


def validation_error(field, code):
    return {"code": 100, "reason": "Validation failed", "validationErrors": [(field, code)]}


def summary(body: dict) -> dict:
    """The error body with each validation error reduced to (field, code)."""
    if "validationErrors" in body:
        body = {
            **body,
            "validationErrors": [(e["field"], e["code"]) for e in body["validationErrors"]],
        }
    return body


# --- create_orders ---------------------------------------------------------------------


def test_create_orders_returns_the_new_order(api, network, market, trader):
    payload = bid(network, market, trader, nonce=1, expiry_ms=4_102_444_800_000)
    before = int(time.time())
    response = create(api, payload)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert before <= int(body.pop("created_at")) <= int(time.time())
    assert body == {
        "account": address_of(trader),
        "giveTokenAddress": market.base.address,
        "giveAmount": "10000000000000000",
        "takeTokenAddress": market.quote.address,
        "takeAmount": "20000000000000000",
        "filled": "0",
        "nonce": "1",
        "expiryTimestampInMilliseconds": "4102444800000",
        "orderHash": payload["orderHash"],
    }
    balance = Balance.objects.get(account=address_of(trader), token=market.base)
    assert (balance.total, balance.held) == (FUNDS, 10**16)


def test_create_orders_accepts_mixed_case_addresses_and_snake_case_names(
    api, network, market, trader
):
    payload = bid(network, market, trader)
    snake = {
        "account": trader.address,  # checksummed
        "give_token_address": payload["giveTokenAddress"].upper().replace("0X", "0x"),
        "give_amount": payload["giveAmount"],
        "take_token_address": payload["takeTokenAddress"],
        "take_amount": payload["takeAmount"],
        "nonce": payload["nonce"],
        "expiry_timestamp_in_milliseconds": payload["expiryTimestampInMilliseconds"],
        "order_hash": payload["orderHash"],
        "signature": payload["signature"],
    }
    response = create(api, snake)
    assert response.status_code == 201, response.json()
    assert response.json()["account"] == address_of(trader)


def test_create_orders_accepts_a_signature_with_v_0_or_1(api, network, market, trader):
    payload = bid(network, market, trader)
    v = int(payload["signature"][-2:], 16)
    payload["signature"] = payload["signature"][:-2] + f"{v - 27:02x}"
    assert create(api, payload).status_code == 201


def _other_market_token(network):
    return TokenFactory(network=network, symbol="OTH")


def _mutations(network, market, trader):
    """(name, payload, expected status, expected error summary) for every refusal."""
    other = new_signer()
    unlisted = TokenFactory(network=network, symbol="UNL", listed=False)
    lonely = _other_market_token(network)
    now = int(time.time() * 1000)

    def tampered(**changes):
        payload = bid(network, market, trader)
        payload.update(changes)
        return payload

    good = bid(network, market, trader)
    high_s = bid(network, market, trader)
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    raw = bytes.fromhex(high_s["signature"][2:])
    s = n - int.from_bytes(raw[32:64], "big")
    v = 27 + 28 - raw[64]
    high_s["signature"] = "0x" + (raw[:32] + s.to_bytes(32, "big") + bytes([v])).hex()
    return [
        (
            "bad hash",
            tampered(orderHash="0x" + "12" * 32),
            400,
            validation_error("orderHash", 1005),
        ),
        (
            "fields changed after signing",
            {**good, "giveAmount": str(int(good["giveAmount"]) + 1)},
            400,
            validation_error("orderHash", 1005),
        ),
        (
            "bad signature",
            tampered(signature="0x" + "00" * 65),
            400,
            validation_error("signature", 1005),
        ),
        ("high-s signature", high_s, 400, validation_error("signature", 1005)),
        (
            "signed by another account",
            bid(network, market, trader, signed_by=other),
            400,
            validation_error("signature", 1005),
        ),
        (
            "malformed signature",
            tampered(signature="0x1234"),
            400,
            validation_error("signature", 1001),
        ),
        ("malformed account", tampered(account="0x1234"), 400, validation_error("account", 1002)),
        (
            "malformed token",
            tampered(giveTokenAddress="ETH"),
            400,
            validation_error("giveTokenAddress", 1002),
        ),
        ("decimal amount", tampered(giveAmount="1.5"), 400, validation_error("giveAmount", 1001)),
        ("float amount", tampered(giveAmount=1.5), 400, validation_error("giveAmount", 1001)),
        ("hex amount", tampered(takeAmount="0x10"), 400, validation_error("takeAmount", 1001)),
        ("negative amount", tampered(giveAmount="-5"), 400, validation_error("giveAmount", 1004)),
        ("zero give amount", tampered(giveAmount="0"), 400, validation_error("giveAmount", 1004)),
        ("zero take amount", tampered(takeAmount="0"), 400, validation_error("takeAmount", 1004)),
        (
            "2^256 amount",
            tampered(giveAmount=str(UINT256_MAX + 1)),
            400,
            validation_error("giveAmount", 1004),
        ),
        (
            "huge amount",
            tampered(takeAmount="9" * 5000),
            400,
            validation_error("takeAmount", 1004),
        ),
        (
            "missing signature",
            {**good, "signature": None},
            400,
            validation_error("signature", 1000),
        ),
        (
            "same token on both sides",
            signed_order(
                trader,
                contract=network.exchange_address,
                give_token=market.base,
                give_amount=10,
                take_token=market.base,
                take_amount=10,
            ),
            400,
            validation_error("takeTokenAddress", 1003),
        ),
        (
            "unknown token",
            signed_order(
                trader,
                contract=network.exchange_address,
                give_token=market.base,
                give_amount=10,
                take_token="0x" + "77" * 20,
                take_amount=10,
            ),
            400,
            validation_error("takeTokenAddress", 1003),
        ),
        (
            "unlisted token",
            signed_order(
                trader,
                contract=network.exchange_address,
                give_token=unlisted,
                give_amount=10,
                take_token=market.base,
                take_amount=10,
            ),
            400,
            validation_error("giveTokenAddress", 1003),
        ),
        (
            "unknown market",
            signed_order(
                trader,
                contract=network.exchange_address,
                give_token=market.base,
                give_amount=10,
                take_token=lonely,
                take_amount=10,
            ),
            400,
            validation_error("takeTokenAddress", 1003),
        ),
        (
            "expired",
            bid(network, market, trader, expiry_ms=now - 1),
            400,
            validation_error("expiryTimestampInMilliseconds", 1004),
        ),
        (
            "over the available balance",
            bid(network, market, trader, give=FUNDS + 1),
            400,
            validation_error("giveAmount", 1004),
        ),
        (
            "unknown network",
            {**good, "networkId": "42"},
            400,
            validation_error("networkId", 1006),
        ),
    ]


def test_create_orders_refuses_bad_orders_with_the_spec_body_and_changes_nothing(
    api, network, market, trader
):
    for name, payload, status, expected in _mutations(network, market, trader):
        before = money_snapshot()
        response = create(api, payload)
        assert (response.status_code, summary(response.json())) == (status, expected), name
        assert money_snapshot() == before, name


def test_create_orders_refuses_a_duplicate_orderhash(api, network, market, trader):
    payload = bid(network, market, trader)
    assert create(api, payload).status_code == 201
    before = money_snapshot()
    response = create(api, payload)
    assert (response.status_code, summary(response.json())) == (
        400,
        validation_error("orderHash", 1005),
    )
    assert "already exists" in response.json()["validationErrors"][0]["reason"]
    assert money_snapshot() == before


def test_a_duplicate_of_an_order_that_holds_the_whole_balance_is_a_duplicate(
    api, network, market, trader
):
    payload = bid(network, market, trader, give=FUNDS)
    assert create(api, payload).status_code == 201
    before = money_snapshot()
    response = create(api, payload)
    assert (response.status_code, summary(response.json())) == (
        400,
        validation_error("orderHash", 1005),
    )
    assert money_snapshot() == before


def test_a_hash_mismatch_names_the_expected_hash_and_the_signer(api, network, market, trader):
    payload = bid(network, market, trader)
    expected = payload["orderHash"]
    payload["orderHash"] = "0x" + "12" * 32
    reason = create(api, payload).json()["validationErrors"][0]["reason"]
    assert expected in reason
    assert network.exchange_address in reason
    assert address_of(trader) in reason


def test_a_foreign_signature_names_whom_it_recovers_to(api, network, market, trader):
    other = new_signer()
    payload = bid(network, market, trader, signed_by=other)
    reason = create(api, payload).json()["validationErrors"][0]["reason"]
    assert address_of(other) in reason and address_of(trader) in reason


@pytest.mark.parametrize("status", [MarketStatus.HALTED, MarketStatus.CANCEL_ONLY])
def test_create_orders_is_refused_with_102_when_the_market_is_not_trading(
    api, network, market, trader, status
):
    market.status = status
    market.save()
    before = money_snapshot()
    response = create(api, bid(network, market, trader))
    assert response.status_code == 400
    assert response.json()["code"] == 102
    assert money_snapshot() == before


def test_create_orders_is_refused_with_102_when_the_network_disabled_submission(
    api, network, market, trader
):
    network.order_submission_enabled = False
    network.save()
    response = create(api, bid(network, market, trader))
    assert (response.status_code, response.json()["code"]) == (400, 102)
    assert not Order.objects.exists()


def test_holds_equal_the_open_orders_remaining_give(api, network, market, trader):
    for give in (10, 20, 30):
        assert create(api, bid(network, market, trader, give=give)).status_code == 201
    placed = create(api, ask(network, market, trader, give=500))
    assert placed.status_code == 201
    cancel = signed_cancel(trader, order_hash=placed.json()["orderHash"])
    assert api.post("/delete_orders", cancel, format="json").status_code == 200
    for token in (market.base, market.quote):
        held = Balance.objects.get(account=address_of(trader), token=token).held
        open_give = Order.objects.filter(
            account=address_of(trader), give_token=token, status="OPEN"
        ).aggregate(s=Sum("give_amount"))["s"]
        assert held == (open_give or 0)


# --- get_orders ------------------------------------------------------------------------


def test_get_orders_lists_an_accounts_live_orders_with_hash(api, network, market, trader):
    first = create(api, bid(network, market, trader)).json()
    second = create(api, ask(network, market, trader)).json()
    create(api, bid(network, market, new_signer_funded(network, market)))

    response = api.post("/get_orders", {"account": trader.address}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert {key: body[key] for key in ("total", "page", "per_page")} == {
        "total": 2,
        "page": 1,
        "per_page": 100,
    }
    records = body["records"]
    expected = []
    for placed in (first, second):
        placed = dict(placed)
        placed["hash"] = placed.pop("orderHash")
        # Beside the spec's fields (issue #16).
        placed.update(status="OPEN", market=market.name, closeReason=None)
        expected.append(placed)
    assert records == expected
    assert list(records[0])[:10] == [
        "account",
        "giveTokenAddress",
        "giveAmount",
        "takeTokenAddress",
        "takeAmount",
        "filled",
        "nonce",
        "expiryTimestampInMilliseconds",
        "hash",
        "created_at",
    ]
    assert 'rel="first"' in response["Link"]


def new_signer_funded(network, market):
    from exchange.services.deposits import deposit_credit

    signer = new_signer()
    for token in (market.base, market.quote):
        deposit_credit(token=token, account=address_of(signer), amount=FUNDS, reference="t")
    return signer


def test_get_orders_by_hash_returns_that_order(api, network, market, trader):
    placed = create(api, bid(network, market, trader)).json()
    for key in ("orderHash", "hash"):
        response = api.post("/get_orders", {key: placed["orderHash"]}, format="json")
        assert response.status_code == 200
        assert response.json()["total"] == 1
        assert response.json()["records"][0]["hash"] == placed["orderHash"]


def test_get_orders_pages(api, network, market, trader):
    hashes = [create(api, bid(network, market, trader)).json()["orderHash"] for _ in range(3)]
    response = api.post(
        "/get_orders?page=2&per_page=2", {"account": address_of(trader)}, format="json"
    )
    body = response.json()
    assert (body["total"], body["page"], body["per_page"]) == (3, 2, 2)
    assert [record["hash"] for record in body["records"]] == hashes[2:]
    past = api.post("/get_orders?page=9&per_page=2", {"account": address_of(trader)}, format="json")
    assert past.json()["records"] == []


def test_get_orders_is_a_404_for_an_unknown_hash(api, network, market):
    response = api.post("/get_orders", {"orderHash": "0x" + "ab" * 32}, format="json")
    assert response.status_code == 404
    assert response.json()["code"] == 404


def test_get_orders_needs_an_account_or_a_hash(api, network):
    response = api.post("/get_orders", {}, format="json")
    assert (response.status_code, summary(response.json())) == (
        400,
        validation_error("account", 1000),
    )


def test_get_orders_refuses_a_malformed_account(api, network):
    response = api.post("/get_orders", {"account": "nope"}, format="json")
    assert summary(response.json()) == validation_error("account", 1002)


def test_an_expired_order_is_never_listed_even_before_the_sweep(api, network, market, trader):
    placed = create(api, bid(network, market, trader)).json()
    Order.objects.filter(hash=placed["orderHash"]).update(expiry_ms=int(time.time() * 1000) - 1)

    by_account = api.post("/get_orders", {"account": address_of(trader)}, format="json")
    assert by_account.json()["total"] == 0
    # By hash it is found in any state (issue #16), shown as expired.
    by_hash = api.post("/get_orders", {"orderHash": placed["orderHash"]}, format="json")
    assert by_hash.json()["records"][0]["status"] == "EXPIRED"
    book = api.post("/get_orderbook", {"market": market.name}, format="json").json()
    assert book["bids"]["total"] == 0


# --- delete_orders ---------------------------------------------------------------------


def delete(api, payload):
    return api.post("/delete_orders", payload, format="json")


def test_delete_orders_cancels_and_releases_the_hold(api, network, market, trader):
    placed = create(api, bid(network, market, trader)).json()
    response = delete(api, signed_cancel(trader, order_hash=placed["orderHash"], nonce=0))
    assert (response.status_code, response.json()) == (200, {"success": "0"})
    order = Order.objects.get(hash=placed["orderHash"])
    assert order.status == "CANCELLED"
    assert Balance.objects.get(account=address_of(trader), token=market.base).held == 0
    by_hash = api.post("/get_orders", {"orderHash": placed["orderHash"]}, format="json")
    assert by_hash.json()["records"][0]["status"] == "CANCELLED"


def test_delete_orders_releases_only_the_unfilled_part(api, network, market, trader):
    placed = create(api, bid(network, market, trader, give=1000, take=300)).json()
    # A fill as the trade service records it: filled moves, the hold follows remaining_give.
    order = Order.objects.get(hash=placed["orderHash"])
    Order.objects.filter(pk=order.pk).update(filled=100)
    balance = Balance.objects.get(account=address_of(trader), token=market.base)
    Balance.objects.filter(pk=balance.pk).update(held=1000 - 333)
    assert delete(api, signed_cancel(trader, order_hash=order.hash)).status_code == 200
    assert Balance.objects.get(pk=balance.pk).held == 0


@pytest.mark.parametrize("status", [MarketStatus.CANCEL_ONLY, MarketStatus.HALTED])
def test_delete_orders_is_allowed_when_the_market_stops_trading(
    api, network, market, trader, status
):
    placed = create(api, bid(network, market, trader)).json()
    market.status = status
    market.save()
    assert delete(api, signed_cancel(trader, order_hash=placed["orderHash"])).status_code == 200


def test_delete_orders_refusals_change_nothing(api, network, market, trader):
    placed = create(api, bid(network, market, trader)).json()
    filled = create(api, bid(network, market, trader)).json()
    Order.objects.filter(hash=filled["orderHash"]).update(status="FILLED", filled=2 * 10**16)
    cancelled = create(api, bid(network, market, trader)).json()
    assert delete(api, signed_cancel(trader, order_hash=cancelled["orderHash"])).status_code == 200
    expired = create(api, bid(network, market, trader)).json()
    Order.objects.filter(hash=expired["orderHash"]).update(expiry_ms=1)
    other = new_signer()
    good = signed_cancel(trader, order_hash=placed["orderHash"])
    cases = [
        (
            "by a non-owner",
            signed_cancel(other, order_hash=placed["orderHash"]),
            400,
            validation_error("account", 1003),
        ),
        (
            "signed by a non-owner for the owner",
            signed_cancel(other, order_hash=placed["orderHash"], account=address_of(trader)),
            400,
            validation_error("signature", 1005),
        ),
        (
            "a signature over another nonce",
            {**good, "nonce": str(int(good["nonce"]) + 1)},
            400,
            validation_error("signature", 1005),
        ),
        (
            "a filled order",
            signed_cancel(trader, order_hash=filled["orderHash"]),
            400,
            validation_error("orderHash", 1006),
        ),
        (
            "a cancelled order",
            signed_cancel(trader, order_hash=cancelled["orderHash"]),
            400,
            validation_error("orderHash", 1006),
        ),
        (
            "an expired order",
            signed_cancel(trader, order_hash=expired["orderHash"]),
            400,
            validation_error("orderHash", 1006),
        ),
        (
            "a malformed hash",
            {**good, "orderHash": "0x12"},
            400,
            validation_error("orderHash", 1001),
        ),
    ]
    for name, payload, status, expected in cases:
        before = money_snapshot()
        response = delete(api, payload)
        assert (response.status_code, summary(response.json())) == (status, expected), name
        assert money_snapshot() == before, name
    unknown = delete(api, signed_cancel(trader, order_hash="0x" + "ab" * 32))
    assert unknown.status_code == 404
    assert Order.objects.get(hash=placed["orderHash"]).status == "OPEN"


# --- get_orderbook ---------------------------------------------------------------------


def test_get_orderbook_sorts_bids_down_and_asks_up_then_by_expiry(api, network, market, trader):
    soon, later = int(time.time() * 1000) + 60_000, int(time.time() * 1000) + 120_000
    # Bids: price = give/take (BASE per QUOTE). Asks: price = take/give.
    b_low = create(api, bid(network, market, trader, give=1, take=4)).json()
    b_high_later = create(api, bid(network, market, trader, give=1, take=2, expiry_ms=later)).json()
    b_high_soon = create(api, bid(network, market, trader, give=1, take=2, expiry_ms=soon)).json()
    a_high = create(api, ask(network, market, trader, give=2, take=1)).json()
    a_low = create(api, ask(network, market, trader, give=8, take=1)).json()
    cancelled = create(api, ask(network, market, trader, give=16, take=1)).json()
    delete(api, signed_cancel(trader, order_hash=cancelled["orderHash"]))
    filled = create(api, ask(network, market, trader, give=32, take=1)).json()
    Order.objects.filter(hash=filled["orderHash"]).update(status="FILLED", filled=1)

    response = api.post("/get_orderbook", {"market": market.name}, format="json")

    assert response.status_code == 200
    book = response.json()
    # sequence: the book:<MARKET> stream's (shared/STREAMS.md, docs/streams.md).
    assert list(book) == ["bids", "asks", "sequence"]
    assert isinstance(book["sequence"], int) and book["sequence"] > 0
    assert {key: book["bids"][key] for key in ("total", "page", "per_page")} == {
        "total": 3,
        "page": 1,
        "per_page": 100,
    }
    assert [r["orderHash"] for r in book["bids"]["records"]] == [
        b_high_soon["orderHash"],
        b_high_later["orderHash"],
        b_low["orderHash"],
    ]
    assert [r["orderHash"] for r in book["asks"]["records"]] == [
        a_low["orderHash"],
        a_high["orderHash"],
    ]
    assert book["asks"]["total"] == 2
    assert book["bids"]["records"][2] == b_low


def test_get_orderbook_pages_both_sides(api, network, market, trader):
    bids = [create(api, bid(network, market, trader, give=1, take=n)).json() for n in (2, 3, 4)]
    create(api, ask(network, market, trader))
    book = api.post(
        "/get_orderbook?page=2&per_page=2", {"market": market.name}, format="json"
    ).json()
    assert [r["orderHash"] for r in book["bids"]["records"]] == [bids[2]["orderHash"]]
    assert book["asks"] == {"total": 1, "page": 2, "per_page": 2, "records": []}


def test_get_orderbook_market_names_are_case_insensitive(api, network, market, trader):
    create(api, bid(network, market, trader))
    book = api.post("/get_orderbook", {"market": market.name.lower()}, format="json").json()
    assert book["bids"]["total"] == 1


def test_get_orderbook_refuses_an_unknown_market(api, network, market):
    for name in ("ETH_NOPE", "ETHTST", "TST_ETH"):
        response = api.post("/get_orderbook", {"market": name}, format="json")
        assert summary(response.json()) == validation_error("market", 1006), name


def test_get_orderbook_needs_a_market(api, network):
    response = api.post("/get_orderbook", {}, format="json")
    assert summary(response.json()) == validation_error("market", 1000)


def test_get_orderbook_keeps_markets_apart(api, network, market, trader, fund):
    other_market = MarketFactory(
        network=network, base=market.base, quote=TokenFactory(network=network)
    )
    create(api, bid(network, market, trader))
    book = api.post("/get_orderbook", {"market": other_market.name}, format="json").json()
    assert book["bids"]["total"] == book["asks"]["total"] == 0


def test_create_orders_accepts_a_form_encoded_body(api, network, market, trader):
    payload = bid(network, market, trader)
    response = api.generic(
        "POST",
        "/create_orders",
        urlencode(payload),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["orderHash"] == payload["orderHash"]
