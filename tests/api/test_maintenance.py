"""Issue #16: the exchange-wide read-only switch. While a Maintenance period is open
every write endpoint answers code 102 with the operator's reason and changes nothing;
reads are served; the dashboard shows a banner; ended, writes work again."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from exchange.models import Maintenance, Order, OrderStatus, Transfer
from exchange.services.maintenance import maintenance_end, maintenance_start
from tests.api.test_cancel_all import signed_cancel_all
from tests.api.test_orders import bid
from tests.api.test_transfers import withdrawal_payload
from tests.signing import address_of, signed_cancel
from tests.trading import fill_payload, place, snapshot

pytestmark = pytest.mark.django_db

ETH = 10**18
REASON = "Database upgrade, back at 08:00 UTC"
REFUSAL = {
    "code": 102,
    "reason": (
        f"The exchange is read-only for maintenance: {REASON}. Writes are refused; reads are served"
    ),
}


@pytest.fixture
def resting(market, maker) -> Order:
    return place(
        maker, give_token=market.base, give_amount=2 * ETH, take_token=market.quote,
        take_amount=4000 * ETH,
    )  # fmt: skip


@pytest.fixture
def on():
    period = maintenance_start(reason=REASON, by="op")
    yield period
    maintenance_end(by="op")


def _writes(network, market, maker, taker, resting) -> dict[str, object]:
    return {
        "/create_orders": bid(network, market, taker),
        "/delete_orders": signed_cancel(maker, order_hash=resting.hash),
        "/cancel_all_orders": signed_cancel_all(maker, network=network),
        "/create_trades": fill_payload(taker, resting, 1000 * ETH),
        "/create_transfers": withdrawal_payload(
            taker, network=network, token=market.quote, amount=ETH
        ),
    }


def test_every_write_is_refused_with_102_and_the_reason_and_nothing_changes(
    api, network, market, fees, maker, taker, resting, on
):
    before = (snapshot(), Transfer.objects.count())
    for url, payload in _writes(network, market, maker, taker, resting).items():
        response = api.post(url, payload, format="json")
        assert (url, response.status_code, response.json()) == (url, 400, REFUSAL)
    batch = api.post(
        "/delete_orders", [signed_cancel(maker, order_hash=resting.hash)], format="json"
    )
    assert (batch.status_code, batch.json()) == (400, REFUSAL)
    assert (snapshot(), Transfer.objects.count()) == before


def test_reads_are_served_during_maintenance(api, network, market, maker, resting, on):
    assert api.get("/tokens").status_code == 200
    assert api.get("/markets").status_code == 200
    assert api.get(f"/accounts/{address_of(maker)}").status_code == 200
    orders = api.post("/get_orders", {"orderHash": resting.hash}, format="json")
    assert orders.status_code == 200
    assert api.post("/get_orderbook", {"market": market.name}, format="json").status_code == 200
    assert api.post("/get_trades", {"account": address_of(maker)}, format="json").status_code == 200


def test_writes_work_again_once_maintenance_ends(api, network, market, fees, maker, taker, resting):
    maintenance_start(reason=REASON, by="op")
    refused = api.post("/create_orders", bid(network, market, taker), format="json")
    assert refused.json() == REFUSAL
    assert maintenance_end(by="op") == 1

    writes = _writes(network, market, maker, taker, resting)
    assert api.post("/create_orders", writes["/create_orders"], format="json").status_code == 201
    trade = api.post("/create_trades", writes["/create_trades"], format="json")
    assert trade.status_code == 201
    transfer = api.post("/create_transfers", writes["/create_transfers"], format="json")
    assert transfer.status_code == 200
    cancel = api.post("/delete_orders", writes["/delete_orders"], format="json")
    assert cancel.status_code == 200
    resting.refresh_from_db()
    assert resting.status == OrderStatus.CANCELLED


def test_only_one_period_is_open_at_a_time(on):
    with pytest.raises(ValueError):
        maintenance_start(reason="again")
    assert Maintenance.objects.filter(ended_at__isnull=True).count() == 1


def test_the_dashboard_shows_the_banner_while_on_and_not_after():
    user = get_user_model().objects.create_superuser("op", "op@example.com", "pw")
    client = Client()
    client.force_login(user)
    assert 'id="maintenance"' not in client.get("/admin/dashboard/").content.decode()

    maintenance_start(reason=REASON, by="op")
    page = client.get("/admin/dashboard/").content.decode()
    assert 'id="maintenance"' in page
    assert "Read-only for maintenance" in page and REASON in page

    maintenance_end(by="op")
    assert 'id="maintenance"' not in client.get("/admin/dashboard/").content.decode()


def test_the_admin_turns_it_on_with_a_reason_and_ends_it():
    user = get_user_model().objects.create_superuser("op", "op@example.com", "pw")
    client = Client()
    client.force_login(user)
    response = client.post("/admin/exchange/maintenance/add/", {"reason": REASON})
    assert response.status_code == 302
    period = Maintenance.objects.get()
    assert (period.started_by, period.ended_at) == ("op", None)

    client.post(
        "/admin/exchange/maintenance/",
        {"action": "end_maintenance", "_selected_action": [period.pk]},
    )
    period.refresh_from_db()
    assert (period.ended_by, period.ended_at is not None) == ("op", True)
