"""The operator dashboard: markets with 24h volume, networks, and the switches."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from exchange.models import Market, MarketStatus, Network, Order, OrderSide, Trade

pytestmark = pytest.mark.django_db

URL = "/admin/dashboard/"


@pytest.fixture
def operator() -> Client:
    user = get_user_model().objects.create_superuser("op", "op@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client


def _trade(market: Market, index: int, quote: int, base: int, at=None) -> Trade:
    order = Order.objects.create(
        network=market.network,
        market=market,
        account="0x" + "11" * 20,
        give_token=market.quote,
        give_amount=quote,
        take_token=market.base,
        take_amount=base,
        nonce=index,
        expiry_ms=2**40,
        hash=f"0x{index:064x}",
        signature="0x",
        side=OrderSide.ASK,
        price=Decimal(1),
    )
    trade = Trade.objects.create(
        network=market.network,
        market=market,
        order=order,
        maker=order.account,
        taker="0x" + "22" * 20,
        give_token=market.quote,
        give_amount=quote,
        take_token=market.base,
        take_amount=base,
        hash=f"0x{index + 1000:064x}",
        nonce=index,
        signature="0x",
        price=Decimal(1),
        quote_amount=quote,
        base_amount=base,
        taker_side="buy",
    )
    if at is not None:
        Trade.objects.filter(pk=trade.pk).update(created_at=at)
    return trade


def test_the_admin_index_links_the_dashboard(operator):
    assert URL.encode() in operator.get("/admin/").content


def test_it_is_for_staff_only(api, network):
    assert api.get(URL).status_code == 302  # to the admin login


def test_it_shows_markets_with_their_24h_volume(operator, market):
    _trade(market, 1, quote=2 * 10**18, base=10**17)
    _trade(market, 2, quote=3 * 10**18, base=2 * 10**17)
    _trade(market, 3, quote=7 * 10**18, base=10**18, at=timezone.now() - timedelta(hours=25))
    response = operator.get(URL)
    assert response.status_code == 200
    (row,) = response.context["markets"]
    assert row["trades_24h"] == 2
    assert row["base_volume_24h"] == Decimal("0.3")
    assert row["quote_volume_24h"] == Decimal(5)
    page = response.content.decode()
    assert "ETH_TST" in page and "0.3 ETH" in page and "5 TST" in page


def test_it_halts_a_market_and_sets_it_cancel_only(operator, market):
    for status in (MarketStatus.HALTED, MarketStatus.CANCEL_ONLY, MarketStatus.TRADING):
        response = operator.post(
            URL, {"action": "market_status", "market": market.pk, "status": status}, follow=True
        )
        assert response.status_code == 200
        market.refresh_from_db()
        assert market.status == status


def test_it_refuses_an_unknown_status(operator, market):
    operator.post(URL, {"action": "market_status", "market": market.pk, "status": "BOGUS"})
    market.refresh_from_db()
    assert market.status == MarketStatus.TRADING


def test_it_disables_and_enables_order_submission(operator, network):
    operator.post(URL, {"action": "order_submission", "network": network.pk, "enabled": "0"})
    assert not Network.objects.get(pk=network.pk).order_submission_enabled
    response = operator.get(URL)
    assert "Enable order submission" in response.content.decode()
    operator.post(URL, {"action": "order_submission", "network": network.pk, "enabled": "1"})
    assert Network.objects.get(pk=network.pk).order_submission_enabled


def test_staff_without_the_permission_cannot_switch(market):
    user = get_user_model().objects.create_user("viewer", password="pw", is_staff=True)
    client = Client()
    client.force_login(user)
    response = client.post(
        URL, {"action": "market_status", "market": market.pk, "status": MarketStatus.HALTED}
    )
    assert response.status_code == 403
    market.refresh_from_db()
    assert market.status == MarketStatus.TRADING
