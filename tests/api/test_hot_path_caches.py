"""What the hot-path shortcuts must not change: a kill switch thrown in another
process while this one holds the network in its cache stops the next order and
trade, and an account's history merged from two scans equals the one-query history."""

import random

import pytest
from django.db.models import Q

from exchange.models import Network, Trade
from exchange.paging import PageRequest
from exchange.selectors.trades import trade_list
from tests.api.test_orders import bid as signed_bid
from tests.signing import address_of
from tests.trading import execute, fill, fill_payload, place

pytestmark = pytest.mark.django_db

ETH = 10**18


def _switch_off_elsewhere(network: Network) -> None:
    # An update that sends no signal: what this process sees of another's admin save.
    Network.objects.filter(pk=network.pk).update(order_submission_enabled=False)


def test_a_kill_switch_thrown_elsewhere_refuses_the_next_order_at_once(api, network, market, maker):
    assert (
        api.post("/create_orders", signed_bid(network, market, maker), format="json").status_code
        == 201
    )
    _switch_off_elsewhere(network)

    response = api.post("/create_orders", signed_bid(network, market, maker), format="json")

    assert response.status_code == 400
    assert response.json()["code"] == 102


def test_a_kill_switch_thrown_elsewhere_refuses_the_next_trade_at_once(
    api, network, market, fees, maker, taker
):
    order = place(
        maker, give_token=market.base, give_amount=2 * ETH, take_token=market.quote,
        take_amount=4000 * ETH,
    )  # fmt: skip
    first = api.post("/create_trades", fill_payload(taker, order, 1000 * ETH), format="json")
    assert first.status_code == 201
    _switch_off_elsewhere(network)

    response = api.post("/create_trades", fill_payload(taker, order, 1000 * ETH), format="json")

    assert response.status_code == 400
    assert response.json()["code"] == 102
    assert Trade.objects.count() == 1


def test_an_accounts_history_pages_equal_the_single_query_history(
    network, market, fees, maker, taker
):
    rng = random.Random(8)
    for _ in range(12):
        owner, filler = (maker, taker) if rng.random() < 0.5 else (taker, maker)
        order = place(
            owner, give_token=market.base, give_amount=2 * ETH, take_token=market.quote,
            take_amount=4000 * ETH,
        )  # fmt: skip
        execute(network, [fill(filler, order, rng.randint(1, 4) * 100 * ETH)])
    account = address_of(maker)
    for ascending in (False, True):
        ordering = ("created_at", "id") if ascending else ("-created_at", "-id")
        expected = [
            str(id_)
            for id_ in Trade.objects.filter(Q(maker=account) | Q(taker=account))
            .order_by(*ordering)
            .values_list("id", flat=True)
        ]
        for per_page in (1, 5, 7, 100):
            got = []
            for page in range(1, 14):
                total, records = trade_list(
                    network=network,
                    page=PageRequest(page, per_page),
                    account=account,
                    ascending=ascending,
                )
                assert total == len(expected) == 12
                got += [record["id"] for record in records]
            assert got == expected
