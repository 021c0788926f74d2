"""The operator dashboard's charts (exchange/selectors/dashboard_charts.py): hour by hour
over the last 24 hours, from the trades, candles and transfers the services wrote."""

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from exchange.models import SettlementStatus, Trade, Transfer, TransferKind, TransferStatus
from exchange.selectors.dashboard_charts import (
    HOURS,
    deposit_credit_delays,
    market_charts,
    network_charts,
)
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
    _, backlog, _ = network_charts(network, now=now)
    assert _bars(str(backlog), "trades not settled")[hour] == "2"

    first = Trade.objects.order_by("id").first()
    Trade.objects.filter(pk=first.pk).update(
        settlement_status=SettlementStatus.SETTLED, settled_at=now
    )
    later = timezone.now()
    _, backlog, _ = network_charts(network, now=later)
    assert _bars(str(backlog), "trades not settled")[f"{later:%H}h"] == "1"


def test_deposits_and_withdrawals_per_hour(network, ether):
    deposits = DepositFactory.create_batch(3, network=network, token=ether)
    transfers, _, _ = network_charts(network, now=timezone.now())
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
    # transfers, backlog, credit delay, one market
    assert page.count('<svg class="chart"') == 4
    assert "window.location.reload()" in page
    assert "<script src=" not in page.split('id="charts"')[1]  # nothing fetched


def _at(hour: int, minute: int, second: float = 0, day: int = 10) -> datetime:
    return datetime(2030, 3, day, hour, minute, tzinfo=UTC) + timedelta(seconds=second)


def test_the_deposit_credit_delay_per_hour_against_hand_computed_figures(network, ether):
    now = _at(12, 20)  # a fixed day: the window is 2030-03-09 13:00 to 2030-03-10 13:00
    rows = [
        # (seen, credited, status, kind)
        (_at(11, 10), _at(11, 10, 30), TransferStatus.COMPLETE, TransferKind.DEPOSIT),  # 30 s
        (_at(11, 40), _at(11, 41), TransferStatus.COMPLETE, TransferKind.DEPOSIT),  # 60 s
        (_at(11, 59, 50), _at(12, 0, 15), TransferStatus.COMPLETE, TransferKind.DEPOSIT),  # 25 s
        (_at(12, 10), _at(12, 10, 2.25), TransferStatus.COMPLETE, TransferKind.DEPOSIT),  # 2.25 s
        # Not counted: still pending, credited before the window, a withdrawal, failed.
        (_at(12, 5), _at(12, 5), TransferStatus.PENDING, TransferKind.DEPOSIT),
        (_at(12, 50, day=9), _at(12, 59, day=9), TransferStatus.COMPLETE, TransferKind.DEPOSIT),
        (_at(11, 0), _at(11, 30), TransferStatus.COMPLETE, TransferKind.WITHDRAWAL),
        (_at(11, 0), _at(11, 50), TransferStatus.FAILED, TransferKind.DEPOSIT),
    ]
    for seen, credited, status, kind in rows:
        deposit = DepositFactory(network=network, token=ether)
        Transfer.objects.filter(pk=deposit.pk).update(
            created_at=seen, updated_at=credited, status=status, kind=kind
        )

    mean, longest, counts = deposit_credit_delays(network, now=now)
    # Index HOURS - 1 is 12h (12:00-13:00), HOURS - 2 is 11h.
    assert counts[-2:] == [2, 2] and sum(counts) == 4
    assert mean[-2:] == [Decimal("45.0"), Decimal("13.6")]  # (30+60)/2, (25+2.25)/2 = 13.625
    assert longest[-2:] == [Decimal("60.0"), Decimal("25.0")]
    assert mean[: HOURS - 2] == [0] * (HOURS - 2) and longest[: HOURS - 2] == [0] * (HOURS - 2)

    _, _, chart = network_charts(network, now=now)
    assert _bars(str(chart), "mean s") == {"11h": "45", "12h": "13.6"}
    assert _bars(str(chart), "longest s") == {"11h": "60", "12h": "25"}
