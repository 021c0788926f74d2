"""Issue #16: POST /delete_orders with an array of signed cancels: all applied or none."""

import pytest

from exchange.models import Order, OrderStatus
from tests.reliability.invariants import (
    assert_balances_are_their_ledger,
    assert_holds_are_open_orders_plus_pending_withdrawals,
)
from tests.signing import new_signer, signed_cancel
from tests.trading import balance, place, snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def ten(market, maker) -> list[Order]:
    return [
        place(
            maker,
            give_token=market.base,
            give_amount=10**16,
            take_token=market.quote,
            take_amount=(i + 1) * 10**18,
        )
        for i in range(10)
    ]


def test_a_batch_of_ten_cancels_them_all_and_releases_every_hold(api, market, maker, ten):
    body = [signed_cancel(maker, order_hash=order.hash) for order in ten]

    response = api.post("/delete_orders", body, format="json")

    assert response.status_code == 200
    assert response.json() == {"success": "0", "cancelled": [order.hash for order in ten]}
    assert set(Order.objects.values_list("status", flat=True)) == {OrderStatus.CANCELLED}
    assert balance(maker, market.base)[1] == 0
    assert_holds_are_open_orders_plus_pending_withdrawals(market.network)
    assert_balances_are_their_ledger(market.network)


def test_one_bad_signature_in_ten_cancels_none(api, market, maker, ten):
    body = [signed_cancel(maker, order_hash=order.hash) for order in ten]
    body[7] = signed_cancel(new_signer(), order_hash=ten[7].hash, account=maker.address.lower())
    before = snapshot()

    response = api.post("/delete_orders", body, format="json")

    assert response.status_code == 400
    [error] = response.json()["validationErrors"]
    assert (error["field"], error["code"]) == ("[7].signature", 1005)
    assert snapshot() == before


def test_one_order_already_closed_in_a_batch_cancels_none(api, market, maker, ten):
    api.post("/delete_orders", signed_cancel(maker, order_hash=ten[3].hash), format="json")
    before = snapshot()

    body = [signed_cancel(maker, order_hash=order.hash) for order in ten]
    response = api.post("/delete_orders", body, format="json")

    assert response.status_code == 400
    assert response.json()["validationErrors"][0]["field"] == "[3].orderHash"
    assert snapshot() == before


def test_a_batch_over_fifty_or_with_an_unknown_order_is_refused(api, market, maker, ten):
    body = [signed_cancel(maker, order_hash=ten[0].hash) for _ in range(51)]
    response = api.post("/delete_orders", body, format="json")
    assert (response.status_code, response.json()["code"]) == (400, 100)

    unknown = [
        signed_cancel(maker, order_hash=ten[0].hash),
        signed_cancel(maker, order_hash="0x" + "cd" * 32),
    ]
    assert api.post("/delete_orders", unknown, format="json").status_code == 404
    assert not Order.objects.filter(status=OrderStatus.CANCELLED).exists()
