"""Issue #16: POST /cancel_all_orders, the signed cancel-all (docs/markets.md,
docs/signing.md): every open order of the account (in one market) cancelled and its
hold released through the ledger, a nonce used once, a bad signature refused with the
computed hash and the recovered signer, changing nothing."""

import pytest

from exchange.models import CancelAll, CloseReason, LedgerEntry, LedgerKind, Order, OrderStatus
from exchange.protocol import hashing, typed_data
from tests.factories import MarketFactory, TokenFactory
from tests.reliability.invariants import (
    assert_balances_are_their_ledger,
    assert_holds_are_open_orders_plus_pending_withdrawals,
    assert_no_balance_negative,
)
from tests.signing import FUNDS, address_of, new_signer, next_nonce, sign_hash, sign_typed
from tests.trading import balance, place, snapshot

pytestmark = pytest.mark.django_db

ETH = 10**18


def signed_cancel_all(
    signer, *, network, market=None, nonce=None, signed_by=None, eip712=False
) -> dict:
    nonce = next_nonce() if nonce is None else nonce
    account = address_of(signer)
    payload = {"account": account, "nonce": str(nonce)}
    if market is not None:
        payload["market"] = market
    contract = network.exchange_address
    if eip712:
        message = {
            "contractAddress": contract,
            "account": account,
            "market": market or "",
            "nonce": nonce,
        }
        signature = sign_typed(
            signed_by or signer, "CancelAll", message, chain_id=network.id, contract=contract
        )
        return {**payload, "signature": signature, "signatureType": typed_data.EIP712}
    digest = hashing.cancel_all_hash(contract=contract, account=account, market=market, nonce=nonce)
    return {**payload, "signature": sign_hash(signed_by or signer, digest)}


@pytest.fixture
def other_market(network, fund, maker):
    market = MarketFactory(
        network=network,
        base=TokenFactory(network=network, symbol="WBTC"),
        quote=TokenFactory(network=network, symbol="USDX"),
    )
    fund(maker, market.base, FUNDS)
    fund(maker, market.quote, FUNDS)
    return market


def _orders(market, owner, count=3) -> list[Order]:
    return [
        place(
            owner,
            give_token=market.base,
            give_amount=10**16,
            take_token=market.quote,
            take_amount=(i + 1) * ETH,
        )
        for i in range(count)
    ]


def _invariants(network) -> None:
    assert_holds_are_open_orders_plus_pending_withdrawals(network)
    assert_balances_are_their_ledger(network)
    assert_no_balance_negative(network)


@pytest.mark.parametrize("eip712", [False, True], ids=["eth_sign", "eip712"])
def test_cancel_all_cancels_every_open_order_and_releases_the_holds(
    api, network, market, other_market, maker, taker, eip712
):
    mine = _orders(market, maker) + _orders(other_market, maker, 2)
    theirs = _orders(market, taker)

    response = api.post(
        "/cancel_all_orders",
        signed_cancel_all(maker, network=network, eip712=eip712),
        format="json",
    )

    assert response.status_code == 200
    assert response.json() == {"success": "0", "cancelled": [order.hash for order in mine]}
    for order in mine:
        order.refresh_from_db()
        assert (order.status, order.close_reason) == (OrderStatus.CANCELLED, CloseReason.CANCEL_ALL)
    assert set(
        Order.objects.filter(account=address_of(taker)).values_list("status", flat=True)
    ) == {OrderStatus.OPEN}
    assert balance(maker, market.base)[1] == 0
    assert balance(maker, other_market.base)[1] == 0
    assert balance(taker, market.base)[1] == 3 * 10**16
    releases = LedgerEntry.objects.filter(
        kind=LedgerKind.RELEASE, balance__account=address_of(maker)
    )
    assert releases.count() == len(mine)
    assert CancelAll.objects.get().cancelled == len(mine)
    _invariants(network)
    assert len(theirs) == 3


def test_cancel_all_in_one_market_leaves_the_others_open(api, network, market, other_market, maker):
    here = _orders(market, maker)
    there = _orders(other_market, maker, 2)

    response = api.post(
        "/cancel_all_orders",
        signed_cancel_all(maker, network=network, market=other_market.name),
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["cancelled"] == [order.hash for order in there]
    assert set(
        Order.objects.filter(pk__in=[o.pk for o in here]).values_list("status", flat=True)
    ) == {OrderStatus.OPEN}
    assert balance(maker, other_market.base)[1] == 0
    assert balance(maker, market.base)[1] == 3 * 10**16
    _invariants(network)


def test_a_replayed_cancel_all_is_refused_and_changes_nothing(api, network, market, maker):
    _orders(market, maker, 1)
    payload = signed_cancel_all(maker, network=network)
    assert api.post("/cancel_all_orders", payload, format="json").status_code == 200
    _orders(market, maker, 2)
    before = snapshot()

    response = api.post("/cancel_all_orders", payload, format="json")

    assert response.status_code == 400
    [error] = response.json()["validationErrors"]
    assert (error["field"], error["code"]) == ("nonce", 1006)
    assert "already used" in error["reason"]
    assert snapshot() == before
    assert CancelAll.objects.count() == 1


@pytest.mark.parametrize("eip712", [False, True], ids=["eth_sign", "eip712"])
def test_a_signature_not_the_accounts_is_1005_naming_the_hash_and_the_signer(
    api, network, market, maker, eip712
):
    _orders(market, maker)
    intruder = new_signer()
    payload = signed_cancel_all(maker, network=network, signed_by=intruder, eip712=eip712)
    before = snapshot()

    response = api.post("/cancel_all_orders", payload, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == 100
    [error] = body["validationErrors"]
    assert (error["field"], error["code"]) == ("signature", 1005)
    nonce = int(payload["nonce"])
    if eip712:
        computed = typed_data.cancel_all_digest(
            chain_id=network.id,
            contract=network.exchange_address,
            account=address_of(maker),
            market=None,
            nonce=nonce,
        )
    else:
        computed = hashing.cancel_all_hash(
            contract=network.exchange_address, account=address_of(maker), market=None, nonce=nonce
        )
    assert computed in error["reason"]
    assert address_of(intruder) in error["reason"]
    assert snapshot() == before
    assert not CancelAll.objects.exists()


def test_a_signature_over_another_market_is_refused(api, network, market, other_market, maker):
    _orders(market, maker)
    payload = signed_cancel_all(maker, network=network, market=other_market.name)
    payload["market"] = market.name
    before = snapshot()

    response = api.post("/cancel_all_orders", payload, format="json")

    assert response.json()["validationErrors"][0]["code"] == 1005
    assert snapshot() == before


def test_an_unknown_market_or_missing_field_is_the_spec_error(api, network, market, maker):
    response = api.post(
        "/cancel_all_orders",
        signed_cancel_all(maker, network=network, market="NOPE_X"),
        format="json",
    )
    assert (response.status_code, response.json()["validationErrors"][0]["field"]) == (
        400,
        "market",
    )
    response = api.post("/cancel_all_orders", {"account": address_of(maker)}, format="json")
    assert response.status_code == 400
    fields = {error["field"] for error in response.json()["validationErrors"]}
    assert {"nonce", "signature"} <= fields


def test_cancel_all_with_nothing_open_uses_the_nonce_and_cancels_nothing(api, network, maker):
    payload = signed_cancel_all(maker, network=network)
    response = api.post("/cancel_all_orders", payload, format="json")
    assert response.json() == {"success": "0", "cancelled": []}
    assert api.post("/cancel_all_orders", payload, format="json").status_code == 400


def test_the_cancellations_reach_the_book_and_account_streams(api, network, market, maker):
    from exchange.models import StreamEvent

    mine = _orders(market, maker)
    response = api.post(
        "/cancel_all_orders", signed_cancel_all(maker, network=network), format="json"
    )
    assert response.status_code == 200

    for channel in (f"account:{address_of(maker)}", f"book:{market.name}"):
        cancelled = [
            event.data["orderHash"]
            for event in StreamEvent.objects.filter(channel=f"{network.id}/{channel}", type="order")
            if event.data["status"] == "cancelled"
        ]
        assert sorted(cancelled) == sorted(order.hash for order in mine), channel
