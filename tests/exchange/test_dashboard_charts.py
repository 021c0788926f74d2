"""The operator dashboard's charts (exchange/selectors/dashboard_charts.py): hour by hour
over the last 24 hours, from the trades, candles and transfers the services wrote."""

import re

import pytest
from django.utils import timezone

from exchange.models import SettlementStatus, Trade
from exchange.selectors.dashboard_charts import market_charts, network_charts
from tests.factories import DepositFactory
from tests.trading import execute, fill, place

pytestmark = pytest.mark.django_db


def _bars(svg: str, series: str) -> dict[str, str]:
    """{hour label: value} of one series' bars, read back from their tooltips."""
    return dict(re.findall(rf"<title>{series} (\d\dh): ([^<]+)</title>", svg))


@pytest.fixture
def two_trades(network, market, fees, maker, taker):
    order = place(
        maker,
        give_token=market.base,
        give_amount=10**16,
        take_token=market.quote,
        take_amount=20 * 10**18,
    )
    execute(network, [fill(taker, order, 5 * 10**18)])
    execute(network, [fill(taker, order, 5 * 10**18)])
    return order


def test_the_settlement_backlog_counts_trades_booked_and_not_settled(network, two_trades):
    now = timezone.now()
    hour = f"{now:%H}h"  # the last bucket, ending now: every trade booked so far
    _, backlog = network_charts(network, now=now)
    assert _bars(str(backlog), "trades not settled")[hour] == "2"

    first = Trade.objects.order_by("id").first()
    Trade.objects.filter(pk=first.pk).update(
        settlement_status=SettlementStatus.SETTLED, settled_at=now
    )
    later = timezone.now()
    _, backlog = network_charts(network, now=later)
    assert _bars(str(backlog), "trades not settled")[f"{later:%H}h"] == "1"


def test_deposits_and_withdrawals_per_hour(network, ether):
    deposits = DepositFactory.create_batch(3, network=network, token=ether)
    transfers, _ = network_charts(network, now=timezone.now())
    hours = sorted({f"{deposit.created_at:%H}h" for deposit in deposits})
    assert sum(int(n) for n in _bars(str(transfers), "deposits").values()) == 3
    assert sorted(_bars(str(transfers), "deposits")) == hours
    assert _bars(str(transfers), "withdrawals") == {}


def test_a_market_chart_draws_the_price_and_the_volume(market, two_trades):
    [(charted, chart)] = market_charts(now=timezone.now(), busiest=[market])
    svg = str(chart)
    assert charted == market
    assert "price (ETH per TST)" in svg and "<circle" in svg  # one hour with trades: a dot
    volume = _bars(svg, r"volume \(ETH\)")
    assert list(volume.values()) == ["0.005"]  # 10 TST at 0.0005 ETH


def test_the_dashboard_shows_the_charts_and_refreshes_itself(admin_client, network, two_trades):
    page = admin_client.get("/admin/dashboard/").content.decode()
    assert page.count('<svg class="chart"') == 3  # transfers, backlog, one market
    assert "window.location.reload()" in page
    assert "<script src=" not in page.split('id="charts"')[1]  # nothing fetched
